"""The loop survives any cycle: even a BaseException that is not an Exception, or a stray
CancelledError that no one asked for, raised from deep inside a cycle, is counted as an error of
every app, logged, and followed by a good cycle."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
import structlog
import yaml

from controller import logging as logs
from controller.http import Health
from controller.loop import Controller
from controller.metrics import Recorder
from controller.model import ObservedApp
from controller.policy.feed import DirectoryFeed
from controller.policy_keeper import PolicyKeeper
from controller.settings import LoopSettings
from emulators import scim_app
from reconcilers import REGISTRY
from reconcilers.base import AppConnection, ReconcilerKind
from reconcilers.scim import ScimReconciler
from tests.e2e.conftest import POLICY, TOKEN, make_users


class Surprise(BaseException):
    """Not an Exception: what a library's bug or a stray sys.exit-alike might raise."""


class Surprising(ScimReconciler):
    """The real SCIM reconciler, but its first observations raise `Surprise`."""

    surprises = 2
    raises: type[BaseException] = Surprise

    async def observe(self) -> ObservedApp:
        if Surprising.surprises:
            Surprising.surprises -= 1
            raise Surprising.raises("the app adapter blew up")
        return await super().observe()


def _registry() -> dict[str, ReconcilerKind]:
    kind = REGISTRY["scim"]

    def factory(connection: AppConnection) -> Surprising:
        return Surprising(connection)

    return {**REGISTRY, "scim": ReconcilerKind(factory, kind.supported_attributes)}


async def _until(condition: Any, what: str, bound: float = 60.0) -> None:
    deadline = time.monotonic() + bound
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        await asyncio.sleep(0.05)


@pytest.mark.parametrize("raises", [Surprise, asyncio.CancelledError])
async def test_a_base_exception_in_a_cycle_is_counted_logged_and_survived(
    tmp_path: Path, raises: type[BaseException], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Surprising, "surprises", 2)
    monkeypatch.setattr(Surprising, "raises", raises)
    policy = tmp_path / "policy"
    policy.mkdir()
    (policy / "policy.yaml").write_text(POLICY)
    (policy / "users.yaml").write_text(yaml.safe_dump({"users": make_users(6)}))
    with scim_app.serve(scim_app.make_scim_app(TOKEN)) as url:
        environ = {"TOOL_SCIM_URL": url, "TOOL_SCIM_TOKEN": TOKEN}
        settings = LoopSettings(
            policy_dir=policy, state_dir=tmp_path / "state", interval_seconds=0.3, jitter_seconds=0
        )
        recorder, health = Recorder(), Health()
        registry = _registry()
        log = logs.get_logger()
        keeper = PolicyKeeper(
            DirectoryFeed(policy, environ),
            registry=registry,
            environ=environ,
            recorder=recorder,
            health=health,
            log=log,
        )
        controller = Controller(
            settings,
            keeper=keeper,
            registry=registry,
            environ=environ,
            recorder=recorder,
            health=health,
            log=log,
        )
        value = recorder.registry.get_sample_value

        def counted(result: str) -> float:
            return value("provisioner_reconcile_total", {"app": "tool", "result": result}) or 0

        with structlog.testing.capture_logs() as events:
            running = asyncio.create_task(controller.run())
            await _until(lambda: counted("success") >= 1, "a good cycle after the surprises")
            controller.stop()
            assert await running == 0
    assert counted("error") == 2
    failed = [e for e in events if e["event"] == "cycle failed"]
    assert len(failed) == 2
    assert failed[0]["error"] == f"{raises.__name__}: the app adapter blew up"
    assert failed[0]["failed"] == "reading and planning"
    assert failed[0]["retry"] == "on the next trigger"
