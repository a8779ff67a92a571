"""SCIM 2.0 response bodies for the parser fuzz tests of SCIM, Slack and Atlassian.

The three speak SCIM with their own extensions and media types through one client and mapping,
so they share these shapes: ListResponses of Users and Groups (totals that add up, or do not),
the ServiceProviderConfig, the Error body, and a created resource. Each field is of the right
type most of the time and anything at all otherwise (`app_bodies.maybe`).
"""

from __future__ import annotations

from typing import Any

import httpx
from hypothesis import strategies as st

from controller.model import SourceUserId
from controller.operations import Operation, OpKind
from reconcilers.base import AppConnection
from reconcilers.scim.client import ScimClient
from reconcilers.scim.mapping import ENTERPRISE_URN
from tests.fuzz.app_bodies import (
    APP,
    ECHO,
    MAX_PAGES,
    NO_WAIT,
    PAGE_SIZE,
    TEXT,
    TOKEN,
    Answer,
    Server,
    answers,
    no_sleep,
)

USER_URN = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_URN = "urn:ietf:params:scim:schemas:core:2.0:Group"
LIST_URN = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
ERROR_URN = "urn:ietf:params:scim:api:messages:2.0:Error"
ENDPOINT = "http://app.test/scim/v2"

SPC_URN = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
EMAILS = st.sampled_from(["u1@example.com", "U1@Example.COM", "someone@example.com", "a@b", "@"])
IDS = st.sampled_from(["u1", "u2", "u3", "g1"])
NAMES = st.one_of(st.sampled_from(["u1", "U1", "someone@example.com", "ada"]), TEXT)


def user(extension: str) -> st.SearchStrategy[dict[str, Any]]:
    """A User as a vendor sends it, with our enterprise fields and the vendor's extension."""

    def build(uid: str, name: str, external: str, active: bool, email: str) -> dict[str, Any]:
        return {
            "schemas": [USER_URN, ENTERPRISE_URN, extension],
            "id": uid,
            "userName": name,
            "externalId": external,
            "active": active,
            "displayName": "Ada Lovelace",
            "name": {"givenName": "Ada", "familyName": "Lovelace"},
            "emails": [{"value": email, "type": "work", "primary": True}],
            "roles": [{"value": "staff", "primary": True}],
            ENTERPRISE_URN: {"department": "Engineering", "manager": {"value": "u2"}},
            extension: {"startDate": "2020-01-01", "profile": {"pronouns": "she"}},
            "meta": {"resourceType": "User", "location": f"{ENDPOINT}/Users/{uid}"},
        }

    return st.builds(
        build, IDS, NAMES, st.sampled_from(["005A", "005B", ""]), st.booleans(), EMAILS
    )


def _group(gid: str, name: str, members: list[str]) -> dict[str, Any]:
    return {
        "schemas": [GROUP_URN],
        "id": gid,
        "displayName": name,
        "members": [{"value": m, "type": "User", "display": m} for m in members],
    }


GROUP = st.builds(
    _group, IDS, st.sampled_from(["u1", "staff", "admins"]), st.lists(IDS, max_size=2)
)


def listing(resource: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """A ListResponse page whose total adds up, or says more (or fewer) than it holds."""

    def page(resources: list[Any], more: int) -> Any:
        return {
            "schemas": [LIST_URN],
            "totalResults": len(resources) + more,
            "startIndex": 1,
            "itemsPerPage": len(resources),
            "Resources": resources,
        }

    resources = st.lists(resource, max_size=PAGE_SIZE, unique_by=lambda r: str(r["id"]))
    return st.builds(page, resources, st.sampled_from([0, 0, 0, 1, -1]))


def _config(filters: bool, sort: bool) -> dict[str, Any]:
    return {
        "schemas": [SPC_URN],
        "patch": {"supported": True},
        "bulk": {"supported": False, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": filters, "maxResults": 100},
        "changePassword": {"supported": False},
        "sort": {"supported": sort},
        "etag": {"supported": False},
        "authenticationSchemes": [],
    }


CONFIG = st.builds(_config, st.booleans(), st.booleans())
ERROR = st.builds(
    lambda status, kind: {
        "schemas": [ERROR_URN],
        "status": status,
        "scimType": kind,
        "detail": "refused; token was " + ECHO,
    },
    st.sampled_from(["400", "409", "500"]),
    st.sampled_from(["uniqueness", "invalidFilter", "mutability"]),
)


def routes(extension: str) -> dict[str, st.SearchStrategy[list[Answer]]]:
    """How to answer every request a SCIM reconciler sends while observing, looking up (a
    filtered GET /Users, answered in turn with the listing), and creating a user and a group
    (PATCH and DELETE bodies are not read)."""
    users = user(extension)
    return {
        "GET /ServiceProviderConfig": answers(CONFIG, ERROR),
        "GET /Users": answers(listing(users), ERROR),
        "GET /Groups": answers(listing(GROUP), ERROR),
        "POST /Users": answers(users, ERROR),
        "POST /Groups": answers(GROUP, ERROR),
    }


def route(request: httpx.Request) -> str:
    path = request.url.path.removeprefix("/scim/v2")
    return f"{request.method} {path}"


def connection(**overrides: Any) -> AppConnection:
    return AppConnection(
        app=APP,
        endpoint=ENDPOINT,
        token=TOKEN,
        page_size=PAGE_SIZE,
        max_pages=MAX_PAGES,
        **overrides,
    )


def client(server: Server, **options: Any) -> ScimClient:
    """A SCIM client that asks `server`, and never waits in earnest."""
    transport = httpx.MockTransport(server)
    return ScimClient(connection(), retry=NO_WAIT, sleep=no_sleep, transport=transport, **options)


OPERATIONS = [
    Operation(
        OpKind.CREATE,
        APP,
        user_name="new@example.com",
        source_id=SourceUserId("005C"),
        attributes={"userName": "new@example.com", "emails.work": "new@example.com"},
    ),
    Operation(OpKind.CREATE_GROUP, APP, group="staff"),
]
