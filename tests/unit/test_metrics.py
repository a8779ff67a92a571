"""The metric names and labels are an interface: assert them as scraped, not as built."""

from __future__ import annotations

import dataclasses
import datetime

import pytest
from prometheus_client.parser import text_string_to_metric_families

from controller import desired, guard, plan
from controller.cycle import AppCycle, Cycle
from controller.executor import ApplyReport, Outcome
from controller.metrics import Recorder
from controller.model import AppName, ObservedApp, Quarantined, SourceRead, SourceUserId
from controller.operations import DriftKind, Plan
from controller.policy.schema import SafetySpec
from tests.fakes import account, desired_account, desired_app, observed

NOW = datetime.datetime(2026, 11, 28, tzinfo=datetime.UTC)
APP = {"app": "app"}

CONTRACT = {
    "provisioner_drift_accounts": {"app", "kind"},
    "provisioner_reconcile_total": {"app", "result"},
    "provisioner_reconcile_duration_seconds": {"app"},
    "provisioner_last_reconcile_success_timestamp_seconds": {"app"},
    "provisioner_operations_total": {"app", "operation", "result"},
    "provisioner_source_users": {"source", "state"},
    "provisioner_source_read_errors_total": {"source"},
    "provisioner_source_quarantined_users": {"source"},
    "provisioner_source_quarantined_records_total": {"source"},
    "provisioner_policy_info": {"revision"},
    "provisioner_policy_valid": set(),
    "provisioner_policy_load_errors_total": set(),
    "provisioner_policy_fetch_errors_total": set(),
    "provisioner_safety_blocked": {"app"},
    "provisioner_reconcile_triggers_total": {"trigger"},
    "provisioner_last_trigger_handled_timestamp_seconds": set(),
    "provisioner_last_cycle_progress_timestamp_seconds": set(),
    "provisioner_http_requests_total": {"target", "method", "code"},
    "provisioner_http_request_duration_seconds": {"target"},
    "provisioner_rate_limited_total": {"target"},
    "provisioner_salesforce_api_usage_ratio": set(),
    "provisioner_change_latency_seconds": {"app", "kind"},
    "provisioner_change_checks_total": set(),
    "provisioner_change_check_calls_total": set(),
    "provisioner_change_check_interval_seconds": set(),
}


def a_plan(*, limit: int = 10, source_complete: bool = True) -> tuple[Plan, ObservedApp]:
    """ada's name drifted, bob left (suspend), a stranger's account is an orphan."""
    wanted = desired_app(
        desired_account("005A", "ada@x", displayName="Ada"),
        desired_account("005B", "bob@x", active=False),
        source_complete=source_complete,
    )
    app = observed(
        account("1", "ada@x", external_id="005A", displayName="A"),
        account("2", "bob@x", external_id="005B"),
        account("3", "stranger@x"),
    )
    planned = plan.compute(wanted, app, match=["externalId"])
    safety = SafetySpec(max_deprovisions_per_run=limit, max_deprovisions_percent=100)
    held = guard.hold_deprovisions(planned, accounts=3, safety=safety)
    return held, app


def a_cycle(
    planned: Plan,
    app: ObservedApp,
    *,
    results: tuple[str, ...] | None = None,
    source_error: str | None = None,
    trusted: bool = True,
    quarantined: tuple[Quarantined, ...] = (),
) -> Cycle:
    """A finished cycle; `results` are the outcomes of the plan's operations, in order."""
    results = results or tuple("success" for _ in planned.operations)
    outcomes = tuple(Outcome(op, r) for op, r in zip(planned.operations, results, strict=True))
    report = ApplyReport(planned.app, outcomes) if outcomes else None
    users = {
        SourceUserId("005A"): desired.UserState(True, "", "active"),
        SourceUserId("005B"): desired.UserState(False, "", "inactive"),
        SourceUserId("005C"): desired.UserState(False, "", "frozen"),
        SourceUserId("005D"): desired.UserState(True, "", "active"),
    }
    evaluation = desired.Evaluation({}, {} if source_error else users, (), quarantined)
    verdict = guard.SourceVerdict(trusted, None if trusted else "the source read failed")
    return Cycle(
        "rev1",
        SourceRead("org", (), NOW, error=source_error),
        evaluation,
        verdict,
        (AppCycle(planned.app, planned, app, report=report),),
    )


