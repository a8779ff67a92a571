"""A targeted cycle is held by the same guards as a full one (issue 16, DESIGN.md section 6):
deprovisions count with those applied since the last full cycle, the drop guard sees the org as
the baseline has it with the changed users' new states, and what it learns never shrinks the
source's trusted size or forgets a suspension it did not look at."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
from collections.abc import Iterator
from pathlib import Path

import pytest

from controller import facts, targeted
from controller.connections import load_policy
from controller.engine import Engine
from controller.journal import Facts
from controller.model import AccountId, AppName, ObservedAccount, ObservedApp, SourceRead
from controller.operations import OpKind
from controller.sources.base import user_from_fields
from reconcilers import REGISTRY
from tests.unit.test_targeted_property import InMemoryApp

NOW = datetime.datetime(2026, 12, 2, 12, 0, tzinfo=datetime.UTC)
POLICY = """\
apiVersion: provisioner/v1
kind: Source
metadata: {name: org}
spec:
  file: {path: users.yaml}
  maxActiveDropPercent: 30
---
apiVersion: provisioner/v1
kind: ConnectedApp
metadata: {name: care}
spec:
  type: scim
  endpoint: http://127.0.0.1:9/care
  attributes: {userName: "{{ user.Username | lower }}"}
  safety: {maxDeprovisionsPerRun: 2, maxDeprovisionsPercent: 100}
---
apiVersion: provisioner/v1
kind: AccessRule
metadata: {name: everyone}
spec:
  when: {department: [Engineering]}
  grant: [{app: care}]
"""
CARE = AppName("care")
USERS = [
    user_from_fields({"Id": f"005{n:015d}", "Username": f"u{n}@x", "Email": f"u{n}@x",
                      "Department": "Engineering"})
    for n in range(10)
]  # fmt: skip
ACCOUNTS = tuple(
    ObservedAccount(
        AccountId(f"care-{n}"), user.username, True, user.id, {"userName": user.username}
    )
    for n, user in enumerate(USERS)
)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    (tmp_path / "policy.yaml").write_text(POLICY)
    (tmp_path / "users.yaml").write_text("users: []\n")
    policy = load_policy(tmp_path, registry=REGISTRY, environ={})
    engine = Engine(policy, registry=REGISTRY, environ={}, clock=lambda: NOW)
    engine.reconcilers = {CARE: InMemoryApp(ObservedApp(CARE, ACCOUNTS, ()))}  # type: ignore[dict-item]
    yield engine


def _baseline(engine: Engine) -> targeted.Baseline:
    full = engine.plan_observed(
        SourceRead("org", tuple(USERS), NOW), {CARE: ObservedApp(CARE, ACCOUNTS, ())}
    )
    baseline = targeted.Baseline.of(full)
    assert baseline is not None and baseline.trusted_active == len(USERS)
    engine.remembered = Facts({"org": len(USERS)})
    return baseline


def _leaving(*numbers: int) -> targeted.Changes:
    users = {USERS[n].id: user_from_fields({**USERS[n].fields, "IsActive": False}) for n in numbers}
    return targeted.Changes(users, {}, frozenset(users), {})


def test_deprovisions_since_the_last_full_cycle_count_towards_the_limit(engine: Engine) -> None:
    baseline = _baseline(engine)
    first = asyncio.run(engine.plan_changed(_leaving(0, 1), baseline))
    assert [op.kind for op in first.apps[0].plan.operations] == [OpKind.SUSPEND] * 2

    applied = dataclasses.replace(
        baseline, apps={CARE: dataclasses.replace(baseline.apps[CARE], deprovisioned=2)}
    )
    second = asyncio.run(engine.plan_changed(_leaving(2), applied))
    plan = second.apps[0].plan
    assert plan.operations == () and [op.kind for op in plan.blocked] == [OpKind.SUSPEND]
    assert "applied since the last full cycle" in (plan.blocked_reason or "")


def test_a_burst_of_leavers_over_targeted_cycles_trips_the_drop_guard(engine: Engine) -> None:
    baseline = _baseline(engine)
    earlier = dataclasses.replace(
        baseline, active={**baseline.active, USERS[0].id: False, USERS[1].id: False}
    )  # two left in earlier targeted cycles: 20%, within maxActiveDropPercent 30
    cycle = asyncio.run(engine.plan_changed(_leaving(2, 3), earlier))
    assert not cycle.verdict.trusted and "dropped from 10 to 6" in (cycle.verdict.reason or "")
    assert cycle.apps[0].plan.operations == ()
    assert len(cycle.apps[0].plan.blocked) == 2


def test_a_targeted_cycle_learns_no_source_size_and_forgets_only_what_it_saw(
    engine: Engine,
) -> None:
    cycle = asyncio.run(engine.plan_changed(_leaving(0), _baseline(engine)))
    known = Facts({"org": 10}, {CARE: {"care-5": NOW - datetime.timedelta(days=3), "care-0": NOW}})
    news = facts.learned(known, cycle, cycle.apps, source="org", now=NOW)
    assert news.trusted_active == {}
    assert set(news.suspended_since[CARE]) == {"care-5"}  # care-0 was seen active, care-5 not seen
