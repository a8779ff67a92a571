"""The metric names and labels are an interface: assert them as scraped, not as built."""

from __future__ import annotations

import datetime

from controller import desired, guard, plan
from controller.engine import AppCycle, Cycle
from controller.executor import ApplyReport, Outcome
from controller.metrics import Recorder
from controller.model import SourceRead
from controller.policy.schema import SafetySpec
from tests.fakes import account, desired_account, desired_app, observed

NOW = datetime.datetime(2026, 11, 28, tzinfo=datetime.UTC)


def a_cycle(*, blocked: bool) -> Cycle:
    wanted = desired_app(
        desired_account("005A", "ada@x", displayName="Ada"),
        desired_account("005B", "bob@x", active=False),
    )
    app = observed(
        account("1", "ada@x", external_id="005A", displayName="A"),
        account("2", "bob@x", external_id="005B"),
        account("3", "stranger@x"),
    )
    planned = plan.compute(wanted, app, match=["externalId"])
    limit = 0 if blocked else 10
    planned = guard.hold_deprovisions(
        planned,
        accounts=3,
        safety=SafetySpec(max_deprovisions_per_run=limit, max_deprovisions_percent=100),
        allow_deprovisions=False,
    )
    report = ApplyReport(planned.app, tuple(Outcome(op, "success") for op in planned.operations))
    users = {
        "005A": desired.UserState(True, "", "active"),
        "005B": desired.UserState(False, "", "inactive"),
    }
    evaluation = desired.Evaluation({}, users, ())  # type: ignore[arg-type]
    return Cycle(
        "rev1",
        SourceRead("org", (), NOW),
        evaluation,
        guard.SourceVerdict(True),
        (AppCycle(planned.app, planned, app, report=report),),
    )


def test_a_cycle_is_recorded_under_the_contract_names() -> None:
    recorder = Recorder()
    recorder.record_cycle(a_cycle(blocked=False), durations={"app": 1.5}, now=1000.0)
    value = recorder.registry.get_sample_value
    assert value("provisioner_drift_accounts", {"app": "app", "kind": "attributes"}) == 1
    assert value("provisioner_drift_accounts", {"app": "app", "kind": "unexpected"}) == 1
    assert value("provisioner_drift_accounts", {"app": "app", "kind": "orphaned"}) == 1
    assert value("provisioner_drift_accounts", {"app": "app", "kind": "missing"}) == 0
    assert value("provisioner_reconcile_total", {"app": "app", "result": "success"}) == 1
    assert value("provisioner_reconcile_total", {"app": "app", "result": "error"}) == 0
    assert value("provisioner_last_reconcile_success_timestamp_seconds", {"app": "app"}) == 1000
    labels = {"app": "app", "operation": "suspend", "result": "success"}
    assert value("provisioner_operations_total", labels) == 1
    assert value("provisioner_source_users", {"source": "org", "state": "active"}) == 1
    assert value("provisioner_source_users", {"source": "org", "state": "frozen"}) == 0
    assert value("provisioner_safety_blocked", {"app": "app"}) == 0
    assert value("provisioner_reconcile_duration_seconds_count", {"app": "app"}) == 1


def test_a_held_app_is_blocked_in_the_metrics() -> None:
    recorder = Recorder()
    recorder.record_cycle(a_cycle(blocked=True), durations={}, now=1000.0)
    value = recorder.registry.get_sample_value
    assert value("provisioner_safety_blocked", {"app": "app"}) == 1
    assert value("provisioner_reconcile_total", {"app": "app", "result": "blocked"}) == 1
    assert value("provisioner_last_reconcile_success_timestamp_seconds", {"app": "app"}) is None


def test_policy_revision_and_validity() -> None:
    recorder = Recorder()
    recorder.policy_loaded("aaa")
    recorder.policy_loaded("bbb")
    recorder.policy_load_failed()
    value = recorder.registry.get_sample_value
    assert value("provisioner_policy_info", {"revision": "aaa"}) is None
    assert value("provisioner_policy_info", {"revision": "bbb"}) == 1
    assert value("provisioner_policy_valid") == 0
    assert value("provisioner_policy_load_errors_total") == 1


def test_no_label_carries_a_user_name_or_email() -> None:
    recorder = Recorder()
    recorder.record_cycle(a_cycle(blocked=False), durations={}, now=1.0)
    recorder.trigger("signal", now=2.0)
    body, _ = recorder.exposition()
    assert b"@" not in body
    assert b"ada" not in body and b"005A" not in body
