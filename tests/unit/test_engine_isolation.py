"""An exception no adapter mapped, in one app's observe, shaping or apply, is that app's error.

The healthy app is scim2-server over a socket; the broken one is an adapter with a bug (it
raises KeyError, TypeError, RecursionError where it should return or raise `errors`), which is
exactly what the engine must contain: the other app still plans and applies.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from controller.connections import load_policy
from controller.engine import Engine
from controller.model import AppName, DesiredApp, ObservedApp
from controller.operations import Applied, Operation
from emulators import scim_app
from reconcilers import REGISTRY
from reconcilers.base import AppConnection, ReconcilerKind
from tests.e2e.conftest import TOKEN, make_users

POLICY = """\
apiVersion: provisioner/v1
kind: Source
metadata: {name: org}
spec:
  file: {path: users.yaml}
---
apiVersion: provisioner/v1
kind: ConnectedApp
metadata: {name: good}
spec:
  type: scim
  endpoint: ${GOOD_URL}
  auth: {bearerTokenEnv: GOOD_TOKEN}
  attributes: {userName: "{{ user.Email | lower }}"}
---
apiVersion: provisioner/v1
kind: ConnectedApp
metadata: {name: broken}
spec:
  type: zendesk
  endpoint: http://127.0.0.1:9/api/v2
  attributes: {userName: "{{ user.Email | lower }}", displayName: "{{ user.LastName }}"}
---
apiVersion: provisioner/v1
kind: AccessRule
metadata: {name: everyone}
spec:
  when: {department: [Engineering]}
  grant: [{app: good}, {app: broken}]
"""


class BuggyReconciler:
    """An adapter whose bug raises where it fails, as `fails` says."""

    fails = "observe"

    def __init__(self, connection: AppConnection) -> None:
        self.app = connection.app

    async def observe(self) -> ObservedApp:
        if self.fails == "observe":
            raise KeyError("id")
        return ObservedApp(self.app, (), ())

    async def apply(self, operation: Operation) -> Applied:
        raise TypeError("'NoneType' object is not subscriptable")

    async def aclose(self) -> None:
        return None


def buggy_shape(want: DesiredApp) -> tuple[DesiredApp, tuple[str, ...]]:
    if BuggyReconciler.fails == "shape":
        raise RecursionError("maximum recursion depth exceeded")
    return want, ()


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    kind = ReconcilerKind(
        factory=BuggyReconciler,
        supported_attributes=frozenset({"userName", "displayName"}),
        shape=buggy_shape,
    )
    registry = {**REGISTRY, "zendesk": kind}
    (tmp_path / "policy.yaml").write_text(POLICY)
    (tmp_path / "users.yaml").write_text(yaml.safe_dump({"users": make_users(6)}))
    with scim_app.serve(scim_app.make_scim_app(TOKEN)) as url:
        environ = {"GOOD_URL": url, "GOOD_TOKEN": TOKEN}
        policy = load_policy(tmp_path, registry=registry, environ=environ)
        yield Engine(policy, registry=registry, environ=environ)


@pytest.mark.parametrize(
    ("fails", "error"),
    [("observe", "observing failed: KeyError: 'id'"), ("shape", "could not be planned")],
)
async def test_a_bug_in_one_apps_observe_or_plan_is_that_apps_error(
    engine: Engine, fails: str, error: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(BuggyReconciler, "fails", fails)
    async with engine:
        cycle = await engine.apply(await engine.plan())
    apps = {app.app: app for app in cycle.apps}
    broken, good = apps[AppName("broken")], apps[AppName("good")]
    assert broken.result == "error"
    assert broken.plan.error is not None and error in broken.plan.error
    assert good.result == "success"
    assert good.report is not None and good.report.count("success") == 2  # two Engineering users


async def test_a_bug_in_one_apps_apply_fails_its_operations_only(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(BuggyReconciler, "fails", "nothing")
    async with engine:
        cycle = await engine.apply(await engine.plan())
    apps = {app.app: app for app in cycle.apps}
    broken, good = apps[AppName("broken")], apps[AppName("good")]
    assert broken.report is not None
    assert [o.result for o in broken.report.outcomes] == ["error", "error"]
    assert all("TypeError" in o.detail for o in broken.report.outcomes)
    assert good.result == "success"
