"""Drift left after a cycle's own operations (AppCycle.remaining_drift), over random plans.

The drift gauges report it, so the drift alert never fires for drift the cycle just repaired:
when every operation succeeds and nothing is held, only orphans remain; whatever fails keeps
its drift.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from controller import plan
from controller.cycle import AppCycle
from controller.executor import ApplyReport, Outcome
from controller.model import DesiredApp, ObservedApp
from controller.operations import DriftKind
from tests.unit.test_plan_properties import EXAMPLES, MATCH, lifecycles, scenarios


def applied(planned: plan.Plan, app: ObservedApp, results: list[str]) -> AppCycle:
    outcomes = tuple(Outcome(op, r) for op, r in zip(planned.operations, results, strict=True))
    return AppCycle(planned.app, planned, app, report=ApplyReport(planned.app, outcomes))


@EXAMPLES
@given(scenarios(), st.data())
def test_when_every_operation_succeeds_only_held_drift_and_orphans_remain(
    scenario: tuple[DesiredApp, ObservedApp, bool], data: st.DataObject
) -> None:
    wanted, app, prune = scenario
    planned = plan.compute(
        wanted, app, match=MATCH, prune=prune, lifecycle=data.draw(lifecycles(app))
    )
    remaining = applied(planned, app, ["success"] * len(planned.operations)).remaining_drift
    assert remaining[DriftKind.ORPHANED] == planned.drift[DriftKind.ORPHANED]
    if not planned.blocked:
        assert {kind: n for kind, n in remaining.items() if kind is not DriftKind.ORPHANED} == {
            kind: 0 for kind in DriftKind if kind is not DriftKind.ORPHANED
        }


@EXAMPLES
@given(scenarios(), st.data())
def test_drift_never_grows_and_failures_keep_it(
    scenario: tuple[DesiredApp, ObservedApp, bool], data: st.DataObject
) -> None:
    wanted, app, prune = scenario
    planned = plan.compute(
        wanted, app, match=MATCH, prune=prune, lifecycle=data.draw(lifecycles(app))
    )
    results = [
        data.draw(st.sampled_from(["success", "error", "skipped"])) for _ in planned.operations
    ]
    remaining = applied(planned, app, results).remaining_drift
    assert all(0 <= remaining[kind] <= planned.drift[kind] for kind in DriftKind)
    failed = applied(planned, app, ["error"] * len(planned.operations)).remaining_drift
    assert failed == planned.drift
