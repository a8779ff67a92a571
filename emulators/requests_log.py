"""What each emulator was asked, in order: the servers' side of a client's conversation.

Some tests must show what a client did at the HTTP level rather than what it says it did: that
a targeted cycle (issue 16) listed no app and wrote only the changed user's resources, say.
`RequestLog` is ASGI middleware that `emulators.serving` puts in front of every app it serves.
It keeps the last `KEPT` requests (method, path, raw query, the start of the body) in memory,
read in-process through `at(url)` or over HTTP at `GET /_emulator/requests` (`?since=N`: only
those after the first N; `DELETE` forgets them). A test can also hold requests back (`hold`)
to make something happen between a request's arrival and its answer. Requests to the log's own
endpoint are not logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import threading
from collections import deque
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

if TYPE_CHECKING:  # serving puts this middleware in front of every app it serves
    from emulators.serving import ASGIApp

KEPT = 10_000
"""Requests kept per emulator; older ones are forgotten (their sequence numbers stay taken)."""
BODY_KEPT = 4096
"""Bytes of each body kept: enough for one user's or one membership's request."""
ENDPOINT = "/_emulator/requests"

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


@dataclass(frozen=True)
class Entry:
    """One request as the server received it."""

    seq: int
    """Its place among every request this server received, from 1."""
    method: str
    path: str
    query: str
    """The raw query string, still percent-encoded."""
    body: str
    """The start of the body (BODY_KEPT bytes), decoded as UTF-8 with replacement."""

    @property
    def params(self) -> dict[str, list[str]]:
        """The query's parameters, decoded."""
        return parse_qs(self.query, keep_blank_values=True)

    def json(self) -> Any:
        """The body as JSON; None when there is none or it was cut short."""
        try:
            return json.loads(self.body) if self.body else None
        except ValueError:
            return None

    def __str__(self) -> str:
        return f"{self.method} {self.path}{'?' + self.query if self.query else ''}"


class RequestLog:
    """Records every HTTP request to `app` before passing it on; thread-safe to read."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._entries: deque[Entry] = deque(maxlen=KEPT)
        self._seq = itertools.count(1)
        self._lock = threading.Lock()
        self._holds: list[Callable[[Entry], bool]] = []
        self.waiting = 0
        """Requests being held back right now."""

    def entries(self, since: int = 0) -> list[Entry]:
        """The requests kept, oldest first; with `since`, only those after the first `since`."""
        with self._lock:
            return [entry for entry in self._entries if entry.seq > since]

    def mark(self) -> int:
        """How many requests were received so far: `entries(since=mark())` is what comes next."""
        with self._lock:
            return self._entries[-1].seq if self._entries else 0

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    @contextlib.contextmanager
    def hold(self, which: Callable[[Entry], bool]) -> Iterator[None]:
        """Requests `which` picks, arriving within the block, wait (logged) until it ends."""
        with self._lock:
            self._holds.append(which)
        try:
            yield
        finally:
            with self._lock:
                self._holds.remove(which)

    def _held(self, entry: Entry) -> bool:
        with self._lock:
            return any(which(entry) for which in self._holds)

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["path"] == ENDPOINT:
            await self._serve(scope, send)
            return
        body = await _read_body(receive)
        with self._lock:
            entry = Entry(
                next(self._seq),
                scope["method"],
                scope["path"],
                scope.get("query_string", b"").decode("latin-1"),
                body[:BODY_KEPT].decode("utf-8", "replace"),
            )
            self._entries.append(entry)
        if self._held(entry):
            self.waiting += 1
            try:
                # Polled: the test's thread ends the hold, outside this event loop.
                while self._held(entry):  # noqa: ASYNC110
                    await asyncio.sleep(0.02)
            finally:
                self.waiting -= 1
        await self.app(scope, _replay(body, receive), send)

    async def _serve(self, scope: dict[str, Any], send: Send) -> None:
        status, answer = 200, b""
        if scope["method"] == "GET":
            since = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("since", ["0"])
            try:
                found = self.entries(int(since[0]))
            except ValueError:
                status, found = 400, []
            answer = json.dumps([asdict(entry) for entry in found]).encode()
        elif scope["method"] == "DELETE":
            self.clear()
            status = 204
        else:
            status = 405
        headers = [(b"content-type", b"application/json")] if answer else []
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": answer})


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks)
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that hands over the body already read, then whatever the client sends next
    (its disconnect, in time)."""
    sent = False

    async def replayed() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replayed


_SERVING: dict[str, RequestLog] = {}
_SERVING_LOCK = threading.Lock()


@contextlib.contextmanager
def serving(root: str, log: RequestLog) -> Iterator[None]:
    """`log` is what `at` answers for URLs under `root` while the block runs."""
    key = urlsplit(root).netloc
    with _SERVING_LOCK:
        _SERVING[key] = log
    try:
        yield
    finally:
        with _SERVING_LOCK:
            if _SERVING.get(key) is log:
                del _SERVING[key]


def at(url: str) -> RequestLog:
    """The log of the server serving `url` (any URL under its root) in this process."""
    with _SERVING_LOCK:
        return _SERVING[urlsplit(url).netloc]