def scraped(recorder: Recorder) -> dict[str, set[frozenset[str]]]:
    """Metric name -> the label-name sets its samples carry, parsed from the exposition."""
    body, _ = recorder.exposition()
    found: dict[str, set[frozenset[str]]] = {}
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            if sample.name.endswith("_created"):
                continue
            name = family.name + ("_total" if family.type == "counter" else "")
            found.setdefault(name, set()).add(frozenset(sample.labels) - {"le"})
    return found


def test_every_contract_metric_is_exposed_with_exactly_its_labels() -> None:
    recorder = Recorder()
    planned, app = a_plan()
    recorder.record_cycle(a_cycle(planned, app), durations={"app": 1.5}, now=1000.0)
    recorder.record_cycle(a_cycle(planned, app, source_error="down"), durations={}, now=1.0)
    recorder.policy_loaded("rev1")
    recorder.trigger("startup", now=1.0)
    recorder.record_api_usage(10, 100)
    recorder.http_requests.labels("app", "GET", "200").inc()
    recorder.http_duration.labels("app").observe(0.1)
    recorder.rate_limited.labels("app").inc()
    recorder.change_confirmed("app", "leaver", 2.5)
    assert scraped(recorder) == {name: {frozenset(labels)} for name, labels in CONTRACT.items()}


def test_every_series_an_alert_reads_exists_once_the_policy_is_loaded() -> None:
    recorder = Recorder()
    value = recorder.registry.get_sample_value
    recorder.watching(apps=["slack", "jira"], sources=["org"], now=500.0)
    assert value("provisioner_source_read_errors_total", {"source": "org"}) == 0
    for app in ("slack", "jira"):
        for result in ("success", "error", "blocked"):
            assert value("provisioner_reconcile_total", {"app": app, "result": result}) == 0
        # before any success: when the controller began watching the app, so it ages
        assert value("provisioner_last_reconcile_success_timestamp_seconds", {"app": app}) == 500

    planned, app = a_plan()
    recorder.record_cycle(a_cycle(planned, app), durations={}, now=1000.0)
    recorder.watching(apps=["app", "zendesk"], sources=[], now=2000.0)  # a reload keeps it
    assert value("provisioner_last_reconcile_success_timestamp_seconds", APP) == 1000
    assert value("provisioner_last_reconcile_success_timestamp_seconds", {"app": "zendesk"}) == 2000


def test_a_cycle_that_failed_whole_is_an_error_of_every_app_and_no_progress() -> None:
    recorder = Recorder()
    value = recorder.registry.get_sample_value
    recorder.progressed(100.0)
    recorder.cycle_failed(["slack", "jira"])
    recorder.cycle_failed(["slack", "jira"])
    for app in ("slack", "jira"):
        assert value("provisioner_reconcile_total", {"app": app, "result": "error"}) == 2
        assert value("provisioner_reconcile_total", {"app": app, "result": "success"}) == 0
    assert value("provisioner_last_cycle_progress_timestamp_seconds") == 100


def test_a_cycle_is_recorded_under_the_contract_names() -> None:
    recorder = Recorder()
    planned, app = a_plan()
    recorder.record_cycle(a_cycle(planned, app), durations={"app": 1.5}, now=1000.0)
    value = recorder.registry.get_sample_value
    drift = {
        kind: value("provisioner_drift_accounts", {**APP, "kind": kind})
        for kind in ("missing", "unexpected", "attributes", "groups", "orphaned")
    }
    # ada's update and bob's suspend succeeded: drift repaired is not drift; orphans stay.
    assert drift == {"missing": 0, "unexpected": 0, "attributes": 0, "groups": 0, "orphaned": 1}
    assert value("provisioner_reconcile_total", {**APP, "result": "success"}) == 1
    assert value("provisioner_reconcile_total", {**APP, "result": "error"}) == 0
    assert value("provisioner_reconcile_total", {**APP, "result": "blocked"}) == 0
    assert value("provisioner_last_reconcile_success_timestamp_seconds", APP) == 1000
    assert value("provisioner_reconcile_duration_seconds_count", APP) == 1
    assert value("provisioner_reconcile_duration_seconds_sum", APP) == 1.5
    assert value("provisioner_safety_blocked", APP) == 0
    for state, count in {"active": 2, "inactive": 1, "frozen": 1}.items():
        assert value("provisioner_source_users", {"source": "org", "state": state}) == count
    assert value("provisioner_source_read_errors_total", {"source": "org"}) == 0


