"""The Zendesk reconciler against the Zendesk emulator over a socket: what it stores and sees.

Zendesk is not SCIM: users page by cursor, a create is an upsert keyed by external_id, a
suspension is `suspended: true` (never a deletion), roles include custom roles, and group
memberships are records of their own that only agents may have.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from controller import errors
from controller.model import AccountId, AppName, SourceUserId
from controller.operations import Operation, OpKind
from emulators import serving
from emulators.limits import Limit
from emulators.zendesk import ZendeskApp, ZendeskSettings, make_zendesk_app
from reconcilers.base import AppConnection
from reconcilers.zendesk import ZendeskReconciler, mapping

APP = AppName("zendesk")
TOKEN = "zendesk-test-token"


@pytest.fixture
def zendesk() -> Iterator[tuple[ZendeskApp, str]]:
    app = make_zendesk_app(ZendeskSettings(token=TOKEN))
    with serving.serve(app) as root:
        yield app, f"{root}/api/v2"


@contextlib.asynccontextmanager
async def reconciler(url: str, *, token: str = TOKEN) -> AsyncIterator[ZendeskReconciler]:
    connection = AppConnection(app=APP, endpoint=url, token=token, page_size=7)
    adapter = ZendeskReconciler(connection)
    try:
        yield adapter
    finally:
        await adapter.aclose()


def op(kind: OpKind, **fields: Any) -> Operation:
    return Operation(kind, APP, **fields)


async def create(adapter: ZendeskReconciler, source_id: str, **attributes: Any) -> AccountId:
    operation = op(OpKind.CREATE, source_id=SourceUserId(source_id), attributes=attributes)
    applied = await adapter.apply(operation)
    assert applied.resource_id
    return AccountId(applied.resource_id)


async def test_observe_pages_every_user_group_and_membership(
    zendesk: tuple[ZendeskApp, str],
) -> None:
    app, url = zendesk
    for n in range(20):
        app.add_user(f"User {n}", f"user{n:02d}@orion.example", role="agent")
    app.edit_user(app.users()[3]["id"], suspended=True)
    tier = app.add_group("Tier 1")
    async with reconciler(url) as adapter:
        await adapter.apply(
            op(OpKind.ADD_MEMBER, account_id=str(app.users()[0]["id"]), group_id=str(tier["id"]))
        )
        seen = await adapter.observe()
    assert seen.error is None
    assert len(seen.accounts) == 20  # three pages of 7
    assert sum(1 for account in seen.accounts if not account.active) == 1
    (group,) = seen.groups
    assert group.name == "Tier 1" and group.members == {AccountId(str(app.users()[0]["id"]))}


async def test_create_is_an_upsert_by_external_id_so_a_retry_makes_no_second_user(
    zendesk: tuple[ZendeskApp, str],
) -> None:
    app, url = zendesk
    attributes = {"userName": "ada@orion.example", "displayName": "Ada", "role": "agent"}
    async with reconciler(url) as adapter:
        first = await create(adapter, "005A", **attributes)
        again = await create(adapter, "005A", **attributes)
    assert first == again
    (user,) = app.users()
    assert user["external_id"] == "005A" and user["role"] == "agent"


async def test_a_custom_role_by_name_makes_an_agent_with_that_role(
    zendesk: tuple[ZendeskApp, str],
) -> None:
    app, url = zendesk
    async with reconciler(url) as adapter:
        account = await create(
            adapter, "005A", userName="ada@orion.example", displayName="Ada", role="Team Lead"
        )
        seen = await adapter.observe()
    user = app.user_by_email("ada@orion.example")
    assert user is not None and user["role"] == "agent" and user["custom_role_id"] == 360000001
    (observed,) = seen.accounts
    assert observed.id == account and observed.attributes["role"] == "Team Lead"


async def test_an_unknown_role_is_refused_before_anything_is_sent(
    zendesk: tuple[ZendeskApp, str],
) -> None:
    app, url = zendesk
    async with reconciler(url) as adapter:
        with pytest.raises(errors.BadRequestError, match="no Zendesk role or custom role"):
            await create(adapter, "005A", userName="a@orion.example", displayName="A", role="x")
    assert app.users() == []


async def test_suspend_sets_suspended_and_never_deletes(zendesk: tuple[ZendeskApp, str]) -> None:
    app, url = zendesk
    async with reconciler(url) as adapter:
        account = await create(adapter, "005A", userName="ada@orion.example", displayName="Ada")
        await adapter.apply(op(OpKind.SUSPEND, account_id=account))
        suspended = app.user_by_email("ada@orion.example")
        assert suspended is not None and suspended["suspended"] and suspended["active"]
        assert (await adapter.observe()).accounts[0].active is False
        await adapter.apply(op(OpKind.ACTIVATE, account_id=account))
    back = app.user_by_email("ada@orion.example")
    assert back is not None and not back["suspended"] and back["active"]


async def test_memberships_are_added_and_removed_by_their_own_ids(
    zendesk: tuple[ZendeskApp, str],
) -> None:
    app, url = zendesk
    group = app.add_group("Escalations")
    async with reconciler(url) as adapter:
        account = await create(
            adapter, "005A", userName="ada@orion.example", displayName="Ada", role="agent"
        )
        add = op(OpKind.ADD_MEMBER, account_id=account, group_id=str(group["id"]))
        await adapter.apply(add)
    assert app.group_names_of(int(account)) == {"Escalations"}
    async with reconciler(url) as fresh:  # has not observed: must look the membership up
        await fresh.apply(op(OpKind.REMOVE_MEMBER, account_id=account, group_id=str(group["id"])))
    assert app.group_names_of(int(account)) == set()


async def test_a_membership_past_the_first_page_is_found_and_a_cut_listing_is_an_error(
    zendesk: tuple[ZendeskApp, str],
) -> None:
    app, url = zendesk
    groups = [app.add_group(f"Team {i}") for i in range(101)]  # one more than a Zendesk page
    async with reconciler(url) as adapter:
        account = await create(
            adapter, "005A", userName="ada@orion.example", displayName="Ada", role="agent"
        )
        for group in groups:
            await adapter.apply(
                op(OpKind.ADD_MEMBER, account_id=account, group_id=str(group["id"]))
            )
    last = op(OpKind.REMOVE_MEMBER, account_id=account, group_id=str(groups[-1]["id"]))
    cut = AppConnection(app=APP, endpoint=url, token=TOKEN, page_size=7, max_pages=2)
    short = ZendeskReconciler(cut)  # has not observed, and may read only 2 pages of 7
    try:
        with pytest.raises(errors.IncompleteListingError, match="after 2 pages"):
            await short.apply(last)
    finally:
        await short.aclose()
    assert "Team 100" in app.group_names_of(int(account))  # never taken for "already gone"
    async with reconciler(url) as fresh:  # has not observed: must page to the 101st
        await fresh.apply(last)
    assert len(app.group_names_of(int(account))) == 100
    assert "Team 100" not in app.group_names_of(int(account))


async def test_an_end_user_cannot_join_a_group(zendesk: tuple[ZendeskApp, str]) -> None:
    app, url = zendesk
    group = app.add_group("Tier 1")
    async with reconciler(url) as adapter:
        account = await create(adapter, "005A", userName="ada@orion.example", displayName="Ada")
        with pytest.raises(errors.BadRequestError, match="HTTP 422"):
            await adapter.apply(
                op(OpKind.ADD_MEMBER, account_id=account, group_id=str(group["id"]))
            )


async def test_a_wrong_token_stalls_without_printing_it(zendesk: tuple[ZendeskApp, str]) -> None:
    _, url = zendesk
    async with reconciler(url, token="wrong-secret-token") as adapter:
        seen = await adapter.observe()
    assert seen.error is not None and "HTTP 401" in seen.error
    assert "wrong-secret-token" not in seen.error


async def test_rate_limits_are_waited_out_and_nothing_is_lost_or_doubled() -> None:
    app = make_zendesk_app(ZendeskSettings(token=TOKEN, plan_limit=Limit(600, 2)))
    with serving.serve(app) as root:
        async with reconciler(f"{root}/api/v2") as adapter:
            for n in range(12):
                await create(adapter, f"005{n:02d}", userName=f"u{n}@o.example", displayName="U")
            seen = await adapter.observe()
    assert app.limiter.refused > 0
    assert len(seen.accounts) == len({user["email"] for user in app.users()}) == 12


def test_a_name_or_role_that_is_not_text_is_read_as_no_value() -> None:
    """Issue 17 (the parser fuzz's property): a `name` or `role` of another JSON type went
    into the account as a list or object for the planner to compare and print; Zendesk's are
    strings, so anything else is read as no value, and the planner writes the wanted one."""
    user = {"id": 7, "email": "Ada@Orion.example", "name": ["Ada"], "role": {"x": 1}}
    account = mapping.observed_account(user, {})
    assert account.attributes == {
        "userName": "ada@orion.example",
        "displayName": None,
        "role": None,
    }
    custom = mapping.observed_account({**user, "name": "Ada", "custom_role_id": 3}, {3: "Lead"})
    assert custom.attributes["displayName"] == "Ada" and custom.attributes["role"] == "Lead"
