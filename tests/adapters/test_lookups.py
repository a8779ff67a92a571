"""Looking one person's accounts up in each app, against real servers on 127.0.0.1.

A targeted cycle finds a changed user's accounts without listing the app (issue 16). For every
app, scim2-server and our Slack, Atlassian and Zendesk emulators, the lookup must return
exactly the accounts `observe` lists that match: externalId compared exactly, userName and
work email ignoring case. Each test seeds the same few people by hand (behind the API's back,
so some have no externalId) and checks found, not found, case, quoting, and the whole
agreement with `observe`, or `LookupUnsupportedError` where the vendor has no faithful means.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from scim2_models import Email, EnterpriseUser, User

from controller import errors
from controller.model import AppName, ObservedAccount
from emulators import serving
from emulators.atlassian import AtlassianSettings, make_atlassian_app, scim_base
from emulators.scim_app import ScimApp
from emulators.slack import SlackSettings, make_slack_app
from emulators.zendesk import ZendeskSettings, make_zendesk_app
from reconcilers import REGISTRY
from reconcilers.base import LOOKUP_ATTRIBUTES, AppConnection, account_matches
from tests.conftest import SCIM_TOKEN

TOKEN = "lookup-test-token"
EXTERNAL_ID, USER_NAME, EMAIL = LOOKUP_ATTRIBUTES
Add = Callable[[str, str, str | None], None]
"""Make an account by hand: (userName, work email, externalId or None)."""
QUOTED_NAME = 'O"Brien\\x'
QUOTED_ID = '005"\\Q'
QUOTED_EMAIL = "o'brien@orion.example"


@dataclass
class World:
    kind: str
    adapter: Any
    """The app's reconciler: an `AppReconciler` and an `AccountLookup`."""
    ada_name: str
    """The userName the app holds for Ada (Slack shapes it, Zendesk's is the email)."""

    async def where(self, attribute: str, value: str) -> tuple[ObservedAccount, ...]:
        found: tuple[ObservedAccount, ...] = await self.adapter.accounts_where(attribute, value)
        return found

    def unsupported(self, attribute: str, value: str) -> bool:
        """Where the vendor offers no faithful lookup, and `LookupUnsupportedError` is right."""
        if self.kind == "atlassian":
            return attribute == EMAIL  # its one `eq` filter takes externalId or userName only
        if self.kind == "zendesk":  # its search syntax cannot quote a double quote
            return attribute == USER_NAME and any(c in value for c in '" ')
        return False


def seed(add: Add) -> None:
    add("Ada.Lovelace", "Ada.Lovelace@orion.example", "005AAA")
    add("grace", "grace@orion.example", "005BBB")
    add("hand.made", "Hand.Made@orion.example", None)
    add(QUOTED_NAME, QUOTED_EMAIL, QUOTED_ID)


def connect(kind: str, endpoint: str, token: str) -> Any:
    connection = AppConnection(AppName(kind), endpoint, token=token, page_size=2)
    return REGISTRY[kind].factory(connection)


@contextlib.contextmanager
def scim(request: pytest.FixtureRequest) -> Iterator[tuple[Add, str, str]]:
    app: ScimApp = request.getfixturevalue("scim_app")

    def add(user_name: str, email: str, external_id: str | None) -> None:
        emails = [Email(value=email, type=Email.Type.work, primary=True)]
        app.add(User[EnterpriseUser](user_name=user_name, emails=emails, external_id=external_id))

    yield add, request.getfixturevalue("scim_server"), SCIM_TOKEN


@contextlib.contextmanager
def slack() -> Iterator[tuple[Add, str, str]]:
    app = make_slack_app(SlackSettings(token=TOKEN))

    def add(user_name: str, email: str, external_id: str | None) -> None:
        app.add_user(user_name, email, external_id=external_id or "")

    with serving.serve(app) as root:
        yield add, f"{root}/scim/v2", TOKEN


@contextlib.contextmanager
def atlassian() -> Iterator[tuple[Add, str, str]]:
    settings = AtlassianSettings(token=TOKEN)
    app = make_atlassian_app(settings)

    def add(user_name: str, email: str, external_id: str | None) -> None:
        app.add_user(user_name, email, user_name.title(), external_id=external_id)

    with serving.serve(app) as root:
        yield add, scim_base(root, settings), TOKEN


@contextlib.contextmanager
def zendesk() -> Iterator[tuple[Add, str, str]]:
    app = make_zendesk_app(ZendeskSettings(token=TOKEN))

    def add(user_name: str, email: str, external_id: str | None) -> None:
        app.add_user(user_name, email, external_id=external_id)

    with serving.serve(app) as root:
        yield add, f"{root}/api/v2", TOKEN


