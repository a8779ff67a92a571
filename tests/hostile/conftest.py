"""A policy with one healthy app (scim2-server) beside two hostile ones (SCIM and Zendesk).

The hostile apps are one `HostileApp` on 127.0.0.1 whose mode the test sets; both hostile apps
get small bounds, so a cycle that ends within them is quick. The controller always runs as a
subprocess, as an operator runs it, and its peak memory is read from the kernel: `os.wait4`'s
rusage for `apply`, /proc/<pid>/status (VmHWM) for a `run` that is still alive.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from emulators import scim_app
from tests.e2e.conftest import TOKEN, make_users
from tests.hostile.server import MODES, HostileApp

PEAK_RSS_MIB = 300
BOUND_SECONDS = 120.0
HOSTILE_APPS = ("hostile-scim", "hostile-zendesk")
LIMITS = "limits: {requestSeconds: 1, observeSeconds: 20, maxPages: 20}"
"""A short request deadline keeps each mode quick; the observe deadline is generous, so on a
loaded 2-core machine the CPU work of a mode (inflating, validating pages) still ends with
the mode's own error, not the observation's deadline."""
OBSERVE_DEADLINE = "not observed within 20 s"
POLICY = f"""\
apiVersion: provisioner/v1
kind: Source
metadata: {{name: org}}
spec:
  file: {{path: users.yaml}}
---
apiVersion: provisioner/v1
kind: ConnectedApp
metadata: {{name: tool}}
spec:
  type: scim
  endpoint: ${{TOOL_SCIM_URL}}
  auth: {{bearerTokenEnv: TOOL_SCIM_TOKEN}}
  safety: {{maxDeprovisionsPerRun: 10, maxDeprovisionsPercent: 50}}
  attributes:
    userName: "{{{{ user.Email | lower }}}}"
    displayName: "{{{{ user.FirstName }}}} {{{{ user.LastName }}}}"
---
apiVersion: provisioner/v1
kind: ConnectedApp
metadata: {{name: hostile-scim}}
spec:
  type: scim
  endpoint: ${{HOSTILE_URL}}/scim/v2
  {LIMITS}
  attributes:
    userName: "{{{{ user.Email | lower }}}}"
---
apiVersion: provisioner/v1
kind: ConnectedApp
metadata: {{name: hostile-zendesk}}
spec:
  type: zendesk
  endpoint: ${{HOSTILE_URL}}/api/v2
  {LIMITS}
  attributes:
    userName: "{{{{ user.Email | lower }}}}"
    displayName: "{{{{ user.FirstName }}}} {{{{ user.LastName }}}}"
---
apiVersion: provisioner/v1
kind: AccessRule
metadata: {{name: engineering}}
spec:
  when: {{department: [Engineering]}}
  grant: [{{app: tool}}, {{app: hostile-scim}}, {{app: hostile-zendesk}}]
"""


@dataclass
class Org:
    """The policy folder, its users file, the healthy app's client and the hostile app."""

    policy: Path
    users_file: Path
    env: dict[str, str]
    tool: httpx.Client
    hostile: HostileApp

    def users(self) -> list[dict[str, Any]]:
        return list(yaml.safe_load(self.users_file.read_text())["users"])

    def leave(self, index: int) -> str:
        """Make user `index` a leaver; their userName in the healthy app."""
        users = self.users()
        users[index]["IsActive"] = False
        self.users_file.write_text(yaml.safe_dump({"users": users}))
        return str(users[index]["Email"]).lower()

    def account(self, user_name: str) -> dict[str, Any]:
        found = self.tool.get("/Users", params={"filter": f'userName eq "{user_name}"'}).json()
        (account,) = found["Resources"]
        return dict(account)

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "controller", *args, "--policy", str(self.policy)]


@dataclass
class Finished:
    returncode: int
    output: str
    peak_rss_mib: float


_LAUNCHER = """
import resource, subprocess, sys
returncode = subprocess.call(sys.argv[2:])
with open(sys.argv[1], "w") as out:
    out.write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))
sys.exit(returncode)
"""
"""Runs the command and writes its peak RSS. A child's own `ru_maxrss` starts at its parent's
RSS at fork (the kernel keeps the high-water mark of the memory it replaced at exec), so the
test process, grown large by earlier tests, cannot fork the measured command itself: this small
launcher does, and reads its one child's peak."""


def run_measured(
    command: list[str], env: dict[str, str], log: Path, *, cwd: Path | None = None
) -> Finished:
    """Run `command` to its end; its exit code, output, and peak RSS as the kernel saw it."""
    peak_file = log.with_suffix(".peak")
    launcher = [sys.executable, "-c", _LAUNCHER, str(peak_file), *command]
    with log.open("wb") as out:
        process = subprocess.Popen(
            launcher, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=cwd, start_new_session=True
        )
    try:
        returncode = process.wait(timeout=BOUND_SECONDS)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        raise AssertionError(f"{command[3]} did not finish: {log.read_text()[-2000:]}") from None
    peak_kib = int(peak_file.read_text())
    return Finished(returncode, log.read_text(), peak_kib / 1024)  # KiB on Linux


def peak_rss_mib(pid: int) -> float:
    """VmHWM of a live process: its peak resident memory so far."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM in /proc status")


@pytest.fixture(scope="module")
def hostile() -> Iterator[HostileApp]:
    app = HostileApp()
    with app.serving():
        yield app


def make_org(stack: contextlib.ExitStack, folder: Path, hostile: HostileApp) -> Org:
    """A fresh healthy app (scim2-server) and a policy in `folder` naming it and `hostile`."""
    url = stack.enter_context(scim_app.serve(scim_app.make_scim_app(TOKEN)))
    policy = folder / "policy"
    policy.mkdir()
    (policy / "policy.yaml").write_text(POLICY)
    users_file = policy / "users.yaml"
    leavers = 3 * len(MODES) + 3  # an Engineering user (every third) to leave in each mode
    users_file.write_text(yaml.safe_dump({"users": make_users(leavers)}))
    env = {
        **os.environ,
        "TOOL_SCIM_URL": url,
        "TOOL_SCIM_TOKEN": TOKEN,
        "HOSTILE_URL": f"http://127.0.0.1:{hostile.port}",
        "PROVISIONER_STATE_DIR": str(folder / "state"),
    }
    headers = {"Authorization": f"Bearer {TOKEN}"}
    client = stack.enter_context(httpx.Client(base_url=url, headers=headers))
    return Org(policy, users_file, env, client, hostile)


@pytest.fixture(scope="module")
def provisioned(tmp_path_factory: pytest.TempPathFactory, hostile: HostileApp) -> Iterator[Org]:
    """An org whose healthy app `apply --app tool` has provisioned: every grant has an account."""
    with contextlib.ExitStack() as stack:
        org = make_org(stack, tmp_path_factory.mktemp("org"), hostile)
        done = subprocess.run(
            [*org.command("apply"), "--app", "tool"],
            env=org.env,
            capture_output=True,
            text=True,
            timeout=BOUND_SECONDS,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        yield org


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def metric(url: str, name: str, **labels: str) -> float:
    """One sample from /metrics; 0 when the series does not exist yet."""
    wanted = {f'{key}="{value}"' for key, value in labels.items()}
    for line in httpx.get(url, timeout=10).text.splitlines():
        series, _, value = line.rpartition(" ")
        metric_name, _, rest = series.partition("{")
        if metric_name == name and set(rest.rstrip("}").split(",")) == wanted:
            return float(value)
    return 0.0


def wait_for(condition: Any, what: str) -> Any:
    deadline = time.monotonic() + BOUND_SECONDS
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"gave up waiting for {what}")
