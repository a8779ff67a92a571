"""The SCIM reconciler against a real scim2-server over a socket: what it stores, what it observes.

Each test gets a fresh app (`scim_app`). Misbehaving servers are the real app behind a small
ASGI middleware that rewrites listings or fails requests, so the adapter's defences are tested
against the same wire format it meets in production. Retries sleep through an injected
recorder, so no test waits.
"""

from __future__ import annotations

import contextlib
import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs

import pytest
from scim2_models import EnterpriseUser, Group, GroupMember, User

from controller import errors
from controller.model import AccountId, ObservedApp
from controller.operations import Operation, OpKind
from emulators import scim_app as emulator
from reconcilers.base import AppConnection
from reconcilers.scim import ScimReconciler
from reconcilers.scim.client import RetryPolicy, ScimClient
from tests.conftest import SCIM_APP, SCIM_TOKEN

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
EVERY_ATTRIBUTE = {
    "userName": "ada.lovelace@org.example",
    "displayName": "Ada Lovelace",
    "name.givenName": "Ada",
    "name.familyName": "Lovelace",
    "emails.work": "ada.lovelace@org.example",
    "title": "Analyst",
    "userType": "Employee",
    "preferredLanguage": "en-GB",
    "locale": "en-GB",
    "timezone": "Europe/London",
    "role": "admin",
    "enterprise.department": "Engineering",
    "enterprise.employeeNumber": "1815",
    "enterprise.costCenter": "CC-42",
    "enterprise.organization": "Orion",
    "enterprise.division": "R&D",
}

Mount = Callable[[emulator.ASGIApp], str]
Rewrite = Callable[[int, dict[str, Any]], dict[str, Any]]
"""Given the page's number and body, the body to send instead."""
Reply = tuple[int, dict[str, str], dict[str, Any]]
"""Status, headers and JSON body of a response the middleware sends instead of the app's."""
Fail = Callable[[str, int], Reply | None]
"""Given the method and how many times this method and path were requested, a failure or None."""
Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


def op(kind: OpKind, **fields: Any) -> Operation:
    return Operation(kind, SCIM_APP, **fields)


async def create(reconciler: ScimReconciler, source_id: str, **attributes: Any) -> AccountId:
    applied = await reconciler.apply(op(OpKind.CREATE, source_id=source_id, attributes=attributes))
    assert applied.resource_id
    return AccountId(applied.resource_id)


def stored(app: emulator.ScimApp, resource_id: str) -> dict[str, Any]:
    """The resource as the server holds it, in its wire form."""
    (resource,) = (r for r in app.memory.resources if r.id == resource_id)
    dumped: dict[str, Any] = resource.model_dump()
    return dumped


def add_users(app: emulator.ScimApp, count: int) -> set[str]:
    names = {f"user{i:03d}@org.example" for i in range(count)}
    for name in sorted(names):
        app.add(User[EnterpriseUser](user_name=name))
    return names


@contextlib.asynccontextmanager
async def reconciler_at(
    url: str, *, token: str | None = SCIM_TOKEN, sleeps: list[float] | None = None
) -> AsyncIterator[ScimReconciler]:
    """A reconciler for a middleware-wrapped server; retries record their sleeps, never wait."""
    recorded = sleeps if sleeps is not None else []

    async def sleep(seconds: float) -> None:
        recorded.append(seconds)

    connection = AppConnection(app=SCIM_APP, endpoint=url, token=token, page_size=7)
    client = ScimClient(connection, retry=RetryPolicy(), sleep=sleep)
    reconciler = ScimReconciler(connection, client=client)
    try:
        yield reconciler
    finally:
        await reconciler.aclose()


