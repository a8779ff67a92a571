"""Lookups at their edges: servers that cannot filter, results over a page, Zendesk's odd users.

A SCIM server that cannot filter must make a lookup raise `LookupUnsupportedError` (the engine
then lists the app), never an error that fails the cycle nor an empty answer that hides an
account. Filtered results are paged and bounded as listings are. Zendesk users without an
email, soft-deleted users and custom roles come back exactly as `observe` shows them.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
from scim2_models import Email, EnterpriseUser, Filter, ScimProvider, User
from scim2_server.applications.asgi import ASGIApplication
from scim2_server.memory import AsyncInMemoryStorage, InMemoryStorage
from scim2_server.utils import (
    load_default_resource_types,
    load_default_schemas,
    load_default_service_provider_config,
)

from controller import errors
from controller.model import AppName
from emulators import requests_log, serving
from emulators import scim_app as emulator
from emulators.zendesk import ZendeskApp, ZendeskSettings, make_zendesk_app
from reconcilers.base import AppConnection
from reconcilers.scim import ScimReconciler
from reconcilers.scim.client import RetryPolicy, ScimClient
from reconcilers.zendesk import ZendeskReconciler
from reconcilers.zendesk.client import ZendeskClient
from tests.conftest import SCIM_TOKEN

Mount = Callable[[emulator.ASGIApp], str]
Reply = tuple[int, dict[str, Any]]
TOKEN = "zendesk-lookup-token"


class Refusing:
    """The app behind a recorder that answers GET /Users?filter=... with `reply`, if given."""

    def __init__(
        self, app: emulator.ASGIApp, *, reply: Reply | None = None, hide_config: bool = False
    ):
        self.app, self.reply, self.hide_config = app, reply, hide_config
        self.requests: list[tuple[str, dict[str, list[str]]]] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        query = parse_qs(scope["query_string"].decode())
        self.requests.append((scope["path"], query))
        answer = None
        if self.hide_config and scope["path"].endswith("/ServiceProviderConfig"):
            answer = (404, {"status": "404", "detail": "not here"})
        elif self.reply is not None and scope["path"].endswith("/Users") and "filter" in query:
            answer = self.reply
        if answer is None:
            return await self.app(scope, receive, send)
        headers = [(b"content-type", b"application/scim+json")]
        await send({"type": "http.response.start", "status": answer[0], "headers": headers})
        await send({"type": "http.response.body", "body": json.dumps(answer[1]).encode()})

    def filtered(self) -> list[dict[str, list[str]]]:
        return [query for path, query in self.requests if "filter" in query]


@contextlib.asynccontextmanager
async def scim_at(
    url: str, *, page_size: int = 7
) -> AsyncIterator[tuple[ScimReconciler, list[float]]]:
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    connection = AppConnection(AppName("tool"), url, token=SCIM_TOKEN, page_size=page_size)
    reconciler = ScimReconciler(
        connection, client=ScimClient(connection, retry=RetryPolicy(), sleep=sleep)
    )
    try:
        yield reconciler, sleeps
    finally:
        await reconciler.aclose()


def without_filters() -> ASGIApplication:
    """scim2-server whose ServiceProviderConfig says filter unsupported (it then answers 501)."""
    config = load_default_service_provider_config()
    config.filter = Filter(supported=False)
    provider = ScimProvider.from_discovery(
        load_default_schemas().values(), load_default_resource_types().values(), config=config
    )
    return ASGIApplication(AsyncInMemoryStorage(InMemoryStorage()), provider)


async def test_a_server_that_says_it_cannot_filter_is_not_asked(scim_mount: Mount) -> None:
    server = Refusing(without_filters())
    async with scim_at(scim_mount(server)) as (reconciler, _):
        with pytest.raises(errors.LookupUnsupportedError, match="does not support filters"):
            await reconciler.accounts_where("userName", "ada")
        assert (await reconciler.observe()).ok  # listing, unfiltered, still works
    assert server.filtered() == []


async def test_a_server_answering_501_to_a_filter_makes_the_lookup_unsupported(
    scim_mount: Mount,
) -> None:
    server = Refusing(without_filters(), hide_config=True)  # so the client cannot know first
    async with scim_at(scim_mount(server)) as (reconciler, sleeps):
        with pytest.raises(errors.LookupUnsupportedError, match="501") as raised:
            await reconciler.accounts_where("externalId", "005A")
    assert raised.value.status == 501 and len(server.filtered()) == len(sleeps) + 1


@pytest.mark.parametrize(
    "reply",
    [
        (400, {"status": "400", "scimType": "invalidFilter", "detail": "no emails filter"}),
        (400, {"status": 400, "detail": "invalid_filter"}),  # Slack's shape
    ],
)
async def test_a_refused_filter_makes_the_lookup_unsupported_at_once(
    scim_app: emulator.ScimApp, scim_mount: Mount, reply: Reply
) -> None:
    server = Refusing(scim_app, reply=reply)
    async with scim_at(scim_mount(server)) as (reconciler, sleeps):
        with pytest.raises(errors.LookupUnsupportedError, match="HTTP 400"):
            await reconciler.accounts_where("emails.work", "ada@orion.example")
    assert len(server.filtered()) == 1 and sleeps == []


async def test_a_lookup_pages_and_checks_like_a_listing(
    scim_app: emulator.ScimApp, scim_mount: Mount
) -> None:
    for n in range(10):  # emails need not be unique: ten accounts share one
        email = Email(value="shared@orion.example", type=Email.Type.work, primary=True)
        scim_app.add(User[EnterpriseUser](user_name=f"user{n}", emails=[email]))
    scim_app.add(User[EnterpriseUser](user_name="other"))
    server = Refusing(scim_app)
    async with scim_at(scim_mount(server), page_size=4) as (reconciler, _):
        found = await reconciler.accounts_where("emails.work", "SHARED@orion.example")
    assert sorted(a.user_name for a in found) == [f"user{n}" for n in range(10)]
    pages = server.filtered()
    assert [page["startIndex"] for page in pages] == [["1"], ["5"], ["9"]]
    assert {page["filter"][0] for page in pages} == {'emails.value eq "SHARED@orion.example"'}


async def test_a_wider_answer_is_narrowed_to_the_work_email_observe_reads(
    scim_app: emulator.ScimApp, scim_reconciler: ScimReconciler
) -> None:
    emails = [
        Email(value="ada@home.example", type=Email.Type.home),
        Email(value="ada.old@orion.example", type=Email.Type.work),
        Email(value="ada@orion.example", type=Email.Type.work, primary=True),
    ]
    scim_app.add(User[EnterpriseUser](user_name="ada", emails=emails))
    (ada,) = (await scim_reconciler.observe()).accounts
    assert ada.attributes["emails.work"] == "ada@orion.example"
    assert await scim_reconciler.accounts_where("emails.work", "ADA@orion.example") == (ada,)
    for other in ("ada@home.example", "ada.old@orion.example"):  # the server finds these too
        assert await scim_reconciler.accounts_where("emails.work", other) == ()


# --- Zendesk ----------------------------------------------------------------------------------


@pytest.fixture
def zendesk() -> Iterator[tuple[ZendeskApp, str]]:
    app = make_zendesk_app(ZendeskSettings(token=TOKEN, plan_limit=None))
    with serving.serve(app) as root:
        yield app, f"{root}/api/v2"


def connection(url: str) -> AppConnection:
    return AppConnection(AppName("zendesk"), url, token=TOKEN, page_size=3)


async def no_email_users(url: str, count: int) -> list[int]:
    """Users known by no email (a phone, say): POST /users without one."""
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with httpx.AsyncClient(base_url=url, headers=headers) as http:
        made = [await http.post("/users", json={"user": {"name": f"P{n}"}}) for n in range(count)]
    return [response.json()["user"]["id"] for response in made]


async def test_zendesk_users_without_email_custom_roles_and_deleted_users(
    zendesk: tuple[ZendeskApp, str],
) -> None:
    app, url = zendesk
    phone_only, gone_no_email = await no_email_users(url, 2)
    app.edit_user(gone_no_email, active=False)
    lead = app.add_user("Lead", "lead@orion.example", role="agent", external_id="005L")["id"]
    app.edit_user(lead, custom_role_id=360000001)
    gone = app.add_user("Gone", "gone@orion.example", external_id="005G")["id"]
    app.edit_user(gone, active=False)
    adapter = ZendeskReconciler(connection(url))
    try:
        (found,) = await adapter.accounts_where("userName", f"Zendesk-User-{phone_only}")
        assert found.id == str(phone_only)
        (agent,) = await adapter.accounts_where("externalId", "005L")
        assert agent.attributes["role"] == "Team Lead"
        observed = {a.id: a for a in (await adapter.observe()).accounts}
        assert observed[found.id] == found and observed[agent.id] == agent
        for attribute, value in [
            ("externalId", "005G"),
            ("userName", "gone@orion.example"),
            ("userName", f"zendesk-user-{gone_no_email}"),
            ("userName", "zendesk-user-999"),
        ]:
            assert await adapter.accounts_where(attribute, value) == (), value
    finally:
        await adapter.aclose()


async def test_a_zendesk_search_over_one_page_is_not_a_lookup(
    zendesk: tuple[ZendeskApp, str],
) -> None:
    app, url = zendesk
    for n in range(101):
        app.add_user(f"User {n}", f"user{n:03d}@orion.example")
    client = ZendeskClient(connection(url))
    try:
        with pytest.raises(errors.LookupUnsupportedError, match="more than 100 users"):
            await client.search("/users/search", "users", {"query": "orion"})
        page = await client.search("/users/search", "users", {"query": "user0"})
        assert len(page) == 100  # user000 to user099: a full page, and no more
    finally:
        await client.aclose()


async def test_a_lookup_value_with_a_lone_surrogate_is_unsupported_not_a_crash(
    scim_reconciler: ScimReconciler, scim_server: str
) -> None:
    """Issue 17 (the parser fuzz): `accounts_where("externalId", "\\ud800")` raised
    UnicodeEncodeError out of httpx. The filter cannot be sent, so the lookup is unsupported
    (the caller lists the app instead), and no filtered request is made."""
    log = requests_log.at(scim_server)
    since = log.mark()
    with pytest.raises(errors.LookupUnsupportedError, match="cannot be sent"):
        await scim_reconciler.accounts_where("externalId", "005\ud800")
    assert not [entry for entry in log.entries(since) if entry.path.endswith("/Users")]
