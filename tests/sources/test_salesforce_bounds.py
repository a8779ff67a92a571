"""A hostile answer from Salesforce's query endpoint is a failed read, within bounds (issue 15).

What answers for Salesforce here is a small server on 127.0.0.1 with a sound token endpoint and
a query endpoint that misbehaves: JSON nested 100,000 deep, a gzip bomb, 11 million objects
under the size cap, pages without end, a body that drips. Each time `read()` returns no users and an
error saying what was wrong (so rule 1 lets nothing be deprovisioned), and memory stays small.
"""

from __future__ import annotations

import asyncio
import tracemalloc
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from controller.http_bodies import LateError
from controller.policy.schema import SalesforceSpec
from controller.sources.salesforce import SalesforceSource
from controller.sources.salesforce.bounded_http import BoundedHttp
from controller.sources.salesforce.client import RetryPolicy
from emulators import serving
from tests.hostile.server import DEEP, dense_json, gzip_bomb

MIB = 1024 * 1024
SECRET = "sf-hostile-secret-5b1c"
QUERY = "/services/data/v62.0/query"


class Hostile:
    """The query endpoint's misbehaviour; the token endpoint always answers soundly."""

    def __init__(self) -> None:
        self.mode = "deep-json"
        self.queries = 0

    async def token(self, request: Request) -> JSONResponse:
        root = str(request.base_url).rstrip("/")
        return JSONResponse({"access_token": "tok-hostile", "instance_url": root})

    async def query(self, request: Request) -> Response:
        self.queries += 1
        if self.mode == "deep-json":
            return Response(b"[" * DEEP + b"]" * DEEP, media_type="application/json")
        if self.mode in ("gzip-bomb", "dense-json"):
            body = gzip_bomb() if self.mode == "gzip-bomb" else dense_json()
            gzipped = {"Content-Encoding": "gzip"}
            return Response(body, media_type="application/json", headers=gzipped)
        if self.mode == "drip":
            return StreamingResponse(_drip(), media_type="application/json")
        # endless: every page says a billion records and has a next page
        page = {
            "totalSize": 10**9,
            "done": False,
            "records": [{"Id": f"005{self.queries:012d}"}],
            "nextRecordsUrl": f"{QUERY}/01g-{self.queries}",
        }
        return JSONResponse(page)


async def _drip() -> AsyncIterator[bytes]:
    for _ in range(600):  # bounded: five minutes at most
        yield b" "
        await asyncio.sleep(0.5)


@pytest.fixture
def hostile() -> Iterator[tuple[Hostile, str]]:
    app = Hostile()
    routes = [
        Route("/services/oauth2/token", app.token, methods=["POST"]),
        Route(QUERY, app.query),
        Route(QUERY + "/{cursor}", app.query),
    ]
    with serving.serve(Starlette(routes=routes)) as url:
        yield app, url


async def _read(url: str, tmp_path: Path) -> tuple[Any, float]:
    """The source's read, and the peak of memory Python allocated during it."""
    spec = SalesforceSpec.model_validate(
        {
            "instanceUrl": url,
            "auth": {"flow": "client-credentials", "clientId": "ID", "clientSecretEnv": "SF_S"},
        }
    )

    async def no_sleep(_: float) -> None:
        return None

    source = SalesforceSource(
        "org",
        spec,
        base_dir=tmp_path,
        environ={"SF_S": SECRET},
        retry=RetryPolicy(attempts=2),
        sleep=no_sleep,
    )
    tracemalloc.start()
    try:
        read = await source.read()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        await source.aclose()
    assert read.users == () and read.error is not None, read
    assert SECRET not in read.error and "tok-hostile" not in read.error
    return read, peak


@pytest.mark.parametrize(
    ("mode", "why"),
    [
        ("deep-json", "nested too deeply"),
        ("gzip-bomb", "larger than 64 MiB"),
        ("dense-json", "past the 500,000"),
    ],
)
async def test_a_hostile_query_answer_is_a_failed_read_within_bounds(
    hostile: tuple[Hostile, str], tmp_path: Path, mode: str, why: str
) -> None:
    app, url = hostile
    app.mode = mode
    read, peak = await _read(url, tmp_path)
    assert why in read.error
    assert peak < 100 * MIB  # a bomb is stopped at the cap, not inflated to 1 GiB


async def test_a_query_paging_without_end_stops_at_twice_what_total_size_needs(
    hostile: tuple[Hostile, str], tmp_path: Path
) -> None:
    app, url = hostile
    app.mode = "endless"  # a billion records claimed, one a page: a hard cap of 1,000 pages
    read, _ = await _read(url, tmp_path)
    assert "still not done after 1000 pages" in read.error
    assert app.queries == 1000


async def test_a_dripping_answer_ends_at_the_request_deadline(
    hostile: tuple[Hostile, str],
) -> None:
    app, url = hostile
    app.mode = "drip"  # a byte every half second: httpx's own timeout never trips
    http = BoundedHttp(httpx.AsyncClient(), deadline_seconds=0.5)
    try:
        with pytest.raises(LateError, match=r"no complete response within 0\.5 s"):
            await http.send("GET", f"{url}{QUERY}")
    finally:
        await http.aclose()
