"""Shared fixtures: a real SCIM app (scim2-server under uvicorn) on 127.0.0.1, fresh per test.

One uvicorn server runs for the whole session (stopping one costs uvicorn ~0.2 s), and each test
mounts a new app with empty storage on it: `scim_app` is that app (reach into `scim_app.memory`
to seed or inspect what it stores), `scim_server` its base URL, and `scim_reconciler` the
adapter under test, connected with the right token and a small page size. `scim_mount` puts any
ASGI app (the test's app behind a misbehaving middleware, say) on the server instead.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

from controller.model import AppName
from emulators import scim_app as emulator
from reconcilers.base import AppConnection
from reconcilers.scim import ScimReconciler

SCIM_TOKEN = "scim-test-token-6f1c2d9a"
"""Not a secret; distinctive enough that a leak into any message is easy to spot."""
SCIM_APP = AppName("tool")


class _Mount:
    """The served ASGI app: forwards each request to whichever app the current test mounted."""

    def __init__(self) -> None:
        self.app: emulator.ASGIApp | None = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":  # the server's, not any one app's
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        assert self.app is not None, "no SCIM app mounted"
        await self.app(scope, receive, send)


@pytest.fixture(scope="session")
def _scim_host() -> Iterator[tuple[_Mount, str]]:
    mount = _Mount()
    with emulator.serve(mount) as url:
        yield mount, url


@pytest.fixture
def scim_mount(_scim_host: tuple[_Mount, str]) -> Iterator[Callable[[emulator.ASGIApp], str]]:
    mount, url = _scim_host

    def mount_app(app: emulator.ASGIApp) -> str:
        mount.app = app
        return url

    yield mount_app
    mount.app = None


@pytest.fixture
def scim_app() -> emulator.ScimApp:
    return emulator.make_scim_app(SCIM_TOKEN)


@pytest.fixture
def scim_server(scim_mount: Callable[[emulator.ASGIApp], str], scim_app: emulator.ScimApp) -> str:
    return scim_mount(scim_app)


@pytest.fixture
def scim_connection(scim_server: str) -> AppConnection:
    return AppConnection(app=SCIM_APP, endpoint=scim_server, token=SCIM_TOKEN, page_size=7)


@pytest.fixture
async def scim_reconciler(scim_connection: AppConnection) -> AsyncIterator[ScimReconciler]:
    reconciler = ScimReconciler(scim_connection)
    yield reconciler
    await reconciler.aclose()
