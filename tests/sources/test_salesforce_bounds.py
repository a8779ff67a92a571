"""A hostile answer from Salesforce's query endpoint is a failed read, within bounds (issue 15).

What answers for Salesforce here is a small server on 127.0.0.1 with a sound token endpoint and
a query endpoint that misbehaves (`tests.hostile.salesforce`): JSON nested 100,000 deep, a gzip
bomb, 11 million objects under the size cap, pages without end, a body that drips. Each time
`read()` returns no users and an error saying what was wrong (so rule 1 lets nothing be
deprovisioned; tests/hostile/test_hostile_salesforce.py shows it end to end), and memory stays
small.
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from controller.http_bodies import LateError
from controller.policy.schema import SalesforceSpec
from controller.sources.salesforce import SalesforceSource
from controller.sources.salesforce.bounded_http import BoundedHttp
from controller.sources.salesforce.retries import RetryPolicy
from emulators import serving
from tests.hostile.salesforce import QUERY, HostileSalesforce

MIB = 1024 * 1024
SECRET = "sf-hostile-secret-5b1c"


@pytest.fixture
def hostile() -> Iterator[tuple[HostileSalesforce, str]]:
    app = HostileSalesforce()
    with serving.serve(app.app) as url:
        yield app, url


async def _read(url: str, tmp_path: Path) -> tuple[Any, float]:
    """The source's read, and the peak of memory Python allocated during it."""
    spec = SalesforceSpec.model_validate(
        {
            "instanceUrl": url,
            "auth": {"flow": "client-credentials", "clientId": "ID", "clientSecretEnv": "SF_S"},
        }
    )

    source = SalesforceSource(
        "org",
        spec,
        base_dir=tmp_path,
        environ={"SF_S": SECRET},
        retry=RetryPolicy(attempts=2, backoff_seconds=0, jitter_seconds=0),
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
    hostile: tuple[HostileSalesforce, str], tmp_path: Path, mode: str, why: str
) -> None:
    app, url = hostile
    app.mode = mode
    read, peak = await _read(url, tmp_path)
    assert why in read.error
    assert peak < 100 * MIB  # a bomb is stopped at the cap, not inflated to 1 GiB


async def test_a_query_paging_without_end_stops_at_twice_what_total_size_needs(
    hostile: tuple[HostileSalesforce, str], tmp_path: Path
) -> None:
    app, url = hostile
    app.mode = "endless"  # a billion records claimed, one a page: a hard cap of 1,000 pages
    read, _ = await _read(url, tmp_path)
    assert "still not done after 1000 pages" in read.error
    assert app.queries == 1000


async def test_a_dripping_answer_ends_at_the_request_deadline(
    hostile: tuple[HostileSalesforce, str],
) -> None:
    app, url = hostile
    app.mode = "drip"  # a byte every half second: httpx's own timeout never trips
    http = BoundedHttp(httpx.AsyncClient(), deadline_seconds=0.5)
    try:
        with pytest.raises(LateError, match=r"no complete response within 0\.5 s"):
            await http.send("GET", f"{url}{QUERY}")
    finally:
        await http.aclose()
