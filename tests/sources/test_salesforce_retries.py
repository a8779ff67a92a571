"""What the source retries and what it does not, against the emulator with a wire that spoils
chosen answers: a page cut short or not JSON (a well-formed 200), a 500 or a dropped
connection at the token endpoint are tried again; an auth refusal is final at once; a page
that never comes whole fails the read after the budget (4 attempts), naming what was wrong; a
page too large or nested too deeply fails at once, as it would come again the same."""

from __future__ import annotations

import gzip
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import httpx
import pytest
import stamina

from tests.sources.conftest import Wire, World, user

MakeWorld = Callable[..., World]
Spoil = Callable[[httpx.Request, int], httpx.Response | Exception | None]
"""(request, how many requests to its path came before) -> a replacement answer, or None."""


@pytest.fixture(autouse=True)
def no_waiting() -> Iterator[None]:
    with stamina.set_testing(True, attempts=100, cap=True):  # the policy's attempts, no waits
        yield


@dataclass
class Spoiling(Wire):
    spoil: Spoil = field(default=lambda request, seen: None)
    seen: dict[str, int] = field(default_factory=dict)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        seen = self.seen.get(path, 0)
        self.seen[path] = seen + 1
        instead = self.spoil(request, seen)
        if isinstance(instead, Exception):
            self.requests.append(request)
            raise instead
        if instead is not None:
            self.requests.append(request)
            return instead
        return await super().handle_async_request(request)


def _query(request: httpx.Request) -> bool:
    return "/query" in request.url.path and "FROM User " in request.url.params.get("q", "")


def _cut(request: httpx.Request, seen: int) -> httpx.Response | None:
    if _query(request) and seen == 0:
        return httpx.Response(200, content=b'{"totalSize": 3, "done": true, "recor')
    if _query(request) and seen == 1:
        return httpx.Response(200, content=b"<html>a proxy's page</html>")
    return None


async def test_a_page_cut_short_or_not_json_is_read_again(make_world: MakeWorld) -> None:
    world = make_world([user(1), user(2)])
    wire = Spoiling(spoil=_cut)
    read = await world.source(wire=wire).read()
    assert read.ok, read.error
    assert len(read.users) == 3
    assert sum(_query(r) for r in wire.requests) == 3  # cut, not JSON, then whole


async def test_a_page_that_never_comes_whole_fails_the_read_after_four_tries(
    make_world: MakeWorld,
) -> None:
    world = make_world([user(1)])
    spoil: Spoil = lambda r, _: httpx.Response(200, content=b"{") if _query(r) else None  # noqa: E731
    wire = Spoiling(spoil=spoil)
    read = await world.source(wire=wire).read()
    assert read.users == () and read.error is not None
    assert read.error.startswith(
        "reading users: GET /services/data/v62.0/query: the body is not JSON: "
    )
    assert sum(_query(r) for r in wire.requests) == 4


@pytest.mark.parametrize(
    "failure",
    [
        httpx.Response(500),
        httpx.Response(503, content=b"<html>down</html>"),
        httpx.Response(429),
        httpx.ConnectError("connection reset by peer"),
        httpx.RemoteProtocolError("peer closed connection without sending complete message body"),
        httpx.Response(200, content=b'{"access_token": "00D'),
    ],
    ids=["500", "503-html", "429", "reset", "cut", "cut-200"],
)
async def test_the_token_request_is_retried_when_it_fails_in_passing(
    make_world: MakeWorld, failure: httpx.Response | Exception
) -> None:
    world = make_world([user(1)])
    token = "/services/oauth2/token"
    spoil: Spoil = lambda r, seen: failure if r.url.path == token and seen < 2 else None  # noqa: E731
    wire = Spoiling(spoil=spoil)
    read = await world.source(wire=wire).read()
    assert read.ok, read.error
    assert wire.seen[token] == 3


async def test_an_auth_refusal_is_not_retried(make_world: MakeWorld) -> None:
    world = make_world([user(1)])
    wire = Wire()
    read = await world.source(wire=wire, auth={"username": "nobody@orion.example"}).read()
    assert read.error is not None and "invalid_grant" in read.error
    assert wire.count("/services/oauth2/token") == 1


async def test_a_token_endpoint_that_keeps_failing_fails_the_read_after_four_tries(
    make_world: MakeWorld,
) -> None:
    world = make_world([user(1)])
    wire = Spoiling(spoil=lambda r, _: httpx.Response(502) if "oauth2" in r.url.path else None)
    read = await world.source(wire=wire).read()
    assert read.error is not None
    assert read.error.endswith("/services/oauth2/token: HTTP 502")
    assert wire.seen["/services/oauth2/token"] == 4


def _deep(request: httpx.Request, seen: int) -> httpx.Response | None:
    return httpx.Response(200, content=b"[" * 100_000) if _query(request) else None


def _bomb(request: httpx.Request, seen: int) -> httpx.Response | None:
    if not _query(request):
        return None
    headers = {"Content-Encoding": "gzip"}
    return httpx.Response(200, content=BOMB, headers=headers)


BOMB = gzip.compress(b" " * (65 * 1024 * 1024), compresslevel=9)
"""A small gzip body that inflates past the source's 64 MiB bound."""


@pytest.mark.parametrize(
    ("spoil", "why"), [(_deep, "nested too deeply"), (_bomb, "larger than 64 MiB")]
)
async def test_a_page_too_deep_or_too_large_fails_at_once_without_a_retry(
    make_world: MakeWorld, spoil: Spoil, why: str
) -> None:
    """The same page would come again and fail the same way: downloading it four times (with
    back-off) only spent time and the org's API allowance."""
    world = make_world([user(1)])
    wire = Spoiling(spoil=spoil)
    read = await world.source(wire=wire).read()
    assert read.users == () and read.error is not None
    assert why in read.error
    assert read.error.startswith("reading users: GET /services/data/v62.0/query: ")
    assert sum(_query(r) for r in wire.requests) == 1
