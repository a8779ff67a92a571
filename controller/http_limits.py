"""Bounds on the metrics port's connections, so that clients that never finish a request cannot
starve the controller of file handles (issue 15: 1,000 half-open connections did).

uvicorn alone does not bound them. Its keep-alive timeout starts only after a first response,
so a connection that sends nothing, or half a request line, is held for ever; its
`limit_concurrency` answers 503 to requests beyond the limit but still accepts and holds every
connection; `h11_max_incomplete_event_size` (16 KiB by default, kept) bounds the bytes buffered
per connection, not their number. So the port's protocol here adds:

- a header deadline: a connection that has not sent a complete request head within
  `header_timeout` seconds of connecting (or of its last response) is closed;
- a connection limit: past `max_connections`, a new connection closes the oldest one still
  waiting for its request head (the newest is likelier to be a real scrape or probe), or
  itself when every connection is busy serving;
- a small accept batch and listen queue (`BACKLOG`): asyncio accepts up to `backlog`
  connections per loop turn, so the burst held before the limit closes them stays small;
- `quiet_accept_errors`: when accept() still fails for want of file handles (EMFILE), asyncio
  logs a traceback per failed accept, many a second (41 MB in a second in the issue); this logs
  the first and then at most one line per `ACCEPT_ERROR_LOG_SECONDS`, as does the limit when it
  closes connections.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

MAX_CONNECTIONS = 64
"""Prometheus and the kubelet's probes need a handful; this leaves room and caps the handles."""
HEADER_TIMEOUT_SECONDS = 10.0
"""Time to send a whole request head; Prometheus sends one at once."""
BACKLOG = 64
"""The listen queue, and the most connections asyncio accepts in one turn of the loop."""
ACCEPT_ERROR_LOG_SECONDS = 60.0
ACCEPT_ERROR = "socket.accept() out of system resource"

log = logging.getLogger("provisioner.http")


class Sparse:
    """Logs one kind of message once per `seconds`, saying how many more were not logged."""

    def __init__(self, seconds: float = ACCEPT_ERROR_LOG_SECONDS) -> None:
        self.seconds = seconds
        self.last: float | None = None
        self.suppressed = 0

    def log(self, level: int, message: str, *args: object) -> None:
        now = time.monotonic()
        if self.last is not None and now - self.last < self.seconds:
            self.suppressed += 1
            return
        log.log(level, f"{message} (%d more not logged)", *args, self.suppressed)
        self.last, self.suppressed = now, 0


class BoundedConfig(uvicorn.Config):
    """uvicorn's Config with this port's limits, and the connections waiting for a request."""

    def __init__(
        self,
        app: Any,
        *,
        max_connections: int = MAX_CONNECTIONS,
        header_timeout: float = HEADER_TIMEOUT_SECONDS,
        **options: Any,
    ) -> None:
        super().__init__(app, http=BoundedH11Protocol, backlog=BACKLOG, **options)
        self.max_connections = max_connections
        self.header_timeout = header_timeout
        self.over_limit = Sparse()
        self.waiting: dict[BoundedH11Protocol, None] = {}
        """Connections waiting for a request head, oldest first (a dict keeps order)."""


class BoundedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a request-head deadline and a connection limit."""

    config: BoundedConfig
    _deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._await_request()
        open_ = sum(1 for c in self.connections if not c.transport.is_closing())
        if open_ > self.config.max_connections:
            oldest = next((c for c in self.config.waiting if c is not self), self)
            oldest.drop()
            self.config.over_limit.log(
                logging.WARNING,
                "metrics port: more than %d connections; closing the oldest idle ones",
                self.config.max_connections,
            )

    def handle_events(self) -> None:
        before = self.cycle
        super().handle_events()
        if self.cycle is not before:  # a request head arrived: it is served, not timed out
            self._stop_waiting()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and self._idle():
            self._await_request()  # the next request head is due within the deadline too

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_waiting()
        super().connection_lost(exc)

    def drop(self) -> None:
        """Close the connection now: it is over the limit, or its request head is late."""
        self._stop_waiting()
        if not self.transport.is_closing():
            self.transport.abort()

    def _idle(self) -> bool:
        return self.cycle is None or self.cycle.response_complete

    def _await_request(self) -> None:
        self._stop_waiting()
        self.config.waiting[self] = None
        self._deadline = self.loop.call_later(self.config.header_timeout, self._late)

    def _late(self) -> None:
        self._deadline = None
        if self._idle():
            self.drop()

    def _stop_waiting(self) -> None:
        self.config.waiting.pop(self, None)
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None


def quiet_accept_errors(loop: asyncio.AbstractEventLoop) -> None:
    """Log asyncio's "accept() out of system resource" once per ACCEPT_ERROR_LOG_SECONDS, with
    how many were suppressed; every other exception goes to the handler that was there."""
    previous = loop.get_exception_handler()
    sparse = Sparse()

    def handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        if context.get("message") == ACCEPT_ERROR:
            sparse.log(
                logging.ERROR,
                "metrics port: accept() failed: %s; connections wait until file handles are free",
                context.get("exception"),
            )
        elif previous is not None:
            previous(loop, context)
        else:
            loop.default_exception_handler(context)

    loop.set_exception_handler(handler)
