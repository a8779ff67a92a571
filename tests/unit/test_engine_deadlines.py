"""A source that never finishes its read, or an app that never finishes its writes, ends at its
deadline as its own error: the cycle returns, and the healthy app is applied and recorded.

The apps are scim2-server over sockets; the stalled one sits behind an ASGI wrapper that holds
every write (reads pass), the way an overloaded or hostile app answers listings but not changes.
"""

from __future__ import annotations

import asyncio
import datetime
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from controller.connections import load_policy
from controller.engine import Engine
from controller.journal import HistoryQuery, SqliteJournal
from controller.model import AppName, SourceRead
from emulators import scim_app
from reconcilers import REGISTRY
from tests.e2e.conftest import TOKEN, make_users

POLICY = """\
apiVersion: provisioner/v1
kind: Source
metadata: {name: org}
spec:
  file: {path: users.yaml}
  readSeconds: 1
---
apiVersion: provisioner/v1
kind: ConnectedApp
metadata: {name: good}
spec:
  type: scim
  endpoint: ${GOOD_URL}
  auth: {bearerTokenEnv: TOKEN}
  attributes: {userName: "{{ user.Email | lower }}"}
---
apiVersion: provisioner/v1
kind: ConnectedApp
metadata: {name: stalled}
spec:
  type: scim
  endpoint: ${STALLED_URL}
  auth: {bearerTokenEnv: TOKEN}
  attributes: {userName: "{{ user.Email | lower }}"}
  limits: {applySeconds: 1}
---
apiVersion: provisioner/v1
kind: AccessRule
metadata: {name: everyone}
spec:
  when: {department: [Engineering]}
  grant: [{app: good}, {app: stalled}]
"""
HELD_FOR = 8.0
"""How long the stalled app holds a write: far past applySeconds, and bounded."""


class HoldsWrites:
    """Answers reads; holds every write for `HELD_FOR` seconds, then drops it unanswered."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.held = 0

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] != "GET":
            self.held += 1
            await asyncio.sleep(HELD_FOR)
            return  # never answered in time: the client's deadline decides
        await self.app(scope, receive, send)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[tuple[Engine, HoldsWrites]]:
    (tmp_path / "policy.yaml").write_text(POLICY)
    (tmp_path / "users.yaml").write_text(yaml.safe_dump({"users": make_users(6)}))
    stalled = HoldsWrites(scim_app.make_scim_app(TOKEN))
    with (
        scim_app.serve(scim_app.make_scim_app(TOKEN)) as good_url,
        scim_app.serve(stalled) as stalled_url,
    ):
        environ = {"GOOD_URL": good_url, "STALLED_URL": stalled_url, "TOKEN": TOKEN}
        policy = load_policy(tmp_path, registry=REGISTRY, environ=environ)
        journal = SqliteJournal(tmp_path / "journal.db")
        yield Engine(policy, registry=REGISTRY, environ=environ, journal=journal), stalled
        journal.close()


async def test_an_app_that_holds_its_writes_ends_at_its_apply_deadline(
    engine: tuple[Engine, HoldsWrites],
) -> None:
    running, stalled = engine
    async with running:
        cycle = await running.apply(await running.plan())
    apps = {app.app: app for app in cycle.apps}
    good, held = apps[AppName("good")], apps[AppName("stalled")]
    assert good.result == "success" and good.report is not None
    assert good.report.count("success") == 2  # the two Engineering users
    assert stalled.held >= 1  # the writes reached the stalled app and were held there
    assert held.result == "error" and held.report is not None
    assert [o.result for o in held.report.outcomes] == ["error", "error"]
    assert all("limits.applySeconds" in o.detail for o in held.report.outcomes)
    assert running.journal is not None
    journaled = running.journal.history(HistoryQuery(app="stalled"))
    assert len(journaled) == 2 and all(entry.status == "error" for entry in journaled)
    assert running.journal.unfinished() == []  # nothing left as if the controller had died


class NeverEnds:
    """A source whose read never finishes (a Salesforce that drips its pages)."""

    name = "org"

    async def read(self) -> SourceRead:
        await asyncio.sleep(HELD_FOR)
        return SourceRead("org", (), datetime.datetime.now(datetime.UTC))

    async def aclose(self) -> None:
        return None


async def test_a_source_read_that_never_ends_is_a_failed_read_at_its_deadline(
    engine: tuple[Engine, HoldsWrites],
) -> None:
    running, _ = engine
    running.source = NeverEnds()
    async with running:
        cycle = await running.plan()
    assert cycle.source.error is not None and "readSeconds" in cycle.source.error
    assert not cycle.verdict.trusted
    assert not any(op.kind.destructive for app in cycle.apps for op in app.plan.operations)
