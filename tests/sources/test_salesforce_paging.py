"""Answers the emulator never gives (broken paging, odd 401s, 5xx), scripted with MockTransport.

Each test scripts the pages an org returns and checks that the source reports an error rather
than a shorter list, as DESIGN.md section 6 requires.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from controller.policy.schema import SalesforceSpec
from controller.sources.salesforce import SalesforceSource
from controller.sources.salesforce.retries import RetryPolicy

INSTANCE = "https://orion.my.salesforce.com"
SECRET = "cc-secret-4b1d7e0f9a"
TOKEN = "00DORION!AR.paging-token-77f1"
QUERY = "/services/data/v62.0/query"
Page = dict[str, Any]


def _user(n: int, assignments: Any = None) -> dict[str, Any]:
    return {
        "attributes": {"type": "User"},
        "Id": f"005{n:015d}",
        "Username": f"u{n}@example.com",
        "Email": f"u{n}@example.com",
        "IsActive": True,
        "PermissionSetAssignments": assignments,
    }


def _assignment(name: str) -> dict[str, Any]:
    return {"attributes": {}, "PermissionSet": {"attributes": {}, "Name": name}}


class Org:
    """Serves a token, the scripted pages of the user query, and no frozen users."""

    def __init__(self, pages: dict[str, Page | httpx.Response]) -> None:
        self.pages = pages
        self.requests: list[httpx.Request] = []
        self.token_requests = 0
        self.unauthorised: Callable[[httpx.Request], httpx.Response | None] = lambda _: None

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.path == "/services/oauth2/token":
            self.token_requests += 1
            return httpx.Response(200, json={"access_token": TOKEN, "instance_url": INSTANCE})
        refused = self.unauthorised(request)
        if refused is not None:
            return refused
        headers = {"Sforce-Limit-Info": f"api-usage={len(self.requests)}/15000"}
        if request.url.path == QUERY and "UserLogin" in request.url.params["q"]:
            return httpx.Response(200, json=_page([], 0), headers=headers)
        key = "first" if request.url.path == QUERY else request.url.path
        answer = self.pages[key]
        if isinstance(answer, httpx.Response):
            return answer
        return httpx.Response(200, json=answer, headers=headers)


def _page(users: list[dict[str, Any]], total: int, next_url: str | None = None) -> Page:
    page: Page = {"totalSize": total, "done": next_url is None, "records": users}
    if next_url:
        page["nextRecordsUrl"] = next_url
    return page


def _source(org: Org, tmp_path: Path) -> SalesforceSource:
    spec = SalesforceSpec.model_validate(
        {
            "instanceUrl": INSTANCE,
            "auth": {"flow": "client-credentials", "clientId": "ID", "clientSecretEnv": "SF_S"},
        }
    )

    return SalesforceSource(
        "org",
        spec,
        base_dir=tmp_path,
        environ={"SF_S": SECRET},
        transport=httpx.MockTransport(org),
        retry=RetryPolicy(attempts=2, backoff_seconds=0, jitter_seconds=0),
    )


async def _read_error(org: Org, tmp_path: Path) -> str:
    source = _source(org, tmp_path)
    try:
        read = await source.read()
    finally:
        await source.aclose()
    assert read.users == () and read.error is not None
    assert TOKEN not in read.error and SECRET not in read.error
    return read.error


async def test_pages_are_followed_to_the_end(tmp_path: Path) -> None:
    more = f"{QUERY}/01gX-1"
    org = Org({"first": _page([_user(1)], 2, more), more: _page([_user(2)], 2)})
    source = _source(org, tmp_path)
    read = await source.read()
    await source.aclose()
    assert read.ok and [u.username for u in read.users] == ["u1@example.com", "u2@example.com"]
    assert source.api_usage == (len(org.requests), 15000)
    assert org.requests[1].headers["Sforce-Query-Options"] == "batchSize=2000"
    assert org.requests[1].headers["Authorization"] == f"Bearer {TOKEN}"


async def test_not_done_without_a_next_page_is_an_error(tmp_path: Path) -> None:
    page = _page([_user(1)], 2)
    page["done"] = False
    error = await _read_error(Org({"first": page}), tmp_path)
    assert "after 1 of 2 records, done is false but there is no nextRecordsUrl" in error


async def test_fewer_records_than_total_size_is_an_error(tmp_path: Path) -> None:
    error = await _read_error(Org({"first": _page([_user(1)], 3)}), tmp_path)
    assert error == "reading users: the query ended after 1 of 3 records"


async def test_a_changing_total_size_is_an_error(tmp_path: Path) -> None:
    more = f"{QUERY}/01gX-1"
    org = Org({"first": _page([_user(1)], 2, more), more: _page([_user(2)], 3)})
    assert "totalSize changed from 2 to 3" in await _read_error(org, tmp_path)


async def test_a_failing_second_page_fails_the_read(tmp_path: Path) -> None:
    more = f"{QUERY}/01gX-1"
    org = Org({"first": _page([_user(1)], 2, more), more: httpx.Response(503)})
    error = await _read_error(org, tmp_path)
    assert error == f"reading users: GET {more}: HTTP 503"
    assert sum(request.url.path == more for request in org.requests) == 2  # retried once


async def test_a_next_page_outside_the_api_is_not_followed(tmp_path: Path) -> None:
    org = Org({"first": _page([_user(1)], 2, "https://evil.example/steal")})
    assert "refusing to follow" in await _read_error(org, tmp_path)
    assert all(request.url.host == "orion.my.salesforce.com" for request in org.requests)


async def test_a_user_listed_twice_is_an_error(tmp_path: Path) -> None:
    error = await _read_error(Org({"first": _page([_user(1), _user(1)], 2)}), tmp_path)
    assert "came back twice" in error


async def test_child_subqueries_are_paged_too(tmp_path: Path) -> None:
    child_more = f"{QUERY}/01gCHILD-1"
    first_child = _page([_assignment("A")], 2, child_more)
    org = Org(
        {"first": _page([_user(1, first_child)], 1), child_more: _page([_assignment("B")], 2)}
    )
    source = _source(org, tmp_path)
    read = await source.read()
    await source.aclose()
    assert read.ok and read.users[0].permission_sets == {"A", "B"}


async def test_a_child_subquery_cut_short_is_an_error(tmp_path: Path) -> None:
    child = _page([_assignment("A")], 2)
    child["done"] = False
    error = await _read_error(Org({"first": _page([_user(1, child)], 1)}), tmp_path)
    assert error.startswith(f"reading permission sets of user {_user(1)['Id']}: after 1 of 2")


async def test_the_rest_api_session_variant_is_not_refreshed(tmp_path: Path) -> None:
    org = Org({"first": _page([], 0)})
    message = "This session is not valid for use with the REST API"
    body = [{"message": message, "errorCode": "INVALID_SESSION_ID"}]
    org.unauthorised = lambda _: httpx.Response(401, content=json.dumps(body).encode())
    error = await _read_error(org, tmp_path)
    assert error == (
        f"reading users: GET {QUERY}: HTTP 401 INVALID_SESSION_ID: "
        "This session is not valid for use with the REST API"
    )
    assert org.token_requests == 1


async def test_an_echoed_token_is_scrubbed(tmp_path: Path) -> None:
    body = [{"message": f"bad token {TOKEN}", "errorCode": "INVALID_AUTH_HEADER"}]
    org = Org({"first": httpx.Response(400, json=body)})
    assert "bad token ***" in await _read_error(org, tmp_path)