def test_quarantined_records_are_counted_without_naming_anyone() -> None:
    recorder = Recorder()
    planned, app = a_plan()
    held = (
        Quarantined("Email", "missing required field(s): Email", SourceUserId("005Q"), "q@x"),
        Quarantined("End__c", "'31/12/2020' is not an ISO date", SourceUserId("005R"), "r@x"),
    )
    value = recorder.registry.get_sample_value
    recorder.record_cycle(a_cycle(planned, app), durations={}, now=1000.0)
    assert value("provisioner_source_quarantined_users", {"source": "org"}) == 0
    assert value("provisioner_source_quarantined_records_total", {"source": "org"}) == 0
    for _ in range(2):
        recorder.record_cycle(a_cycle(planned, app, quarantined=held), durations={}, now=1000.0)
    assert value("provisioner_source_quarantined_users", {"source": "org"}) == 2
    assert value("provisioner_source_quarantined_records_total", {"source": "org"}) == 4
    failed = a_cycle(planned, app, source_error="down")
    recorder.record_cycle(failed, durations={}, now=1000.0)
    assert value("provisioner_source_quarantined_users", {"source": "org"}) == 2  # last good read
    body, _ = recorder.exposition()
    assert b"005Q" not in body and b"q@x" not in body


def test_operations_are_counted_by_kind_and_result() -> None:
    recorder = Recorder()
    planned, app = a_plan()
    assert [op.kind.value for op in planned.operations] == ["update", "suspend"]
    cycle = a_cycle(planned, app, results=("error", "skipped"))
    recorder.record_cycle(cycle, durations={}, now=1000.0)
    value = recorder.registry.get_sample_value
    counted = {
        (operation, result): value(
            "provisioner_operations_total", {**APP, "operation": operation, "result": result}
        )
        for operation in ("update", "suspend")
        for result in ("success", "error", "skipped")
    }
    assert {key: n for key, n in counted.items() if n} == {
        ("update", "error"): 1,
        ("suspend", "skipped"): 1,
    }
    assert value("provisioner_reconcile_total", {**APP, "result": "error"}) == 1
    assert value("provisioner_last_reconcile_success_timestamp_seconds", APP) is None


def test_too_many_deprovisions_are_blocked_in_the_metrics() -> None:
    recorder = Recorder()
    planned, app = a_plan(limit=0)
    recorder.record_cycle(a_cycle(planned, app), durations={}, now=1000.0)
    value = recorder.registry.get_sample_value
    assert value("provisioner_safety_blocked", APP) == 1
    assert value("provisioner_reconcile_total", {**APP, "result": "blocked"}) == 1
    assert value("provisioner_reconcile_total", {**APP, "result": "success"}) == 0
    assert value("provisioner_last_reconcile_success_timestamp_seconds", APP) is None
    labels = {**APP, "operation": "suspend", "result": "success"}
    assert value("provisioner_operations_total", labels) == 0

    released, _ = a_plan(limit=10)
    recorder.record_cycle(a_cycle(released, app), durations={}, now=2000.0)
    assert value("provisioner_safety_blocked", APP) == 0


def test_an_untrusted_source_with_something_to_hold_is_blocked() -> None:
    recorder = Recorder()
    planned, app = a_plan(source_complete=False)
    assert planned.blocked
    cycle = a_cycle(planned, app, trusted=False)
    recorder.record_cycle(cycle, durations={}, now=1000.0)
    value = recorder.registry.get_sample_value
    assert value("provisioner_reconcile_total", {**APP, "result": "blocked"}) == 1
    assert value("provisioner_safety_blocked", APP) == 1


def test_a_failed_observation_is_an_error_and_keeps_the_last_drift() -> None:
    recorder = Recorder()
    planned, app = a_plan()
    recorder.record_cycle(a_cycle(planned, app), durations={}, now=1000.0)
    unseen = ObservedApp(AppName("app"), (), (), error="connection refused")
    failed = Plan(AppName("app"), (), {}, error="could not observe the app")
    recorder.record_cycle(a_cycle(failed, unseen), durations={}, now=2000.0)
    value = recorder.registry.get_sample_value
    assert value("provisioner_reconcile_total", {**APP, "result": "error"}) == 1
    assert value("provisioner_drift_accounts", {**APP, "kind": "orphaned"}) == 1
    assert value("provisioner_last_reconcile_success_timestamp_seconds", APP) == 1000


