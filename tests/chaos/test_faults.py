"""The fault proxy itself: each fault as a client sees it and as the app behind it sees it.

A tiny ASGI app (counting the requests that reach it, answering with Content-Length, chunked
or gzip bodies) sits behind `emulators.faults` on 127.0.0.1; httpx is the client.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from emulators import serving
from emulators.faults import Fault, FaultProxy, FaultSettings, serve_faults

BODY = json.dumps({"items": list(range(500))}).encode()


class Counting:
    """An app that counts what reached it: /plain has a Content-Length, /chunked is sent in
    parts, /gzip is gzip-encoded, /empty is a 204; a POST is counted as created."""

    def __init__(self) -> None:
        self.created = 0
        self.seen = 0

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        self.seen += 1
        while (await receive()).get("more_body"):
            pass
        if scope["method"] == "POST":
            self.created += 1
        if scope["path"] == "/empty":
            await send({"type": "http.response.start", "status": 204, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        headers = [(b"content-type", b"application/json")]
        if scope["path"] == "/chunked":  # no Content-Length: uvicorn sends it chunked
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            for start in range(0, len(BODY), 1000):
                part = BODY[start : start + 1000]
                await send({"type": "http.response.body", "body": part, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
            return
        body = gzip.compress(BODY) if scope["path"] == "/gzip" else BODY
        if scope["path"] == "/gzip":
            headers.append((b"content-encoding", b"gzip"))
        headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})


@pytest.fixture
def app() -> Iterator[tuple[Counting, str]]:
    counting = Counting()
    with serving.serve(counting) as url:
        yield counting, url


def _only(kind: Fault) -> FaultSettings:
    return FaultSettings(rate=1.0, seed=1, kinds=(kind,))


def test_without_faults_everything_passes_through_on_kept_alive_connections(
    app: tuple[Counting, str],
) -> None:
    counting, url = app
    with serve_faults(url, FaultSettings(rate=0.0)) as proxy, httpx.Client() as client:
        for path in ("/plain", "/chunked", "/gzip") * 10:
            response = client.get(proxy.url + path)
            assert response.status_code == 200 and response.content == BODY
        assert client.post(proxy.url + "/plain", json={"a": 1}).content == BODY
    assert response.headers["content-encoding"] == "gzip"  # decoded by httpx, not the proxy
    assert counting.seen == 31 and proxy.tally.requests == 31 and proxy.tally.total() == 0


def test_rate_limits_and_server_errors_are_answered_by_the_proxy(
    app: tuple[Counting, str],
) -> None:
    counting, url = app
    with serve_faults(url, _only(Fault.RATE_LIMITED)) as proxy, httpx.Client() as client:
        limited = [client.post(proxy.url + "/plain", json={}) for _ in range(20)]
    assert {r.status_code for r in limited} == {429}
    assert {r.headers["Retry-After"] for r in limited} == {"0", "1"}
    with serve_faults(url, _only(Fault.SERVER_ERROR)) as proxy, httpx.Client() as client:
        failed = [client.get(proxy.url + "/plain") for _ in range(30)]
    assert {r.status_code for r in failed} == {500, 502, 503}
    assert counting.seen == 0
    assert proxy.tally.by_kind()[Fault.SERVER_ERROR] == 30


def test_a_reset_before_forwarding_never_reaches_the_app(app: tuple[Counting, str]) -> None:
    counting, url = app
    with (
        serve_faults(url, _only(Fault.RESET_BEFORE)) as proxy,
        pytest.raises(httpx.ReadError, match="reset"),
    ):
        httpx.post(proxy.url + "/plain", json={})
    assert counting.created == 0 and proxy.tally.of(Fault.RESET_BEFORE, "POST") == 1


def test_a_reset_after_forwarding_leaves_the_app_having_acted(app: tuple[Counting, str]) -> None:
    counting, url = app
    with (
        serve_faults(url, _only(Fault.RESET_AFTER)) as proxy,
        pytest.raises(httpx.ReadError, match="reset"),
    ):
        httpx.post(proxy.url + "/plain", json={})
    assert counting.created == 1 and proxy.tally.of(Fault.RESET_AFTER, "POST") == 1


@pytest.mark.parametrize("path", ["/plain", "/chunked", "/gzip"])
def test_a_truncated_body_is_cut_after_a_head_that_promised_all_of_it(
    app: tuple[Counting, str], path: str
) -> None:
    counting, url = app
    with (
        serve_faults(url, _only(Fault.TRUNCATED)) as proxy,
        httpx.stream("GET", proxy.url + path) as response,
    ):
        assert response.status_code == 200
        if path != "/chunked":
            assert int(response.headers["content-length"]) > 0
        with pytest.raises(httpx.RemoteProtocolError):
            response.read()
    assert counting.seen == 1 and proxy.tally.by_kind()[Fault.TRUNCATED] == 1


def test_an_empty_body_that_cannot_be_cut_short_is_reset_instead(
    app: tuple[Counting, str],
) -> None:
    counting, url = app
    with (
        serve_faults(url, _only(Fault.TRUNCATED)) as proxy,
        pytest.raises(httpx.ReadError, match="reset"),
    ):
        httpx.delete(proxy.url + "/empty")
    assert counting.seen == 1
    assert proxy.tally.by_kind()[Fault.RESET_AFTER] == 1
    assert proxy.tally.by_kind()[Fault.TRUNCATED] == 0


def test_a_seed_decides_the_same_faults_and_the_rate_holds(app: tuple[Counting, str]) -> None:
    _, url = app
    outcomes = []
    for _ in range(2):
        settings = FaultSettings(rate=0.2, seed=42, kinds=(Fault.RATE_LIMITED, Fault.SERVER_ERROR))
        with serve_faults(url, settings) as proxy, httpx.Client() as client:
            outcomes.append([client.get(proxy.url + "/plain").status_code for _ in range(300)])
    assert outcomes[0] == outcomes[1]
    faulted = sum(status != 200 for status in outcomes[0])
    assert 0.12 * 300 < faulted < 0.28 * 300
    assert proxy.tally.total() == faulted


def test_a_bad_upstream_or_rate_is_refused_with_the_reason() -> None:
    with pytest.raises(ValueError, match="http://host:port"):
        FaultProxy("https://example.invalid", FaultSettings())
    with pytest.raises(ValueError, match=r"within 0\.\.1"):
        FaultProxy("http://127.0.0.1:9", FaultSettings(write_rate=2.0))
