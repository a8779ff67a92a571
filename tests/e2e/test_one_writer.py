"""One writer per state directory, end to end: two `apply` runs at once against a real SCIM app.

Issue 15: two applies at once ran the same first sync twice and left the care app with two
`ward-staff` and two `ward-admins` groups. Here the app holds every request until both
processes have met the lock, so they truly overlap: without the lock both would observe the
empty app and both would create every group.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from emulators import scim_app
from tests.e2e.conftest import POLICY, TOKEN, World, make_users

BOUND_SECONDS = 120.0


class Gate:
    """Holds every request while closed (up to a bound), so a writer stays inside its run."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.opened = threading.Event()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        deadline = time.monotonic() + BOUND_SECONDS
        while scope["type"] == "http" and not self.opened.is_set():
            if time.monotonic() > deadline:
                break
            await asyncio.sleep(0.05)
        await self.app(scope, receive, send)


@pytest.fixture
def gated(tmp_path: Path) -> Iterator[tuple[World, Gate]]:
    gate = Gate(scim_app.make_scim_app(TOKEN))
    with scim_app.serve(gate) as url:
        policy = tmp_path / "policy"
        policy.mkdir()
        (policy / "policy.yaml").write_text(POLICY)
        env = {
            **os.environ,
            "TOOL_SCIM_URL": url,
            "TOOL_SCIM_TOKEN": TOKEN,
            "PROVISIONER_STATE_DIR": str(tmp_path / "state"),
        }
        headers = {"Authorization": f"Bearer {TOKEN}"}
        with httpx.Client(base_url=url, headers=headers) as client:
            world = World(policy, policy / "users.yaml", env, client)
            world.write_users(make_users(24))
            try:
                yield world, gate
            finally:
                gate.opened.set()


class Apply:
    """One `provisioner apply` process, its output in files the test can read while it runs."""

    def __init__(self, world: World, folder: Path, *args: str) -> None:
        folder.mkdir()
        self.out, self.err = folder / "stdout", folder / "stderr"
        with self.out.open("wb") as out, self.err.open("wb") as err:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "controller", "apply", "--policy", str(world.policy), *args],
                env=world.env,
                stdout=out,
                stderr=err,
            )

    def stderr(self) -> str:
        return self.err.read_text()

    def wait(self) -> int:
        return self.process.wait(timeout=BOUND_SECONDS)


def wait_until(condition: Any, what: str) -> None:
    deadline = time.monotonic() + BOUND_SECONDS
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.1)


def assert_no_duplicates(world: World) -> None:
    groups = Counter(group["displayName"] for group in world.listing("Groups"))
    users = Counter(user["userName"] for user in world.listing("Users"))
    assert groups == {"eng": 1, "everyone": 1, "support": 1}
    assert len(users) == 16 and set(users.values()) == {1}  # Sales has no grant


def test_two_applies_at_once_one_refuses_naming_the_other(
    gated: tuple[World, Gate], tmp_path: Path
) -> None:
    world, gate = gated
    first, second = Apply(world, tmp_path / "a"), Apply(world, tmp_path / "b")
    try:
        wait_until(
            lambda: first.process.poll() is not None or second.process.poll() is not None,
            "one apply to be refused while the other is held inside its run",
        )
    finally:
        gate.opened.set()
    codes = {first.wait(), second.wait()}
    refused, held = (first, second) if first.process.returncode == 1 else (second, first)
    assert codes == {0, 1}, first.stderr() + second.stderr()
    message = refused.stderr()
    assert f"another writer (pid {held.process.pid} on host " in message
    assert "`provisioner apply`, since " in message
    assert f"holds {Path(world.env['PROVISIONER_STATE_DIR']) / 'writer.lock'}" in message
    assert "--lock-timeout SECONDS" in message
    assert_no_duplicates(world)


def test_two_applies_at_once_with_a_lock_timeout_run_one_after_the_other(
    gated: tuple[World, Gate], tmp_path: Path
) -> None:
    world, gate = gated
    runs = [Apply(world, tmp_path / name, "--lock-timeout", "120") for name in ("a", "b")]
    try:
        wait_until(
            lambda: any("waiting up to 120 s for the writer lock" in run.stderr() for run in runs),
            "one apply to wait for the other's lock",
        )
    finally:
        gate.opened.set()
    assert [run.wait() for run in runs] == [0, 0], runs[0].stderr() + runs[1].stderr()
    waited = next(run for run in runs if "waiting up to" in run.stderr())
    other = runs[1] if waited is runs[0] else runs[0]
    assert f"pid {other.process.pid} on host " in waited.stderr()
    assert "No changes: every app is in sync with the policy." in waited.out.read_text()
    assert_no_duplicates(world)


def test_two_groups_of_one_name_are_a_conflict_and_the_member_is_not_half_removed(
    provisioned: World,
) -> None:
    world = provisioned
    ids = {user["userName"]: user["id"] for user in world.listing("Users")}
    mover = ids["user0@org.example"]  # Engineering: in eng and everyone
    copy = world.scim.post(
        "/Groups",
        json={
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": "eng",
            "members": [{"value": mover}],
        },
    )
    assert copy.status_code == 201, copy.text
    world.edit_user(0, Department="Support")  # no longer granted eng

    plan = world.cli("plan")
    assert plan.returncode == 1, plan.stdout + plan.stderr
    assert "CONFLICT group eng: 2 groups in the app have this name" in plan.stdout
    assert "1 group conflict for a person to resolve in the app" in plan.stdout
    assert "in sync" not in plan.stdout
    done = world.cli("plan", "--format", "json")
    (app,) = json.loads(done.stdout)["apps"]
    assert len(app["conflicts"]) == 1
    assert not [op for op in app["operations"] if op["group"] == "eng"]

    applied = world.cli("apply")
    assert applied.returncode == 1, applied.stdout + applied.stderr
    copies = [g for g in world.listing("Groups") if g["displayName"] == "eng"]
    assert len(copies) == 2
    assert all(mover in {m["value"] for m in g.get("members", [])} for g in copies)
    assert "user0@org.example" in world.members()["support"]  # the rest of the plan went