def drift_of(recorder: Recorder) -> dict[str, float | None]:
    value = recorder.registry.get_sample_value
    return {
        kind: value("provisioner_drift_accounts", {**APP, "kind": kind})
        for kind in ("missing", "unexpected", "attributes", "groups", "orphaned")
    }


def test_drift_an_operation_failed_to_repair_still_counts() -> None:
    recorder = Recorder()
    planned, app = a_plan()
    recorder.record_cycle(a_cycle(planned, app, results=("error", "success")), durations={}, now=1)
    assert drift_of(recorder) == {
        "missing": 0,
        "unexpected": 0,
        "attributes": 1,  # ada's update failed
        "groups": 0,
        "orphaned": 1,
    }


def test_drift_a_guard_held_still_counts() -> None:
    recorder = Recorder()
    planned, app = a_plan(limit=0)  # bob's suspend is held; ada's update goes
    recorder.record_cycle(a_cycle(planned, app), durations={}, now=1)
    assert drift_of(recorder)["unexpected"] == 1
    assert drift_of(recorder)["attributes"] == 0


def test_an_observe_only_app_keeps_reporting_its_planned_drift() -> None:
    recorder = Recorder()
    planned, app = a_plan()
    cycle = a_cycle(planned, app)
    watched = dataclasses.replace(cycle.apps[0], observe_only=True, report=None)
    recorder.record_cycle(dataclasses.replace(cycle, apps=(watched,)), durations={}, now=1)
    assert drift_of(recorder) == {
        "missing": 0,
        "unexpected": 1,
        "attributes": 1,
        "groups": 0,
        "orphaned": 1,
    }


def test_group_drift_is_repaired_only_when_every_change_of_the_account_succeeded() -> None:
    wanted = desired_app(
        desired_account("005A", "ada@x", groups=frozenset({"eng", "ops"})),
        desired_account("005B", "bob@x", groups=frozenset({"eng"})),
    )
    app = observed(
        account("1", "ada@x", external_id="005A"),
        account("2", "bob@x", external_id="005B"),
        groups={"eng": set(), "ops": set()},
    )
    planned = plan.compute(wanted, app, match=["externalId"])
    assert planned.drift[DriftKind.GROUPS] == 2
    members = [(op.user_name, op.group) for op in planned.operations]
    assert members == [("ada@x", "eng"), ("ada@x", "ops"), ("bob@x", "eng")]
    recorder = Recorder()
    cycle = a_cycle(planned, app, results=("success", "error", "success"))
    recorder.record_cycle(cycle, durations={}, now=1)
    assert drift_of(recorder)["groups"] == 1  # ada: one of her two changes failed


def test_a_failed_source_read_keeps_the_last_drift() -> None:
    recorder = Recorder()
    planned, app = a_plan(limit=0)
    recorder.record_cycle(a_cycle(planned, app), durations={}, now=1.0)
    before = drift_of(recorder)
    nothing = Plan(AppName("app"), (), {kind: 0 for kind in DriftKind} | {DriftKind.ORPHANED: 3})
    failed = a_cycle(nothing, app, source_error="REQUEST_LIMIT_EXCEEDED", trusted=False)
    recorder.record_cycle(failed, durations={}, now=2.0)
    assert drift_of(recorder) == before  # not 3 orphans, not 0 unexpected


def test_an_untrusted_source_read_records_drift_but_keeps_the_last_orphans() -> None:
    recorder = Recorder()
    planned, app = a_plan()
    recorder.record_cycle(a_cycle(planned, app), durations={}, now=1.0)
    held, _ = a_plan(source_complete=False)  # bob's suspend held, ada's update goes
    more_orphans = dataclasses.replace(held, drift={**held.drift, DriftKind.ORPHANED: 5})
    recorder.record_cycle(a_cycle(more_orphans, app, trusted=False), durations={}, now=2.0)
    assert drift_of(recorder) == {
        "missing": 0,
        "unexpected": 1,
        "attributes": 0,
        "groups": 0,
        "orphaned": 1,
    }


def test_a_failed_source_read_counts_and_keeps_the_last_user_counts() -> None:
    recorder = Recorder()
    planned, app = a_plan()
    recorder.record_cycle(a_cycle(planned, app), durations={}, now=1.0)
    failed = a_cycle(planned, app, source_error="REQUEST_LIMIT_EXCEEDED", trusted=False)
    recorder.record_cycle(failed, durations={}, now=2.0)
    value = recorder.registry.get_sample_value
    assert value("provisioner_source_read_errors_total", {"source": "org"}) == 1
    assert value("provisioner_source_users", {"source": "org", "state": "active"}) == 2


