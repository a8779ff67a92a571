"""The controller's one HTTP port: /metrics for Prometheus, /healthz and /readyz for Kubernetes.

/healthz says the loop is alive: its heartbeat is recent, and a cycle has run to its end (or an
operation of a long one has finished) within the bound the loop derives from --interval, so
Kubernetes restarts a controller whose cycles hang or keep failing whole (not one that waits for
a first policy that loads: a restart cannot give it one). /readyz says a policy
is loaded and every app's last reconcile is recent and did not fail, naming the apps that are
not ready and why. The loop tells `Health` what happens; the probes only read it. The server
runs inside the controller's own event loop and never touches signal handlers: SIGHUP,
SIGUSR1, SIGTERM and SIGINT belong to the loop (controller.loop), and uvicorn would otherwise
take SIGTERM/SIGINT for itself and re-raise them when it stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from controller import http_limits
from controller.metrics import Recorder

DEFAULT_PORT = 9108
HEARTBEAT_STALE_SECONDS = 30.0


@dataclass
class Health:
    """What the loop tells the probes: heartbeats, policy state, and each app's last reconcile.

    Times are Unix seconds; `clock` is what the probes compare them with (injected in tests).
    """

    max_age_seconds: float = 960.0
    """An app whose last reconcile is older than this is not ready (a few schedule intervals)."""
    heartbeat_timeout_seconds: float = HEARTBEAT_STALE_SECONDS
    """The loop is dead to /healthz when it has not beaten for this long."""
    cycle_bound_seconds: float | None = None
    """The loop is stuck to /healthz when no cycle has run to its end, and no operation of a
    long one has finished, for this long since the last did (or since the loop started).
    None: the heartbeat alone decides."""
    last_progress: float | None = None
    """When the loop started, a cycle ran to its end, or an operation finished."""
    clock: Callable[[], float] = time.time
    last_beat: float | None = None
    policy_ok: bool = False
    waiting: bool = False
    """No policy could be loaded at startup: no cycle runs, so none can be late, and a restart
    cannot help (the policy must be fixed); /healthz holds, /readyz says why (issue 17)."""
    expected: frozenset[str] | None = None
    """The apps of the policy in force, when the loop said; None: whichever have reconciled."""
    apps: dict[str, tuple[bool, float]] = field(default_factory=dict)
    """By app: whether its last reconcile succeeded, and when it finished."""

    def beat(self, now: float) -> None:
        self.last_beat = now

    def progressed(self, now: float) -> None:
        """The loop got something done: started, finished an operation, or ran a cycle to its
        end (a cycle that failed as a whole is counted as an error but is no progress)."""
        self.last_progress = now

    def policy_loaded(self, ok: bool, *, apps: Iterable[str] | None = None) -> None:
        """Whether a valid policy is in force; `apps` names its apps (others are forgotten)."""
        if ok and self.waiting:  # the first policy after a wait: cycles are due from now
            self.waiting = False
            self.last_progress = self.clock()
        self.policy_ok = ok
        if apps is not None:
            self.expected = frozenset(apps)
            self.apps = {a: seen for a, seen in self.apps.items() if a in self.expected}

    def waiting_for_policy(self) -> None:
        """Startup found no policy that loads: the loop waits for one."""
        self.waiting = True

    def app_reconciled(self, app: str, *, ok: bool, now: float) -> None:
        self.apps[app] = (ok, now)

    def loop_alive(self) -> bool:
        return self.not_alive() is None

    def not_alive(self) -> str | None:
        """Why /healthz fails; None when the loop is alive."""
        now, beat = self.clock(), self.last_beat
        if beat is None:
            return "the loop has not started"
        if now - beat > self.heartbeat_timeout_seconds:
            return f"the loop's heartbeat stopped {now - beat:.0f}s ago"
        bound, progress = self.cycle_bound_seconds, self.last_progress
        if self.waiting:
            return None
        if bound is not None and progress is not None and now - progress > bound:
            return f"no cycle has run to its end for {now - progress:.0f}s (bound {bound:.0f}s)"
        return None

    def not_ready(self) -> dict[str, str]:
        """Why the controller is not ready, by app (or "policy", "apps"); empty when it is."""
        reasons: dict[str, str] = {}
        if not self.policy_ok:
            reasons["policy"] = "no valid policy loaded"
        names = self.expected if self.expected is not None else frozenset(self.apps)
        if not names and self.expected is None:
            reasons["apps"] = "no reconcile has finished yet"
        now = self.clock()
        for app in sorted(names):
            seen = self.apps.get(app)
            if seen is None:
                reasons[app] = "not reconciled yet"
            elif not seen[0]:
                reasons[app] = "the last reconcile failed"
            elif now - seen[1] > self.max_age_seconds:
                reasons[app] = f"the last reconcile was {now - seen[1]:.0f}s ago"
        return reasons


def make_app(recorder: Recorder, health: Health) -> Starlette:
    """The ASGI app serving /metrics, /healthz and /readyz."""

    async def metrics(_: Request) -> Response:
        body, content_type = recorder.exposition()
        return Response(body, headers={"Content-Type": content_type})

    async def healthz(_: Request) -> Response:
        reason = health.not_alive()
        if reason is None:
            return JSONResponse({"alive": True})
        return JSONResponse({"alive": False, "reason": reason}, status_code=503)

    async def readyz(_: Request) -> Response:
        reasons = health.not_ready()
        body = {"ready": not reasons, "notReady": reasons}
        return JSONResponse(body, status_code=503 if reasons else 200)

    routes = [Route("/metrics", metrics), Route("/healthz", healthz), Route("/readyz", readyz)]
    return Starlette(routes=routes)


class _Server(uvicorn.Server):
    """uvicorn that leaves signals alone and says when it listens (or that it never will)."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.listening = asyncio.Event()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """uvicorn >= 0.29 replaces the SIGTERM/SIGINT handlers here; the loop owns them."""
        yield

    def install_signal_handlers(self) -> None:
        """The same, for uvicorn before 0.29."""

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        try:
            await super().startup(sockets=sockets)
        finally:
            self.listening.set()


@dataclass
class Running:
    """A server started by `start`; `stop` ends it."""

    server: uvicorn.Server
    task: asyncio.Task[None]
    port: int
    """The port bound (useful with port 0)."""


async def start(
    app: Starlette,
    *,
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    max_connections: int = http_limits.MAX_CONNECTIONS,
    header_timeout: float = http_limits.HEADER_TIMEOUT_SECONDS,
) -> Running:
    """Serve `app` as a task of this event loop; returns once it listens.

    The socket is bound here, so a port in use fails now with OSError, and port 0 picks one.
    Connections are bounded (`http_limits`): half-open ones cannot starve the controller.
    """
    # IPPROTO_TCP, not 0: asyncio only disables Nagle on sockets whose proto says TCP.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    config = http_limits.BoundedConfig(
        app,
        max_connections=max_connections,
        header_timeout=header_timeout,
        lifespan="off",
        access_log=False,
        log_config=None,
        log_level="warning",
    )
    http_limits.quiet_accept_errors(asyncio.get_running_loop())
    server = _Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]), name="http-server")
    task.add_done_callback(lambda _: sock.close())
    listening = asyncio.create_task(server.listening.wait())
    await asyncio.wait({task, listening}, return_when=asyncio.FIRST_COMPLETED)
    listening.cancel()
    if task.done():
        task.result()  # raises why it could not start
        raise RuntimeError(f"the HTTP server on {host}:{port} stopped as it started")
    return Running(server, task, sock.getsockname()[1])


async def stop(running: Running) -> None:
    """Stop accepting, finish the requests in flight, and wait for the server to end."""
    running.server.should_exit = True
    await running.task


async def serve(
    app: Starlette, *, host: str = "127.0.0.1", port: int = DEFAULT_PORT, stop_when: asyncio.Event
) -> None:
    """Serve `app` until `stop_when` is set: for running as one task among the loop's."""
    running = await start(app, host=host, port=port)
    try:
        await stop_when.wait()
    finally:
        await stop(running)
