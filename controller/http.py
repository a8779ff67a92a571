"""The controller's one HTTP port: /metrics for Prometheus, /healthz and /readyz for Kubernetes.

/healthz says the loop is alive (its heartbeat is recent); /readyz says the policy is loaded and
every app's last reconcile is recent and did not fail, naming the apps that are not ready. The
server runs inside the controller's own event loop and never installs signal handlers: signals
belong to the loop (controller.loop).
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from controller.metrics import Recorder

HEARTBEAT_STALE_SECONDS = 30.0


@dataclass
class Health:
    """What the loop tells the probes: heartbeats, policy state, and each app's last reconcile."""

    max_age_seconds: float = 960.0
    clock: Callable[[], float] = time.time
    last_beat: float | None = None
    policy_ok: bool = False
    apps: dict[str, tuple[bool, float]] = field(default_factory=dict)

    def beat(self, now: float) -> None:
        self.last_beat = now

    def policy_loaded(self, ok: bool) -> None:
        self.policy_ok = ok

    def app_reconciled(self, app: str, *, ok: bool, now: float) -> None:
        self.apps[app] = (ok, now)

    def alive(self) -> bool:
        return (
            self.last_beat is not None and self.clock() - self.last_beat < HEARTBEAT_STALE_SECONDS
        )

    def not_ready(self) -> dict[str, str]:
        """Why the controller is not ready, by app (or `policy`); empty when it is."""
        reasons: dict[str, str] = {}
        if not self.policy_ok:
            reasons["policy"] = "no valid policy loaded"
        if not self.apps:
            reasons["apps"] = "no reconcile has finished yet"
        now = self.clock()
        for app, (ok, at) in sorted(self.apps.items()):
            if not ok:
                reasons[app] = "the last reconcile failed"
            elif now - at > self.max_age_seconds:
                reasons[app] = f"the last reconcile was {now - at:.0f}s ago"
        return reasons


def make_app(recorder: Recorder, health: Health) -> Starlette:
    async def metrics(_: Request) -> Response:
        body, content_type = recorder.exposition()
        return Response(body, media_type=content_type)

    async def healthz(_: Request) -> Response:
        alive = health.alive()
        return JSONResponse({"alive": alive}, status_code=200 if alive else 503)

    async def readyz(_: Request) -> Response:
        reasons = health.not_ready()
        return JSONResponse(
            {"ready": not reasons, "notReady": reasons}, status_code=503 if reasons else 200
        )

    return Starlette(
        routes=[
            Route("/metrics", metrics),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
        ]
    )


class _Server(uvicorn.Server):
    def install_signal_handlers(self) -> None:
        """Signals are the loop's (SIGHUP reloads, SIGTERM drains), not uvicorn's."""


@dataclass
class Running:
    server: uvicorn.Server
    task: asyncio.Task[None]


async def start(app: Starlette, *, host: str, port: int) -> Running:
    """Serve `app` in this event loop; returns once it listens (the port is bound here)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    server = _Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started and not task.done():  # noqa: ASYNC110 - uvicorn offers no event
        await asyncio.sleep(0.01)
    if task.done():
        task.result()  # raises why it could not start
    return Running(server, task)


async def stop(running: Running) -> None:
    running.server.should_exit = True
    await running.task