class Tamper:
    """Wraps the app: records requests, rewrites GET /Users listing pages, fails requests."""

    def __init__(
        self,
        app: emulator.ScimApp,
        *,
        pages: Rewrite | None = None,
        fail: Fail | None = None,
    ) -> None:
        self.app = app
        self.pages = pages
        self.fail = fail
        self.requests: list[tuple[str, str, dict[str, list[str]]]] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        method, path = scope["method"], scope["path"]
        self.requests.append((method, path, parse_qs(scope["query_string"].decode())))
        count = sum(1 for m, p, _ in self.requests if (m, p) == (method, path))
        failure = self.fail(method, count) if self.fail else None
        if failure is not None:
            status, headers, body = failure
            raw = [(k.encode(), v.encode()) for k, v in headers.items()]
            await send({"type": "http.response.start", "status": status, "headers": raw})
            return await send({"type": "http.response.body", "body": json.dumps(body).encode()})
        if self.pages is None or (method, path) != ("GET", "/v2/Users"):
            return await self.app(scope, receive, send)
        started: dict[str, Any] = {}

        async def rewrite(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                started.update(message)
                return
            assert self.pages is not None
            body = json.dumps(self.pages(count, json.loads(message["body"]))).encode()
            headers = [(k, v) for k, v in started["headers"] if k.lower() != b"content-length"]
            await send({**started, "headers": headers})
            await send({"type": "http.response.body", "body": body})

        return await self.app(scope, receive, rewrite)


# --- accounts -------------------------------------------------------------------------------


async def test_create_stores_every_supported_attribute_and_observe_reads_them_back(
    scim_app: emulator.ScimApp, scim_reconciler: ScimReconciler
) -> None:
    account = await create(scim_reconciler, "005Hs00000ADA", **EVERY_ATTRIBUTE)

    user = stored(scim_app, account)
    assert user["userName"] == "ada.lovelace@org.example"
    assert user["externalId"] == "005Hs00000ADA"
    assert user["active"] is True
    assert user["name"] == {"givenName": "Ada", "familyName": "Lovelace"}
    assert user["emails"] == [
        {"value": "ada.lovelace@org.example", "type": "work", "primary": True}
    ]
    assert user["roles"] == [{"value": "admin", "primary": True}]
    assert (user["title"], user["userType"], user["timezone"]) == (
        "Analyst",
        "Employee",
        "Europe/London",
    )
    assert (user["preferredLanguage"], user["locale"]) == ("en-GB", "en-GB")
    assert user[ENTERPRISE] == {
        "department": "Engineering",
        "employeeNumber": "1815",
        "costCenter": "CC-42",
        "organization": "Orion",
        "division": "R&D",
    }

    observed = await scim_reconciler.observe()
    assert observed.ok, observed.error
    (seen,) = observed.accounts
    assert (seen.id, seen.user_name, seen.active) == (account, EVERY_ATTRIBUTE["userName"], True)
    assert seen.external_id == "005Hs00000ADA"
    assert dict(seen.attributes) == EVERY_ATTRIBUTE


async def test_observe_omits_attributes_the_server_does_not_hold(
    scim_app: emulator.ScimApp, scim_reconciler: ScimReconciler
) -> None:
    orphan = scim_app.add(User[EnterpriseUser](user_name="Made.By.Hand@org.example"))

    observed = await scim_reconciler.observe()

    (seen,) = observed.accounts
    assert (seen.id, seen.external_id, seen.active) == (orphan.id, None, True)
    assert dict(seen.attributes) == {"userName": "Made.By.Hand@org.example"}


async def test_update_changes_only_the_given_attributes(
    scim_app: emulator.ScimApp, scim_reconciler: ScimReconciler
) -> None:
    account = await create(scim_reconciler, "005A", **EVERY_ATTRIBUTE)
    changed = {
        "title": "Lead Analyst",
        "name.familyName": "King",
        "emails.work": "ada.king@org.example",
        "role": "owner",
        "enterprise.department": "Research",
        "locale": None,
        "enterprise.division": None,
    }

    await scim_reconciler.apply(op(OpKind.UPDATE, account_id=account, attributes=changed))

    observed = await scim_reconciler.observe()
    expected = {k: v for k, v in {**EVERY_ATTRIBUTE, **changed}.items() if v is not None}
    assert dict(observed.accounts[0].attributes) == expected
    user = stored(scim_app, account)
    assert user["emails"] == [{"value": "ada.king@org.example", "type": "work", "primary": True}]
    assert "locale" not in user
    assert "division" not in user[ENTERPRISE]
    assert user["externalId"] == "005A"


async def test_suspend_and_activate_flip_active(
    scim_app: emulator.ScimApp, scim_reconciler: ScimReconciler
) -> None:
    account = await create(scim_reconciler, "005A", userName="ada@org.example")

    await scim_reconciler.apply(op(OpKind.SUSPEND, account_id=account))
    assert stored(scim_app, account)["active"] is False
    assert not (await scim_reconciler.observe()).accounts[0].active

    await scim_reconciler.apply(op(OpKind.ACTIVATE, account_id=account))
    assert stored(scim_app, account)["active"] is True
    assert (await scim_reconciler.observe()).accounts[0].active


async def test_link_records_the_source_id_as_external_id(
    scim_app: emulator.ScimApp, scim_reconciler: ScimReconciler
) -> None:
    orphan = scim_app.add(User[EnterpriseUser](user_name="ada@org.example"))
    assert orphan.id

    await scim_reconciler.apply(op(OpKind.LINK, account_id=orphan.id, source_id="005A"))

    assert stored(scim_app, orphan.id)["externalId"] == "005A"


async def test_delete_removes_the_account_and_a_second_delete_is_not_found(
    scim_app: emulator.ScimApp, scim_reconciler: ScimReconciler
) -> None:
    account = await create(scim_reconciler, "005A", userName="ada@org.example")

    await scim_reconciler.apply(op(OpKind.DELETE, account_id=account))

    assert scim_app.memory.resources == []
    with pytest.raises(errors.NotFoundError) as raised:
        await scim_reconciler.apply(op(OpKind.DELETE, account_id=account))
    assert raised.value.status == 404
    assert f"DELETE /Users/{account}" in str(raised.value)


async def test_a_user_name_differing_only_in_case_is_a_conflict(
    scim_app: emulator.ScimApp, scim_reconciler: ScimReconciler
) -> None:
    await create(scim_reconciler, "005A", userName="Ada@org.example")

    with pytest.raises(errors.ConflictError) as raised:
        await create(scim_reconciler, "005B", userName="ada@org.example")

    assert raised.value.status == 409
    assert "uniqueness" in str(raised.value)
    assert len(scim_app.memory.resources) == 1


async def test_a_value_the_models_refuse_is_a_bad_request_and_nothing_is_sent(
    scim_app: emulator.ScimApp, scim_reconciler: ScimReconciler
) -> None:
    with pytest.raises(errors.BadRequestError):
        await create(scim_reconciler, "005A", userName="ada", **{"emails.work": "not an email"})

    assert scim_app.memory.resources == []


# --- groups ---------------------------------------------------------------------------------


async def test_group_membership_is_added_removed_and_observed_through_groups(
    scim_app: emulator.ScimApp, scim_reconciler: ScimReconciler
) -> None:
    ada = await create(scim_reconciler, "005A", userName="ada@org.example")
    bob = await create(scim_reconciler, "005B", userName="bob@org.example")
    created = await scim_reconciler.apply(op(OpKind.CREATE_GROUP, group="eng"))
    group_id = created.resource_id
    assert group_id is not None
    assert stored(scim_app, group_id)["displayName"] == "eng"

    for account in (ada, bob):
        await scim_reconciler.apply(
            op(OpKind.ADD_MEMBER, account_id=account, group="eng", group_id=group_id)
        )
    await scim_reconciler.apply(
        op(OpKind.REMOVE_MEMBER, account_id=ada, group="eng", group_id=group_id)
    )

    assert stored(scim_app, group_id)["members"] == [{"value": bob}]
    observed = await scim_reconciler.observe()
    assert [(g.id, g.name, g.members) for g in observed.groups] == [
        (group_id, "eng", frozenset({bob}))
    ]


async def test_groups_are_observed_with_their_user_members_only(
    scim_app: emulator.ScimApp, scim_reconciler: ScimReconciler
) -> None:
    user = scim_app.add(User[EnterpriseUser](user_name="ada@org.example"))
    inner = scim_app.add(Group(display_name="inner"))
    scim_app.add(
        Group(
            display_name="outer",
            members=[GroupMember(value=user.id), GroupMember(value=inner.id, type="Group")],
        )
    )

    observed = await scim_reconciler.observe()

    assert {g.name: g.members for g in observed.groups} == {
        "inner": frozenset(),
        "outer": frozenset({user.id}),
    }


# --- listing --------------------------------------------------------------------------------


async def test_observe_pages_through_every_user_sorted_by_creation(
    scim_app: emulator.ScimApp, scim_mount: Mount
) -> None:
    names = add_users(scim_app, 50)
    tamper = Tamper(scim_app)

    url = scim_mount(tamper)
    async with reconciler_at(url) as reconciler:
        observed = await reconciler.observe()

    assert observed.ok, observed.error
    assert {account.user_name for account in observed.accounts} == names
    assert len({account.id for account in observed.accounts}) == 50
    pages = [query for method, path, query in tamper.requests if path == "/v2/Users"]
    assert [page["startIndex"] for page in pages] == [[str(i)] for i in range(1, 51, 7)]
    assert all(page["count"] == ["7"] and page["sortBy"] == ["meta.created"] for page in pages)
    config_reads = [path for _, path, _ in tamper.requests if path == "/v2/ServiceProviderConfig"]
    assert config_reads == ["/v2/ServiceProviderConfig"]


async def test_pages_shorter_than_asked_for_are_followed_by_what_they_returned(
    scim_app: emulator.ScimApp, scim_mount: Mount
) -> None:
    names = add_users(scim_app, 20)

    def three_at_most(_: int, page: dict[str, Any]) -> dict[str, Any]:
        return {**page, "Resources": page["Resources"][:3], "itemsPerPage": 3}

    url = scim_mount(Tamper(scim_app, pages=three_at_most))
    async with reconciler_at(url) as reconciler:
        observed = await reconciler.observe()

    assert observed.ok, observed.error
    assert {account.user_name for account in observed.accounts} == names


def _total_changes() -> Rewrite:
    def rewrite(number: int, page: dict[str, Any]) -> dict[str, Any]:
        return {**page, "totalResults": page["totalResults"] + 1} if number == 2 else page

    return rewrite


def _second_page_empty() -> Rewrite:
    def rewrite(number: int, page: dict[str, Any]) -> dict[str, Any]:
        return {**page, "Resources": []} if number == 2 else page

    return rewrite


def _first_page_repeated() -> Rewrite:
    first: list[dict[str, Any]] = []

    def rewrite(number: int, page: dict[str, Any]) -> dict[str, Any]:
        if number == 1:
            first.extend(page["Resources"])
            return page
        return {**page, "Resources": first}

    return rewrite


def _more_than_total() -> Rewrite:
    def rewrite(_: int, page: dict[str, Any]) -> dict[str, Any]:
        return {**page, "totalResults": 5}

    return rewrite


@pytest.mark.parametrize(
    ("make_rewrite", "says"),
    [
        (_total_changes, "totalResults changed from 20 to 21"),
        (_second_page_empty, "an empty page after 7 of 20"),
        (_first_page_repeated, "listed twice"),
        (_more_than_total, "7 resources listed but totalResults is 5"),
    ],
)
async def test_a_listing_that_does_not_add_up_is_an_error_not_a_short_list(
    scim_app: emulator.ScimApp,
    scim_mount: Mount,
    make_rewrite: Callable[[], Rewrite],
    says: str,
) -> None:
    add_users(scim_app, 20)

    url = scim_mount(Tamper(scim_app, pages=make_rewrite()))
    async with reconciler_at(url) as reconciler:
        observed = await reconciler.observe()

    assert observed == ObservedApp(SCIM_APP, (), (), error=observed.error)
    assert observed.error is not None
    assert says in observed.error


# --- authentication and failures ------------------------------------------------------------


@pytest.mark.parametrize("token", ["wrong-token-5d1e", None])
async def test_a_wrong_or_missing_token_stalls_and_no_token_is_reported(
    scim_app: emulator.ScimApp, scim_server: str, token: str | None
) -> None:
    async with reconciler_at(scim_server, token=token) as reconciler:
        with pytest.raises(errors.StalledError) as raised:
            await create(reconciler, "005A", userName="ada@org.example")
        observed = await reconciler.observe()

    assert raised.value.status == 401
    assert observed.error is not None
    assert "401" in observed.error
    for message in (str(raised.value), observed.error):
        assert SCIM_TOKEN not in message
        assert token is None or token not in message
    assert scim_app.memory.resources == []


async def test_a_server_echoing_the_token_does_not_get_it_into_the_error(
    scim_app: emulator.ScimApp, scim_mount: Mount
) -> None:
    echo = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"], "status": "400"}

    def echo_authorization(method: str, _: int) -> Reply:
        return 400, {}, {**echo, "detail": f"bad header Bearer {SCIM_TOKEN}"}

    url = scim_mount(Tamper(scim_app, fail=echo_authorization))
    async with reconciler_at(url) as reconciler:
        with pytest.raises(errors.BadRequestError) as raised:
            await create(reconciler, "005A", userName="ada@org.example")
        observed = await reconciler.observe()

    assert "bad header Bearer ***" in str(raised.value)
    assert observed.error is not None
    assert SCIM_TOKEN not in str(raised.value) + observed.error


async def test_a_rate_limited_request_is_retried_after_the_delay_the_server_asks_for(
    scim_app: emulator.ScimApp, scim_mount: Mount
) -> None:
    def limit_first_post(method: str, seen: int) -> Reply | None:
        return (429, {"Retry-After": "2"}, {}) if (method, seen) == ("POST", 1) else None

    sleeps: list[float] = []
    url = scim_mount(Tamper(scim_app, fail=limit_first_post))
    async with reconciler_at(url, sleeps=sleeps) as reconciler:
        await create(reconciler, "005A", userName="ada@org.example")

    assert sleeps == pytest.approx([2.0], abs=0.1)  # waited out through the app's throttle
    assert [r.model_dump()["userName"] for r in scim_app.memory.resources] == ["ada@org.example"]


async def test_server_errors_are_retried_three_times_then_reported_as_transient(
    scim_app: emulator.ScimApp, scim_mount: Mount
) -> None:
    def always_503(method: str, _: int) -> Reply | None:
        return (503, {}, {}) if method == "PATCH" else None

    sleeps: list[float] = []
    tamper = Tamper(scim_app, fail=always_503)
    url = scim_mount(tamper)
    async with reconciler_at(url, sleeps=sleeps) as reconciler:
        account = await create(reconciler, "005A", userName="ada@org.example")
        with pytest.raises(errors.TransientError) as raised:
            await reconciler.apply(op(OpKind.SUSPEND, account_id=account))

    assert raised.value.status == 503
    assert f"PATCH /Users/{account}: HTTP 503" in str(raised.value)
    assert sleeps == [0.5, 1.0]
    assert [m for m, _, _ in tamper.requests].count("PATCH") == 3


async def test_a_retry_after_beyond_the_budget_is_reported_at_once(
    scim_app: emulator.ScimApp, scim_mount: Mount
) -> None:
    def slow_down(method: str, _: int) -> Reply | None:
        return (429, {"Retry-After": "60"}, {}) if method == "GET" else None

    sleeps: list[float] = []
    url = scim_mount(Tamper(scim_app, fail=slow_down))
    async with reconciler_at(url, sleeps=sleeps) as reconciler:
        observed = await reconciler.observe()

    assert sleeps == []
    assert observed.error is not None
    assert "HTTP 429" in observed.error


async def test_a_failed_create_is_not_retried_so_it_cannot_create_twice(
    scim_app: emulator.ScimApp, scim_mount: Mount
) -> None:
    def fail_posts(method: str, _: int) -> Reply | None:
        return (500, {}, {}) if method == "POST" else None

    sleeps: list[float] = []
    tamper = Tamper(scim_app, fail=fail_posts)
    url = scim_mount(tamper)
    async with reconciler_at(url, sleeps=sleeps) as reconciler:
        with pytest.raises(errors.TransientError):
            await create(reconciler, "005A", userName="ada@org.example")

    assert sleeps == []
    assert [m for m, _, _ in tamper.requests].count("POST") == 1


async def test_an_unreachable_app_is_observed_as_an_error() -> None:
    with socket.socket() as closed:  # bound, never listening: connections are refused
        closed.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{closed.getsockname()[1]}/v2"
        sleeps: list[float] = []
        async with reconciler_at(url, sleeps=sleeps) as reconciler:
            observed = await reconciler.observe()

    assert observed.error is not None
    assert "GET /ServiceProviderConfig: ConnectError" in observed.error
    assert sleeps == [0.5, 1.0]
