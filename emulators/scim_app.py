"""A stand-in SCIM app: scim2-server's ASGI application behind uvicorn, on 127.0.0.1.

The demo, the adapter tests and the end-to-end tests need a real, third-party SCIM service
provider reachable over a socket, not a fake of our own making. `make_scim_app` builds one
(in-memory storage, optional static bearer token), `serve` runs it in a background thread for
the length of a `with` block (through `emulators.serving`), and `python -m emulators.scim_app`
serves one standalone. Tests reach into `ScimApp.memory` to add or inspect resources behind
the API's back.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
from collections.abc import Iterator
from typing import Any

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

from emulators import serving
from emulators.serving import ASGIApp


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


@contextlib.contextmanager
def serve(app: ASGIApp, *, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serve a SCIM app in a background thread; yield its SCIM base URL (`.../v2`)."""
    with serving.serve(app, host=host, port=port) as root:
        yield f"{root}/v2"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve a stand-in SCIM app (scim2-server).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9201)
    parser.add_argument("--token", help="require this bearer token (default: none required)")
    args = parser.parse_args(argv)
    with serve(make_scim_app(args.token), host=args.host, port=args.port) as url:
        print(f"Serving SCIM on {url}; Ctrl+C or SIGTERM stops it.", flush=True)
        serving.wait_for_stop()


if __name__ == "__main__":
    main()
