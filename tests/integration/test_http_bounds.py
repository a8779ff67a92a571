"""Every request to an app runs inside its bounds: a deadline for the whole response, a size
cap on the decoded body, JSON that parses or is the app's error, and listings that end.

Against the hostile server of tests/hostile on 127.0.0.1, through the adapters' real clients.
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import tracemalloc
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from controller import errors
from controller.http_bodies import parse_json
from controller.metrics import Recorder
from controller.model import AppName
from emulators import serving
from reconcilers.base import AppConnection
from reconcilers.http import RetryPolicy
from reconcilers.scim.client import ScimClient
from reconcilers.scim.mapping import ScimUser
from reconcilers.zendesk.client import ZendeskClient
from reconcilers.zendesk.reconciler import ZendeskReconciler
from tests.hostile.server import HostileApp

MIB = 1024 * 1024
RETRY = RetryPolicy(attempts=2, backoff_seconds=0.01)


@pytest.fixture
def hostile() -> Iterator[HostileApp]:
    app = HostileApp()
    with app.serving():
        yield app


def connection(
    url: str, *, deadline: float = 60.0, max_bytes: int = 32 * MIB, max_pages: int = 1000
) -> AppConnection:
    return AppConnection(
        app=AppName("hostile"),
        endpoint=url,
        deadline_seconds=deadline,
        max_response_bytes=max_bytes,
        max_pages=max_pages,
    )


@pytest.fixture
async def scim(hostile: HostileApp) -> AsyncIterator[ScimClient]:
    bounds = connection(f"{hostile.url}/scim/v2", deadline=2.0, max_bytes=MIB, max_pages=5)
    client = ScimClient(bounds, retry=RETRY)
    yield client
    await client.aclose()


async def test_a_dripping_body_ends_at_the_request_deadline_and_get_is_retried(
    hostile: HostileApp, scim: ScimClient
) -> None:
    hostile.mode = "drip"  # a byte every 0.5 s: httpx's timeout between reads never trips
    with pytest.raises(errors.TransientError, match=r"no complete response within 2 s"):
        await scim.request("GET", "/Users")
    assert hostile.requests == 2


async def test_a_post_past_its_deadline_is_not_sent_again(
    hostile: HostileApp, scim: ScimClient
) -> None:
    hostile.mode = "never-ends"  # the server may have acted: a second POST could create twice
    with pytest.raises(errors.TransientError, match="no complete response"):
        await scim.request("POST", "/Users", json={"userName": "a"})
    assert hostile.requests == 1


async def test_a_gzip_bomb_is_refused_at_the_cap_without_inflating_it(
    hostile: HostileApp, scim: ScimClient
) -> None:
    hostile.mode = "gzip-bomb"  # 1 MiB of gzip, 1 GiB inflated
    tracemalloc.start()
    try:
        with pytest.raises(errors.StalledError, match="larger than 1 MiB"):
            await scim.list_all("/Users", ScimUser)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 16 * MIB
    assert hostile.requests == 2  # a GET (of the ServiceProviderConfig): tried once more


async def test_json_nested_100000_deep_is_the_apps_error(
    hostile: HostileApp, scim: ScimClient
) -> None:
    hostile.mode = "deep-json"
    with pytest.raises(errors.StalledError, match="nested too deeply"):
        await scim.get_config()


async def test_endless_scim_paging_stops_at_the_page_cap(
    hostile: HostileApp, scim: ScimClient
) -> None:
    hostile.mode = "endless-paging"  # totalResults of a billion, every page full
    with pytest.raises(errors.IncompleteListingError, match="at most 5 pages"):
        await scim.list_all("/Users", ScimUser)
    assert hostile.requests == 1 + 5  # the ServiceProviderConfig, then five pages


async def test_scim_paging_stops_at_twice_the_pages_total_results_needs(
    hostile: HostileApp,
) -> None:
    hostile.mode = "shrinking-pages"  # 1,000 in all: 10 pages of 100, but then 1 a page
    bounds = connection(f"{hostile.url}/scim/v2", max_pages=1000)
    client = ScimClient(bounds, retry=RETRY)
    try:
        with pytest.raises(errors.IncompleteListingError, match="at most 20 pages"):
            await client.list_all("/Users", ScimUser)
    finally:
        await client.aclose()
    assert hostile.requests == 1 + 20


async def test_a_scim_page_whose_resources_are_not_a_list_is_the_apps_error(
    hostile: HostileApp, scim: ScimClient
) -> None:
    hostile.mode = "wrong-shape"
    with pytest.raises(errors.StalledError, match="Resources: Input should be a valid list"):
        await scim.list_all("/Users", ScimUser)


@pytest.fixture
async def zendesk(hostile: HostileApp) -> AsyncIterator[ZendeskClient]:
    bounds = connection(f"{hostile.url}/api/v2", deadline=5.0, max_pages=5)
    client = ZendeskClient(bounds, retry=RETRY)
    yield client
    await client.aclose()


async def test_endless_zendesk_paging_stops_at_the_page_cap(
    hostile: HostileApp, zendesk: ZendeskClient
) -> None:
    hostile.mode = "endless-paging"  # has_more for ever
    with pytest.raises(errors.IncompleteListingError, match="still has_more after 5 pages"):
        await zendesk.list_all("/users", "users")
    assert hostile.requests == 5


async def test_a_zendesk_list_where_an_object_belongs_is_the_apps_error(
    hostile: HostileApp, zendesk: ZendeskClient
) -> None:
    hostile.mode = "wrong-shape"
    with pytest.raises(errors.StalledError, match="a JSON list where an object"):
        await zendesk.list_all("/users", "users")
    assert hostile.requests == 2


async def test_a_zendesk_custom_role_without_an_id_fails_that_observation_only(
    hostile: HostileApp, zendesk: ZendeskClient
) -> None:
    hostile.mode = "missing-ids"
    reconciler = ZendeskReconciler(connection(f"{hostile.url}/api/v2"), client=zendesk)
    observed = await reconciler.observe()
    assert observed.error is not None
    assert "GET /custom_roles" in observed.error
    assert "custom role without a numeric id" in observed.error


async def test_dense_json_under_the_size_cap_is_refused_before_it_is_parsed(
    hostile: HostileApp,
) -> None:
    hostile.mode = "dense-json"  # 32 KB of gzip, 32 MiB of `{},`: 11 million objects
    client = ScimClient(connection(f"{hostile.url}/scim/v2", max_bytes=32 * MIB), retry=RETRY)
    tracemalloc.start()
    try:
        with pytest.raises(errors.StalledError, match="past the 500,000"):
            await client.get_config()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        await client.aclose()
    assert peak < 16 * MIB  # stopped while streaming; json.loads alone would take ~770 MiB
    assert hostile.requests == 2  # a GET: tried once more, like any malformed body


def test_dense_json_is_refused_before_parsing_however_it_came() -> None:
    with pytest.raises(ValueError, match="500,001 JSON objects and arrays"):
        parse_json(b"[" + b"{}," * 499_999 + b"{}]")
    assert parse_json(b"[" + b"{}," * 499_998 + b"{}]") == [{}] * 499_999


def _scim_listing(resources: list[Any], seen: list[str]) -> Starlette:
    """A SCIM app whose every /Users page is `resources` (and which has no config)."""

    async def users(request: Request) -> JSONResponse:
        seen.append(request.url.query)
        body = {"totalResults": len(resources), "Resources": resources, "schemas": []}
        return JSONResponse(body)

    return Starlette(routes=[Route("/Users", users)])


async def test_a_page_larger_than_asked_for_is_refused_before_validation() -> None:
    seen: list[str] = []
    page = [{"id": str(i), "userName": f"u{i}@org.example"} for i in range(149)] + [1]
    with serving.serve(_scim_listing(page, seen)) as url:
        client = ScimClient(connection(url), retry=RETRY)  # pages of 100
        try:
            with pytest.raises(errors.StalledError, match="150 resources when 100 were asked"):
                await client.list_all("/Users", ScimUser)
        finally:
            await client.aclose()


async def test_a_wrong_shape_the_parser_trips_on_is_the_apps_error_and_retried() -> None:
    seen: list[str] = []
    with serving.serve(_scim_listing([{"schemas": [{}], "id": "1"}], seen)) as url:
        client = ScimClient(connection(url), retry=RETRY)
        try:
            with pytest.raises(errors.StalledError, match="wrong shape: unhashable"):
                await client.list_all("/Users", ScimUser)
        finally:
            await client.aclose()
    assert len(seen) == 2  # a GET: tried once more, like any malformed body


async def test_a_response_whose_body_fails_counts_as_an_error_not_its_status(
    hostile: HostileApp,
) -> None:
    recorder = Recorder()
    hooks = recorder.http_hooks("hostile")
    bounds = dataclasses.replace(connection(hostile.url, deadline=0.5), event_hooks=hooks)
    client = ScimClient(bounds, retry=RETRY)
    hostile.mode = "drip"  # headers say 200, the body never comes whole
    try:
        with pytest.raises(errors.TransientError, match="no complete response"):
            await client.request("GET", "/Users")
    finally:
        await client.aclose()

    def requests(code: str) -> float | None:
        labels = {"target": "hostile", "method": "GET", "code": code}
        return recorder.registry.get_sample_value("provisioner_http_requests_total", labels)

    assert requests("error") == 2
    assert requests("200") in (None, 0)


# --- what a well-behaved app sends still reads ------------------------------------------------


async def _users(_: Request) -> JSONResponse:
    users = [{"id": str(i), "userName": f"user{i}@org.example"} for i in range(200)]
    return JSONResponse({"totalResults": 200, "Resources": users, "schemas": []})


GZIPPED = Starlette(
    routes=[Route("/Users", _users)], middleware=[Middleware(GZipMiddleware, minimum_size=10)]
)


async def test_a_gzip_body_within_the_cap_is_decoded() -> None:
    with serving.serve(GZIPPED) as url:
        client = ScimClient(connection(url, max_bytes=MIB), retry=RETRY)
        try:
            response = await client.request("GET", "/Users")
        finally:
            await client.aclose()
    assert len(response.json()["Resources"]) == 200
    assert "content-encoding" not in response.headers  # decoded here, not to be decoded again
    assert len(gzip.compress(json.dumps(response.json()).encode())) < len(response.content)
