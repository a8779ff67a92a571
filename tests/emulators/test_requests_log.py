"""The request log every served emulator sits behind: what it keeps, how it is read, holds.

A small echo app served through `emulators.serving` over a real socket; the log is read in
process (`requests_log.at`) and over its admin endpoint. The bound is shown by calling the
middleware directly, without a socket, more times than it keeps.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from emulators import requests_log, serving
from emulators.requests_log import RequestLog
from emulators.world import URLS, example_world


async def echo(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Answers every request with its own body, so a test sees the app still gets it."""
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})


@pytest.fixture
def served() -> Iterator[tuple[str, RequestLog]]:
    with serving.serve(echo) as root:
        yield root, requests_log.at(root)


def test_every_request_is_kept_in_order_and_the_app_still_gets_its_body(
    served: tuple[str, RequestLog],
) -> None:
    root, log = served
    with httpx.Client(base_url=root) as client:
        assert client.get("/v2/Users", params={"filter": 'externalId eq "005x"'}).text == ""
        assert client.patch("/v2/Groups/g1", json={"Operations": []}).text == '{"Operations":[]}'
        client.delete("/v2/Users/u1")

    entries = log.entries()
    assert [str(entry) for entry in entries] == [
        "GET /v2/Users?filter=externalId+eq+%22005x%22",
        "PATCH /v2/Groups/g1",
        "DELETE /v2/Users/u1",
    ]
    assert entries[0].params == {"filter": ['externalId eq "005x"']}
    assert entries[1].json() == {"Operations": []}
    assert entries[2].json() is None
    assert [entry.seq for entry in entries] == [1, 2, 3]
    assert requests_log.at(f"{root}/v2/Users") is log  # any URL under the root


def test_since_a_mark_only_what_came_after(served: tuple[str, RequestLog]) -> None:
    root, log = served
    httpx.get(f"{root}/before")
    mark = log.mark()
    httpx.get(f"{root}/after")

    assert [entry.path for entry in log.entries(since=mark)] == ["/after"]


def test_the_admin_endpoint_lists_clears_and_is_not_itself_logged(
    served: tuple[str, RequestLog],
) -> None:
    root, log = served
    with httpx.Client(base_url=root) as client:
        client.get("/a", params={"x": "1"})
        client.post("/b", content=b"hello")
        listed = client.get(requests_log.ENDPOINT).json()
        after_first = client.get(requests_log.ENDPOINT, params={"since": 1}).json()
        assert client.get(requests_log.ENDPOINT, params={"since": "x"}).status_code == 400
        assert client.delete(requests_log.ENDPOINT).status_code == 204
        emptied = client.get(requests_log.ENDPOINT).json()
        client.get("/c")

    assert [(e["method"], e["path"], e["query"], e["body"]) for e in listed] == [
        ("GET", "/a", "x=1", ""),
        ("POST", "/b", "", "hello"),
    ]
    assert [e["path"] for e in after_first] == ["/b"]
    assert emptied == []
    assert [(entry.seq, entry.path) for entry in log.entries()] == [(3, "/c")]


def test_a_held_request_waits_logged_until_the_hold_ends(served: tuple[str, RequestLog]) -> None:
    root, log = served
    answers: list[str] = []
    with log.hold(lambda entry: entry.method == "POST"):
        assert httpx.get(f"{root}/reads-pass").status_code == 200
        writer = threading.Thread(
            target=lambda: answers.append(httpx.post(f"{root}/w", content=b"1", timeout=30).text)
        )
        writer.start()
        deadline = time.monotonic() + 30
        while not log.waiting and time.monotonic() < deadline:
            time.sleep(0.02)
        assert log.waiting == 1
        assert [entry.path for entry in log.entries()] == ["/reads-pass", "/w"]
        assert answers == []
    writer.join(timeout=30)

    assert answers == ["1"]
    assert log.waiting == 0


def test_only_the_last_requests_are_kept() -> None:
    log = RequestLog(echo)

    async def send_all() -> None:
        async def sent(message: dict[str, Any]) -> None:
            return None

        for number in range(requests_log.KEPT + 5):
            scope = {"type": "http", "method": "GET", "path": f"/{number}", "query_string": b""}

            async def receive() -> dict[str, Any]:
                return {"type": "http.request", "body": b"", "more_body": False}

            await log(scope, receive, sent)

    asyncio.run(send_all())

    entries = log.entries()
    assert len(entries) == requests_log.KEPT
    assert (entries[0].path, entries[-1].path) == ("/5", f"/{requests_log.KEPT + 4}")
    assert log.mark() == requests_log.KEPT + 5


def test_a_body_is_kept_only_in_part() -> None:
    log = RequestLog(echo)
    big = b"x" * (requests_log.BODY_KEPT + 10)

    async def one() -> None:
        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": big, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            return None

        scope = {"type": "http", "method": "PUT", "path": "/", "query_string": b""}
        await log(scope, receive, send)

    asyncio.run(one())

    (entry,) = log.entries()
    assert len(entry.body) == requests_log.BODY_KEPT
    assert entry.json() is None


def test_every_emulator_of_the_example_world_has_its_log(tmp_path: Any) -> None:
    with example_world(tmp_path) as world:
        environ = world.environ
        httpx.get(f"{environ['SLACK_SCIM_URL']}/Users", params={"count": 1})
        httpx.get(f"{environ['ZENDESK_URL']}/users.json")
        logs = {name: world.requests(name) for name in URLS}

        assert len({id(log) for log in logs.values()}) == 5
        assert [str(e) for e in logs["slack"].entries()] == ["GET /scim/v2/Users?count=1"]
        assert [str(e) for e in logs["zendesk"].entries()] == ["GET /api/v2/users.json"]
    with pytest.raises(KeyError):
        requests_log.at(environ["SLACK_SCIM_URL"])