def test_policy_revision_and_validity() -> None:
    recorder = Recorder()
    value = recorder.registry.get_sample_value
    recorder.policy_loaded("aaa")
    assert value("provisioner_policy_info", {"revision": "aaa"}) == 1
    assert value("provisioner_policy_load_errors_total") == 0
    recorder.policy_loaded("bbb")
    recorder.policy_load_failed()
    assert value("provisioner_policy_info", {"revision": "aaa"}) is None
    assert value("provisioner_policy_info", {"revision": "bbb"}) == 1
    assert value("provisioner_policy_valid") == 0
    assert value("provisioner_policy_load_errors_total") == 1
    recorder.policy_loaded("bbb")
    assert value("provisioner_policy_valid") == 1


def test_triggers_and_api_usage() -> None:
    recorder = Recorder()
    value = recorder.registry.get_sample_value
    assert value("provisioner_reconcile_triggers_total", {"trigger": "signal"}) == 0
    recorder.trigger("signal", now=42.0)
    assert value("provisioner_reconcile_triggers_total", {"trigger": "signal"}) == 1
    assert value("provisioner_last_trigger_handled_timestamp_seconds") == 42
    with pytest.raises(ValueError, match="unknown trigger"):
        recorder.trigger("sighup", now=43.0)
    recorder.record_api_usage(4000, 5000)
    assert value("provisioner_salesforce_api_usage_ratio") == 0.8


def test_change_latency_is_observed_by_app_and_kind_and_known_kinds_only() -> None:
    recorder = Recorder()
    value = recorder.registry.get_sample_value
    recorder.change_confirmed("slack", "leaver", 1.5)
    recorder.change_confirmed("slack", "leaver", 45.0)
    recorder.change_confirmed("jira", "end_date", 7200.0)
    leaver = {"app": "slack", "kind": "leaver"}
    assert value("provisioner_change_latency_seconds_count", leaver) == 2
    assert value("provisioner_change_latency_seconds_sum", leaver) == 46.5
    assert value("provisioner_change_latency_seconds_bucket", {**leaver, "le": "2.0"}) == 1
    assert value("provisioner_change_latency_seconds_bucket", {**leaver, "le": "60.0"}) == 2
    ended = {"app": "jira", "kind": "end_date", "le": "3600.0"}
    assert value("provisioner_change_latency_seconds_bucket", ended) == 0
    assert value("provisioner_change_latency_seconds_bucket", {**ended, "le": "+Inf"}) == 1
    with pytest.raises(ValueError, match="unknown change kind 'deleted'"):
        recorder.change_confirmed("slack", "deleted", 1.0)


def test_change_checks_show_their_cost_and_pace() -> None:
    recorder = Recorder()
    value = recorder.registry.get_sample_value
    assert value("provisioner_change_checks_total") == 0
    assert value("provisioner_change_check_calls_total") == 0
    recorder.change_check(3, 2.0)
    recorder.change_check(5, 26.0)
    assert value("provisioner_change_checks_total") == 2
    assert value("provisioner_change_check_calls_total") == 8
    assert value("provisioner_change_check_interval_seconds") == 26


def test_recorders_do_not_share_a_registry() -> None:
    first, second = Recorder(), Recorder()
    first.trigger("schedule", now=1.0)
    sample = "provisioner_reconcile_triggers_total"
    assert second.registry.get_sample_value(sample, {"trigger": "schedule"}) == 0


def test_no_label_carries_a_user_name_or_email() -> None:
    recorder = Recorder()
    planned, app = a_plan(limit=0)
    recorder.record_cycle(a_cycle(planned, app), durations={}, now=1.0)
    released, _ = a_plan()
    recorder.record_cycle(a_cycle(released, app, results=("error", "success")), durations={}, now=2)
    body, _ = recorder.exposition()
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            for label in sample.labels.values():
                assert "@" not in label
                assert label not in {"ada", "bob", "stranger", "005A", "005B", "1", "2", "3"}


def test_a_cycle_without_apps_records_the_source_only() -> None:
    recorder = Recorder()
    planned, app = a_plan()
    cycle = dataclasses.replace(a_cycle(planned, app), apps=())
    recorder.record_cycle(cycle, durations={}, now=1.0)
    assert (
        recorder.registry.get_sample_value(
            "provisioner_reconcile_total", APP | {"result": "success"}
        )
        is None
    )
