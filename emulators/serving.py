"""Serves any ASGI app (scim2-server, our emulators) with uvicorn on 127.0.0.1, in a thread.

The demo and the tests need real servers over real sockets, started and stopped from a `with`
block in the same process; this is the one place that knows how. Every app served here sits
behind a `requests_log.RequestLog`, so a test can read what it was asked (`requests_log.at`).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import threading
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import uvicorn

from emulators import requests_log

ASGIApp = Callable[
    [
        dict[str, Any],
        Callable[[], Awaitable[dict[str, Any]]],
        Callable[[dict[str, Any]], Awaitable[None]],
    ],
    Awaitable[None],
]
"""An ASGI 3 application, typed as loosely as scim2-server types its own."""

STARTUP_TIMEOUT_SECONDS = 10.0


class _Server(uvicorn.Server):
    """A uvicorn server that tells the starting thread when it listens, or that it never will."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = threading.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        try:
            await super().startup(sockets=sockets)
        finally:
            self.ready.set()


def free_port() -> int:
    """A port free on 127.0.0.1 now, for a process started later that must be told its port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _run(server: _Server, sock: socket.socket) -> None:
    try:
        asyncio.run(server.serve(sockets=[sock]))
    finally:
        server.ready.set()  # a failed start must not leave `serve` waiting


@contextlib.contextmanager
def serve(
    app: ASGIApp,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    ssl_certfile: str | None = None,
    ssl_keyfile: str | None = None,
) -> Iterator[str]:
    """Serve `app` in a background thread; yield its root URL once it accepts connections.

    Port 0 picks a free port: the socket is bound here, so the URL is known before uvicorn runs.
    With `ssl_certfile` and `ssl_keyfile` it serves TLS and the URL is https (for clients that
    insist on https, such as simple-salesforce). Leaving the block stops the server and waits
    for its thread.
    """
    # IPPROTO_TCP, not the default 0: asyncio only disables Nagle on sockets whose proto says
    # TCP, and with Nagle on, every response uvicorn writes in two parts waits ~40 ms for an ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    bound_port = sock.getsockname()[1]
    logged = requests_log.RequestLog(app)
    config = uvicorn.Config(
        logged,
        loop="asyncio",
        http="h11",
        ws="none",
        lifespan="on",
        log_level="warning",
        ssl_certfile=ssl_certfile,
        ssl_keyfile=ssl_keyfile,
    )
    server = _Server(config)
    thread = threading.Thread(target=_run, args=(server, sock), daemon=True, name="asgi-server")
    thread.start()
    try:
        if not server.ready.wait(STARTUP_TIMEOUT_SECONDS) or not server.started:
            raise RuntimeError(f"the server did not start on {host}:{bound_port}")
        scheme = "https" if ssl_certfile else "http"
        root = f"{scheme}://{host}:{bound_port}"
        with requests_log.serving(root, logged):
            yield root
    finally:
        server.should_exit = True
        thread.join()
        sock.close()


def wait_for_stop() -> None:
    """Block a standalone emulator's main thread until Ctrl+C or SIGTERM."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with contextlib.suppress(KeyboardInterrupt):
        stop.wait()
