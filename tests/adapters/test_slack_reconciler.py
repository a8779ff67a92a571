"""The Slack adapter against the Slack emulator: Slack's write discipline and its refusals.

Slack allows one write to a user or group at a time and answers a second with 429
`resource_locked`; the adapter must never provoke that, even when a plan adds many members to
one group at once. Its refusals (a taken email or name) must arrive as conflicts naming Slack's
error code, for the one operation, so the rest of the plan goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

from controller import errors
from controller.model import AccountId, AppName, SourceUserId
from controller.operations import Operation, OpKind
from emulators import serving
from emulators.slack import SlackApp, SlackSettings, make_slack_app
from reconcilers import REGISTRY
from reconcilers.base import AppConnection, AppReconciler

APP = AppName("slack")
TOKEN = "xoxp-test-token"


@contextlib.asynccontextmanager
async def slack(**settings: Any) -> AsyncIterator[tuple[SlackApp, AppReconciler]]:
    app = make_slack_app(SlackSettings(token=TOKEN, **settings))
    with serving.serve(app) as root:
        connection = AppConnection(app=APP, endpoint=f"{root}/scim/v2", token=TOKEN)
        adapter = REGISTRY["slack"].factory(connection)
        try:
            yield app, adapter
        finally:
            await adapter.aclose()


def op(kind: OpKind, **fields: Any) -> Operation:
    return Operation(kind, APP, **fields)


async def create(adapter: AppReconciler, n: int) -> AccountId:
    attributes = {"userName": f"user{n}", "emails.work": f"user{n}@orion.example"}
    applied = await adapter.apply(
        op(OpKind.CREATE, source_id=SourceUserId(f"005{n:03d}"), attributes=attributes)
    )
    assert applied.resource_id
    return AccountId(applied.resource_id)


async def test_many_members_added_to_one_group_at_once_never_meet_slacks_lock() -> None:
    async with slack(write_latency=0.05) as (app, adapter):
        accounts = [await create(adapter, n) for n in range(8)]
        group = await adapter.apply(op(OpKind.CREATE_GROUP, group="eng"))
        assert group.resource_id
        adds = [
            adapter.apply(op(OpKind.ADD_MEMBER, account_id=a, group_id=group.resource_id))
            for a in accounts
        ]
        await asyncio.gather(*adds)
        seen = await adapter.observe()
    assert app.locked_refusals == 0
    (eng,) = seen.groups
    assert eng.members == set(accounts)


async def test_concurrent_adds_to_one_group_go_in_few_patches() -> None:
    async with slack() as (app, adapter):
        accounts = [await create(adapter, n) for n in range(8)]
        group = await adapter.apply(op(OpKind.CREATE_GROUP, group="eng"))
        assert group.resource_id
        writes_before = app.writes
        await asyncio.gather(
            *(
                adapter.apply(op(OpKind.ADD_MEMBER, account_id=a, group_id=group.resource_id))
                for a in accounts
            )
        )
        (eng,) = app.groups()
    assert {member["value"] for member in eng["members"]} == set(accounts)
    assert app.writes - writes_before < len(accounts)


async def test_a_member_slack_refuses_fails_alone_in_its_batch() -> None:
    async with slack(write_latency=0.05) as (app, adapter):
        accounts = [await create(adapter, n) for n in range(4)]
        group = await adapter.apply(op(OpKind.CREATE_GROUP, group="eng"))
        assert group.resource_id
        members = [*accounts, AccountId("UNOSUCHUSER")]
        results = await asyncio.gather(
            *(
                adapter.apply(op(OpKind.ADD_MEMBER, account_id=a, group_id=group.resource_id))
                for a in members
            ),
            return_exceptions=True,
        )
        (eng,) = app.groups()
    assert [isinstance(result, errors.AppError) for result in results] == [False] * 4 + [True]
    assert {member["value"] for member in eng["members"]} == set(accounts)


async def test_a_taken_email_is_a_conflict_naming_slacks_code() -> None:
    async with slack() as (app, adapter):
        app.add_user("someone", "user1@orion.example", active=False)
        with pytest.raises(errors.ConflictError, match="email_taken"):
            await create(adapter, 1)
        assert len(app.users()) == 1


async def test_a_channel_name_is_a_taken_user_name() -> None:
    async with slack() as (_, adapter):
        attributes = {"userName": "general", "emails.work": "general@orion.example"}
        with pytest.raises(errors.ConflictError, match="username_taken"):
            await adapter.apply(op(OpKind.CREATE, source_id="005X", attributes=attributes))


async def test_deactivated_users_are_observed_and_reactivated_in_place() -> None:
    async with slack() as (app, adapter):
        account = await create(adapter, 1)
        await adapter.apply(op(OpKind.SUSPEND, account_id=account))
        (seen,) = (await adapter.observe()).accounts
        assert seen.active is False and seen.external_id == "005001"
        await adapter.apply(op(OpKind.ACTIVATE, account_id=account))
    (user,) = app.users()
    assert user["id"] == account and user["active"] is True


async def test_an_empty_external_id_reads_as_no_link() -> None:
    async with slack() as (app, adapter):
        app.add_user("ada", "ada@orion.example")
        (seen,) = (await adapter.observe()).accounts
    assert seen.external_id is None


async def test_a_member_id_that_cannot_be_sent_fails_alone_and_hangs_nothing() -> None:
    async with slack() as (app, adapter):
        accounts = [await create(adapter, n) for n in range(3)]
        group = await adapter.apply(op(OpKind.CREATE_GROUP, group="eng"))
        assert group.resource_id
        for account in accounts:
            await adapter.apply(
                op(OpKind.ADD_MEMBER, account_id=account, group_id=group.resource_id)
            )
        removals = [*accounts[:2], AccountId('U"QUOTED')]
        results = await asyncio.wait_for(
            asyncio.gather(
                *(
                    adapter.apply(
                        op(OpKind.REMOVE_MEMBER, account_id=a, group_id=group.resource_id)
                    )
                    for a in removals
                ),
                return_exceptions=True,
            ),
            timeout=60,  # a hang is the failure this guards against, not a speed check
        )
        (eng,) = app.groups()
    assert [type(result).__name__ for result in results] == [
        "Applied",
        "Applied",
        "BadRequestError",
    ]
    assert [member["value"] for member in eng["members"]] == [accounts[2]]