ADA = {
    "scim": "Ada.Lovelace",
    "slack": "ada.lovelace",
    "atlassian": "Ada.Lovelace",
    "zendesk": "ada.lovelace@orion.example",
}


@pytest.fixture(params=sorted(ADA))
async def world(request: pytest.FixtureRequest) -> AsyncIterator[World]:
    kind: str = request.param
    emulated = {"slack": slack, "atlassian": atlassian, "zendesk": zendesk}
    with scim(request) if kind == "scim" else emulated[kind]() as (add, endpoint, token):
        seed(add)
        adapter = connect(kind, endpoint, token)
        try:
            yield World(kind, adapter, ADA[kind])
        finally:
            await adapter.aclose()


async def test_found_by_external_id_compared_exactly(world: World) -> None:
    (ada,) = await world.where(EXTERNAL_ID, "005AAA")
    assert (ada.user_name, ada.external_id, ada.active) == (world.ada_name, "005AAA", True)
    assert await world.where(EXTERNAL_ID, "005aaa") == ()  # Zendesk's filter ignores case
    (quoted,) = await world.where(EXTERNAL_ID, QUOTED_ID)
    assert quoted.external_id == QUOTED_ID


async def test_found_by_user_name_ignoring_case(world: World) -> None:
    (ada,) = await world.where(EXTERNAL_ID, "005AAA")
    assert await world.where(USER_NAME, world.ada_name.upper()) == (ada,)
    assert await world.where(USER_NAME, world.ada_name.lower()) == (ada,)
    (unlinked,) = [a for a in (await world.adapter.observe()).accounts if not a.external_id]
    assert await world.where(USER_NAME, unlinked.user_name.swapcase()) == (unlinked,)


async def test_found_by_work_email_where_the_app_has_one(world: World) -> None:
    (ada,) = await world.where(EXTERNAL_ID, "005AAA")
    if world.kind == "atlassian":
        with pytest.raises(errors.LookupUnsupportedError):
            await world.where(EMAIL, "ada.lovelace@orion.example")
    elif world.kind == "zendesk":  # the email is the userName; no account has emails.work
        assert await world.where(EMAIL, "ada.lovelace@orion.example") == ()
        assert await world.where(USER_NAME, "ADA.LOVELACE@orion.example") == (ada,)
    else:
        assert await world.where(EMAIL, "ada.lovelace@ORION.example") == (ada,)


async def test_nobody_found_is_empty(world: World) -> None:
    for attribute in LOOKUP_ATTRIBUTES:
        for value in ("nobody@orion.example", "005ZZZ", "", "005AA", "ada"):
            if world.unsupported(attribute, value):
                continue
            assert await world.where(attribute, value) == (), (attribute, value)


async def test_values_holding_quotes_and_backslashes_are_quoted(world: World) -> None:
    observed = (await world.adapter.observe()).accounts
    (quoted,) = [a for a in observed if a.external_id == QUOTED_ID]
    if world.kind in ("scim", "atlassian"):
        assert quoted.user_name == QUOTED_NAME
        assert await world.where(USER_NAME, QUOTED_NAME.lower()) == (quoted,)
    if world.kind == "zendesk":
        assert await world.where(USER_NAME, QUOTED_EMAIL.upper()) == (quoted,)
        with pytest.raises(errors.LookupUnsupportedError):
            await world.where(USER_NAME, 'o"brien@orion.example')
    if world.kind in ("scim", "slack"):
        assert await world.where(EMAIL, QUOTED_EMAIL) == (quoted,)
    with pytest.raises(ValueError, match="looked up by"):
        await world.where("displayName", "Ada")


async def test_every_lookup_is_the_matching_part_of_observe(world: World) -> None:
    observed = await world.adapter.observe()
    assert observed.ok and len(observed.accounts) == 4
    values = {"nobody", "005ZZZ", 'x"y', "back\\slash"}
    for account in observed.accounts:
        values |= {account.user_name, account.external_id or "", account.attributes.get(EMAIL, "")}
    for attribute in LOOKUP_ATTRIBUTES:
        for value in sorted(v for given in values for v in (given, given.swapcase())):
            if world.unsupported(attribute, value):
                with pytest.raises(errors.LookupUnsupportedError):
                    await world.where(attribute, value)
                continue
            wanted = [a for a in observed.accounts if account_matches(a, attribute, value)]
            found = await world.where(attribute, value)
            assert sorted(found, key=by_id) == sorted(wanted, key=by_id), (attribute, value)


def by_id(account: ObservedAccount) -> str:
    return account.id
