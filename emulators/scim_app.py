"""A stand-in SCIM app: scim2-server's ASGI application behind uvicorn, on 127.0.0.1.

The demo, the adapter tests and the end-to-end tests need a real, third-party SCIM service
provider reachable over a socket, not a fake of our own making. `make_scim_app` builds one
(in-memory storage, optional static bearer token), `serve` runs any ASGI app in a background
thread for the length of a `with` block, and `python -m emulators.scim_app` serves one
standalone. Tests reach into `ScimApp.memory` to add or inspect resources behind the API's back.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import signal
import socket
import threading
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import uvicorn
from scim2_models import Resource, ScimProvider, UnauthorizedException
from scim2_server.applications.asgi import ASGIApplication
from scim2_server.memory import AsyncInMemoryStorage, InMemoryStorage
from scim2_server.requests import ScimRequest
from scim2_server.testserver.application import BEARER_TOKEN_SCHEME
from scim2_server.utils import (
    load_default_resource_types,
    load_default_schemas,
    load_default_service_provider_config,
)

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


@functools.cache
def _provider(*, bearer: bool) -> ScimProvider:
    """The default schemas and resource types; the bearer scheme announced when one is required.

    A provider is immutable, and building one takes most of the time a new app takes to make.
    """
    config = load_default_service_provider_config()
    if bearer:
        config.authentication_schemes = [
            *(config.authentication_schemes or []),
            BEARER_TOKEN_SCHEME,
        ]
    return ScimProvider.from_discovery(
        load_default_schemas().values(), load_default_resource_types().values(), config=config
    )


class ScimApp(ASGIApplication):
    """scim2-server over fresh in-memory storage, refusing requests without the bearer token.

    Like scim2-server's `BearerTokenApplication` (WSGI), it accepts everything when no token is
    set; /ServiceProviderConfig never needs authentication (RFC 7643 section 5).
    """

    def __init__(self, token: str | None = None) -> None:
        self.memory = InMemoryStorage()
        """The resources, for tests to seed or inspect (`memory.resources = []` empties it)."""
        super().__init__(AsyncInMemoryStorage(self.memory), _provider(bearer=token is not None))
        self.token = token

    def add(self, resource: Resource[Any]) -> Resource[Any]:
        """Store a User or Group directly, as if made by hand in the app; returns it with its id."""
        schema = str(type(resource).__schema__)
        (resource_type,) = (rt for rt in self.provider.resource_types if str(rt.schema_) == schema)
        return self.memory.create(resource_type, resource)

    def check_auth(self, request: ScimRequest) -> None:
        if self.token is None:
            return
        scheme, _, token = (request.header("Authorization") or "").partition(" ")
        if scheme.lower() != "bearer" or token != self.token:
            raise UnauthorizedException


def make_scim_app(token: str | None = None) -> ScimApp:
    """A new SCIM app with empty storage; `token` set means every request must carry it."""
    return ScimApp(token)


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


def _run(server: _Server, sock: socket.socket) -> None:
    try:
        asyncio.run(server.serve(sockets=[sock]))
    finally:
        server.ready.set()  # a failed start must not leave `serve` waiting


@contextlib.contextmanager
def serve(app: ASGIApp, *, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serve `app` in a background thread; yield its SCIM base URL once it accepts connections.

    Port 0 picks a free port: the socket is bound here, so the URL is known before uvicorn runs.
    Leaving the block stops the server and waits for its thread.
    """
    # IPPROTO_TCP, not the default 0: asyncio only disables Nagle on sockets whose proto says
    # TCP, and with Nagle on, every response uvicorn writes in two parts waits ~40 ms for an ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    bound_port = sock.getsockname()[1]
    config = uvicorn.Config(
        app, loop="asyncio", http="h11", ws="none", lifespan="on", log_level="warning"
    )
    server = _Server(config)
    thread = threading.Thread(target=_run, args=(server, sock), daemon=True, name="scim-app")
    thread.start()
    try:
        if not server.ready.wait(STARTUP_TIMEOUT_SECONDS) or not server.started:
            raise RuntimeError(f"the SCIM app did not start on {host}:{bound_port}")
        yield f"http://{host}:{bound_port}/v2"
    finally:
        server.should_exit = True
        thread.join()
        sock.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve a stand-in SCIM app (scim2-server).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9201)
    parser.add_argument("--token", help="require this bearer token (default: none required)")
    args = parser.parse_args(argv)
    with serve(make_scim_app(args.token), host=args.host, port=args.port) as url:
        print(f"Serving SCIM on {url}; Ctrl+C or SIGTERM stops it.", flush=True)
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        with contextlib.suppress(KeyboardInterrupt):
            stop.wait()


if __name__ == "__main__":
    main()
