"""A real `provisioner run` process against a real SCIM app, driven by real signals.

The controller runs as a subprocess with JSON logs to a file; tests send it signals, read its
log events, scrape its /metrics, and look at the app's accounts. Waiting is always for a
condition, with a generous bound, never for a fixed time.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from emulators import scim_app
from emulators.serving import ASGIApp, free_port
from tests import gitrepo
from tests.e2e.conftest import POLICY, TOKEN, make_users

BOUND_SECONDS = 60.0


class SlowApp:
    """Delays every request by `delay` seconds while it is set: makes a run slow on purpose.
    Setting it back to 0 releases the requests already waiting."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.delay = 0.0

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        started = time.monotonic()
        # Polled, not an asyncio.Event: the test's thread sets `delay`, outside this loop.
        while scope["type"] == "http" and time.monotonic() - started < self.delay:  # noqa: ASYNC110
            await asyncio.sleep(min(0.05, self.delay))
        await self.app(scope, receive, send)


def wait_for(condition: Callable[[], Any], what: str, bound: float = BOUND_SECONDS) -> Any:
    deadline = time.monotonic() + bound
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"gave up waiting for {what}")


def scrape(metrics_url: str, name: str, **labels: str) -> float | None:
    """One series' value on a /metrics page; None when absent or the page cannot be read."""
    try:
        text = httpx.get(metrics_url, timeout=5).text
    except httpx.HTTPError:
        return None
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        series, _, value = line.rpartition(" ")
        metric, _, rest = series.partition("{")
        given = ",".join(sorted(rest.rstrip("}").split(","))) if rest else ""
        if metric == name and given == wanted:
            return float(value)
    return None


@dataclass
class Running:
    process: subprocess.Popen[bytes]
    log_path: Path
    metrics_url: str
    policy: Path
    users_file: Path
    scim: httpx.Client
    slow: SlowApp
    extra: dict[str, Any] = field(default_factory=dict)

    def events(self, name: str | None = None) -> list[dict[str, Any]]:
        found = []
        for line in self.log_path.read_text().splitlines():
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if name is None or event.get("event") == name:
                found.append(event)
        return found

    def signal(self, signum: signal.Signals) -> None:
        self.process.send_signal(signum)

    def metric(self, name: str, **labels: str) -> float | None:
        return scrape(self.metrics_url, name, **labels)

    def cycles_finished(self) -> int:
        return len(self.events("cycle finished"))

    def wait_cycles(self, count: int) -> None:
        wait_for(lambda: self.cycles_finished() >= count, f"{count} finished cycles")

    def write_users(self, users: list[dict[str, Any]]) -> None:
        self.users_file.write_text(yaml.safe_dump({"users": users}))

    def accounts(self) -> dict[str, dict[str, Any]]:
        page = self.scim.get("/Users", params={"count": 1000}).json()
        return {user["userName"]: user for user in page.get("Resources", [])}

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=BOUND_SECONDS)


@pytest.fixture
def controller(tmp_path: Path) -> Iterator[Callable[..., Running]]:
    started: list[Running] = []

    def start(
        users: int = 24,
        *,
        args: tuple[str, ...] = (),
        repo: bool = False,
        policy_text: str = POLICY,
        again: bool = False,
        **env: str,
    ) -> Running:
        """Start the controller; with `repo`, the policy folder is a git repository that the
        controller fetches from (as --policy-repo file://...) rather than reads in place.
        `again` starts it anew on the policy, repository and state a stopped one left."""
        slow = SlowApp(scim_app.make_scim_app(TOKEN))
        stack = scim_app.serve(slow)
        url = stack.__enter__()
        policy = tmp_path / "policy"
        users_file = policy / "users.yaml"
        if not again:
            policy.mkdir(exist_ok=True)
            (policy / "policy.yaml").write_text(policy_text)
            users_file.write_text(yaml.safe_dump({"users": make_users(users)}))
            if repo:
                gitrepo.init(policy)
                gitrepo.commit(policy, "the first policy")
        if repo:
            args = ("--policy-repo", policy.as_uri(), *args)
        port = free_port()
        log_path = tmp_path / f"controller-{len(started) + 1}.log"
        environment = {
            **os.environ,
            "TOOL_SCIM_URL": url,
            "TOOL_SCIM_TOKEN": TOKEN,
            "PROVISIONER_STATE_DIR": str(tmp_path / "state"),
            **env,
        }
        command = [
            sys.executable,
            "-m",
            "controller",
            "run",
            "--policy",
            str(policy),
            "--port",
            str(port),
            "--interval",
            "3600",
            "--change-interval",
            "3600",
            "--log-format",
            "json",
            *args,
        ]
        with log_path.open("wb") as log:
            process = subprocess.Popen(command, env=environment, stdout=log, stderr=log)
        running = Running(
            process,
            log_path,
            f"http://127.0.0.1:{port}/metrics",
            policy,
            users_file,
            httpx.Client(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}),
            slow,
            {"server": stack},
        )
        started.append(running)
        return running

    yield start
    for running in started:
        if running.process.poll() is None:
            running.process.kill()
            running.process.wait()
        running.scim.close()
        running.slow.delay = 0  # let requests still held finish, so the server can stop
        running.extra["server"].__exit__(None, None, None)
