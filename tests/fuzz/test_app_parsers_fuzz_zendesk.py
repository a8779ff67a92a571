"""Fuzzing the Zendesk adapter's response parsing: a valid observation or a clear error.

Zendesk is not SCIM: cursor-paged `{users|groups|group_memberships, meta}` listings, an
offset-paged search, `{error, description, details}` errors and `{user: {...}}` records.
`tests.fuzz.app_bodies` says what is served and the property held; `PARSER_CASES` cases a
run, each within `bounded`'s time and memory ceiling.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

import httpx
from hypothesis import given
from hypothesis import strategies as st

from controller.model import AccountId, SourceUserId
from controller.operations import Operation, OpKind
from reconcilers.base import AppConnection
from reconcilers.zendesk import ZendeskReconciler
from reconcilers.zendesk.client import ZendeskClient
from tests.fuzz.app_bodies import (
    APP,
    ECHO,
    LOOKUPS,
    NO_WAIT,
    PAGE_SIZE,
    TEXT,
    TOKEN,
    Server,
    answers,
    exercise,
    no_sleep,
)
from tests.fuzz.bounds import PARSER_CASES, bounded, fuzz

CURSOR_PAGES = 3
"""Cursor paging has no total to bound it, so a page that says `has_more` for ever is read
this many times in each of the five listings a case may make: enough to show the bound holds."""
IDS = st.sampled_from([1, 2, 3, 10**19])
EMAILS = st.one_of(st.sampled_from(["u1@example.com", "U1@Example.COM", "", None]), TEXT)


def _user(uid: int, email: Any, external: Any, role: Any, custom: Any) -> dict[str, Any]:
    return {
        "id": uid,
        "url": f"https://x.zendesk.com/api/v2/users/{uid}.json",
        "name": "Ada Lovelace",
        "email": email,
        "external_id": external,
        "role": role,
        "custom_role_id": custom,
        "active": True,
        "suspended": False,
        "user_fields": {"start": "2020-01-01"},
    }


USER = st.builds(
    _user,
    IDS,
    EMAILS,
    st.sampled_from(["005A", "005B", None, ""]),
    st.sampled_from(["end-user", "agent", "admin"]),
    st.sampled_from([None, 7, 8]),
)
GROUP = st.builds(
    lambda gid, name, deleted: {"id": gid, "name": name, "deleted": deleted},
    IDS,
    st.sampled_from(["staff", "admins"]),
    st.booleans(),
)
MEMBERSHIP = st.builds(
    lambda mid, user, group: {"id": mid, "user_id": user, "group_id": group, "default": False},
    IDS,
    IDS,
    IDS,
)


def cursor_page(key: str, record: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """A cursor page: its records, and a `meta` that ends the listing or names a cursor."""

    def page(records: list[Any], more: bool, cursor: Any) -> Any:
        return {
            key: records,
            "meta": {"has_more": more, "after_cursor": cursor, "before_cursor": None},
            "links": {"next": f"https://x.zendesk.com/api/v2/{key}?page[after]={cursor}"},
        }

    return st.builds(
        page,
        st.lists(record, max_size=PAGE_SIZE, unique_by=lambda r: r["id"]),
        st.sampled_from([False, False, False, True]),
        st.sampled_from(["c1", "c2"]),
    )


SEARCH = st.builds(
    lambda users, following, more: {
        "users": users,
        "next_page": following,
        "count": len(users) + more,
    },
    st.lists(USER, max_size=PAGE_SIZE, unique_by=lambda u: u["id"]),
    st.sampled_from([None, "https://x.zendesk.com/api/v2/users/search?page=2"]),
    st.sampled_from([0, 0, 1]),
)
ROLES = st.builds(
    lambda names: {"custom_roles": [{"id": 7 + i, "name": n} for i, n in enumerate(names)]},
    st.lists(st.sampled_from(["Staff", "Lead"]), max_size=2),
)
ERROR = st.builds(
    lambda error, field: {
        "error": error,
        "description": "Record validation errors " + ECHO,
        "details": {field: [{"error": "DuplicateValue", "description": "taken"}]},
    },
    st.sampled_from(["RecordInvalid", "InvalidEndpoint", "Forbidden"]),
    st.sampled_from(["email", "external_id"]),
)
RECORD = st.builds(lambda u: {"user": u}, USER)
ROUTES = {
    "GET /users": answers(cursor_page("users", USER), ERROR),
    "GET /groups": answers(cursor_page("groups", GROUP), ERROR),
    "GET memberships": answers(cursor_page("group_memberships", MEMBERSHIP), ERROR),
    "GET /custom_roles": answers(ROLES, ERROR),
    "GET /users/search": answers(SEARCH, ERROR),
    "a user": answers(RECORD, ERROR),
}
"""Answers to every request whose body the adapter reads. A created group or membership is
read by the same `_record` as a created user, so only the user's create is fuzzed; the two
listings of memberships share their answers, as do the two that are one user's record (a
read by id, an upsert)."""
SHARED = {
    "GET /group_memberships": "GET memberships",
    "GET /users/{id}/group_memberships": "GET memberships",
    "GET /users/{id}": "a user",
    "POST /users/create_or_update": "a user",
}
LOOKUP_NAMES = st.one_of(LOOKUPS, st.just(("userName", "zendesk-user-2")))
OPERATIONS = [
    Operation(
        OpKind.CREATE,
        APP,
        user_name="new@example.com",
        source_id=SourceUserId("005C"),
        attributes={"userName": "new@example.com", "displayName": "New", "role": "Staff"},
    ),
    Operation(OpKind.REMOVE_MEMBER, APP, account_id=AccountId("2"), group="admins", group_id="3"),
]


def route(request: httpx.Request) -> str:
    path = re.sub(r"/[0-9]+(?=/|$)", "/{id}", request.url.path.removeprefix("/api/v2"))
    key = f"{request.method} {path}"
    return SHARED.get(key, key)


@fuzz(PARSER_CASES)
@given(data=st.data(), lookup=LOOKUP_NAMES)
def test_zendesk_responses_give_an_observation_or_a_clear_error(
    data: st.DataObject, lookup: tuple[str, str]
) -> None:
    server = Server(data, ROUTES, route)
    connection = AppConnection(
        app=APP,
        endpoint="http://x.zendesk.test/api/v2",
        token=TOKEN,
        page_size=PAGE_SIZE,
        max_pages=CURSOR_PAGES,
    )
    client = ZendeskClient(
        connection, retry=NO_WAIT, sleep=no_sleep, transport=httpx.MockTransport(server)
    )
    reconciler = ZendeskReconciler(connection, client=client)
    case = exercise(reconciler, lookup, OPERATIONS)
    with bounded("Zendesk observe, lookup and writes"):
        asyncio.run(case)
