"""The shipped alert rules, their unit tests, the Grafana dashboard and the runbook agree.

`promtool` (Debian's `prometheus` package; .ci/run installs it) checks and unit-tests the rules.
Outside CI, without it, those tests are skipped and say so; in CI a missing promtool fails them.
Everything else is plain parsing: every metric and label the alerts and the dashboard query is
one of the contract names of DESIGN.md section 5, and every alert has a runbook section.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
ALERTS = REPO / "deploy" / "prometheus" / "alerts.yaml"
ALERT_TESTS = REPO / "deploy" / "prometheus" / "alerts_test.yaml"
DASHBOARD = REPO / "deploy" / "grafana" / "provisioner.json"
RUNBOOK = REPO / "docs" / "runbook.md"
RUNBOOK_URL = "https://github.com/provisioner/provisioner/blob/main/docs/runbook.md"

# DESIGN.md section 5, plus provisioner_source_read_errors_total,
# provisioner_salesforce_api_usage_ratio and provisioner_change_latency_seconds:
# metric -> label -> allowed values (None: any value).
CONTRACT: dict[str, dict[str, frozenset[str] | None]] = {
    "provisioner_drift_accounts": {
        "app": None,
        "kind": frozenset({"missing", "unexpected", "attributes", "groups", "orphaned"}),
    },
    "provisioner_reconcile_total": {
        "app": None,
        "result": frozenset({"success", "error", "blocked"}),
    },
    "provisioner_reconcile_duration_seconds": {"app": None},
    "provisioner_last_reconcile_success_timestamp_seconds": {"app": None},
    "provisioner_operations_total": {
        "app": None,
        "operation": None,
        "result": frozenset({"success", "error", "skipped"}),
    },
    "provisioner_source_users": {
        "source": None,
        "state": frozenset({"active", "inactive", "frozen"}),
    },
    "provisioner_source_read_errors_total": {"source": None},
    "provisioner_source_quarantined_users": {"source": None},
    "provisioner_source_quarantined_records_total": {"source": None},
    "provisioner_policy_info": {"revision": None},
    "provisioner_policy_valid": {},
    "provisioner_policy_load_errors_total": {},
    "provisioner_policy_fetch_errors_total": {},
    "provisioner_safety_blocked": {"app": None},
    "provisioner_reconcile_triggers_total": {
        "trigger": frozenset({"schedule", "signal", "change", "startup", "policy"}),
    },
    "provisioner_last_trigger_handled_timestamp_seconds": {},
    "provisioner_last_cycle_progress_timestamp_seconds": {},
    "provisioner_http_requests_total": {"target": None, "method": None, "code": None},
    "provisioner_http_request_duration_seconds": {"target": None},
    "provisioner_rate_limited_total": {"target": None},
    "provisioner_salesforce_api_usage_ratio": {},
    "provisioner_change_latency_seconds": {
        "app": None,
        "kind": frozenset({"joiner", "leaver", "mover", "end_date"}),
    },
}
HISTOGRAMS = {
    "provisioner_reconcile_duration_seconds",
    "provisioner_http_request_duration_seconds",
    "provisioner_change_latency_seconds",
}
# Labels Prometheus adds to every scraped series.
TARGET_LABELS = {"job", "instance"}
# Not ours, but allowed: the scrape health of the controller (ProvisionerDown).
PROMETHEUS_METRICS = {"up": {"job": None, "instance": None}}

EXPECTED_ALERTS = {
    "ProvisionerDriftPersisting",
    "ProvisionerReconcileFailing",
    "ProvisionerNoRecentSuccess",
    "ProvisionerNotReconciling",
    "ProvisionerSafetyGuardHolding",
    "ProvisionerPolicyInvalid",
    "ProvisionerPolicyFetchFailing",
    "ProvisionerSourceReadsFailing",
    "ProvisionerSourceRecordsQuarantined",
    "ProvisionerChangeLatencyHigh",
    "ProvisionerSalesforceApiBudgetHigh",
    "ProvisionerDown",
}

PROMQL_KEYWORDS = {
    "by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless",
    "bool", "offset", "inf", "nan",
}  # fmt: skip
GRAFANA_VARIABLES = {
    "$__rate_interval": "5m",
    "$__interval": "1m",
    "$__range": "1h",
    "$app": ".*",
}


# --- PromQL, just enough to name what a query reads ------------------------------------------


def _labels_of(metric: str) -> dict[str, frozenset[str] | None]:
    """The contract labels of a series name (histogram _bucket/_sum/_count included)."""
    if metric in PROMETHEUS_METRICS:
        return dict(PROMETHEUS_METRICS[metric])
    for histogram in HISTOGRAMS:
        if metric == f"{histogram}_bucket":
            return {**CONTRACT[histogram], "le": None}
        if metric in (f"{histogram}_sum", f"{histogram}_count"):
            return dict(CONTRACT[histogram])
    if metric not in CONTRACT:
        raise KeyError(metric)
    return dict(CONTRACT[metric])


def metric_names(expr: str) -> set[str]:
    """Every series name a PromQL expression selects (functions, keywords, labels left out)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # strings
    text = re.sub(r"\{[^}]*\}", " ", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", " ", text)  # ranges
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    text = re.sub(r"\b\d+(?:\.\d+)?(?:e[+-]?\d+)?[smhdwy]?\b", " ", text)  # numbers, durations
    names = set()
    for match in re.finditer(r"[a-zA-Z_:][a-zA-Z0-9_:]*", text):
        following = text[match.end() :].lstrip()
        if following.startswith("(") or match.group().lower() in PROMQL_KEYWORDS:
            continue
        names.add(match.group())
    return names


def contract_problems(expr: str) -> list[str]:
    """Why the expression is not within the metrics contract; empty when it is."""
    problems = []
    labels: dict[str, frozenset[str] | None] = {}
    for name in sorted(metric_names(expr)):
        try:
            labels.update(_labels_of(name))
        except KeyError:
            problems.append(f"{name} is not a contract metric")
    allowed_labels = set(labels) | TARGET_LABELS
    for name, matchers in re.findall(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{([^}]*)\}", expr):
        try:
            own = _labels_of(name)
        except KeyError:
            continue  # reported above
        for label, op, value in re.findall(r'(\w+)\s*(=~|!~|!=|=)\s*"([^"]*)"', matchers):
            if label not in own and label not in TARGET_LABELS:
                problems.append(f"{name} has no label {label}")
                continue
            allowed = own.get(label)
            if allowed is None or "$" in value or ".*" in value:
                continue
            values = value.split("|") if op in ("=~", "!~") else [value]
            problems += [f"{name}{{{label}}} is never {v!r}" for v in values if v not in allowed]
    for group in re.findall(r"\b(?:by|without|on|ignoring)\s*\(([^)]*)\)", expr):
        for label in filter(None, (part.strip() for part in group.split(","))):
            if label not in allowed_labels:
                problems.append(f"grouping by {label}, which none of the metrics has")
    return problems


def test_the_promql_reader_finds_metrics_and_contract_breaches() -> None:
    # The checks below are only as good as this reader: it must see through functions,
    # aggregations, matchers and ranges, and catch a wrong name, label or label value.
    expr = (
        "histogram_quantile(0.95, sum by (app, le) (rate(provisioner_reconcile_duration_"
        'seconds_bucket{app=~"$app"}[15m]))) > 3 * 300 and on(app) time() - up{job="x"}'
    )
    assert metric_names(expr) == {"provisioner_reconcile_duration_seconds_bucket", "up"}
    assert contract_problems(expr) == []
    assert contract_problems("provisioner_drift_total > 0") == [
        "provisioner_drift_total is not a contract metric"
    ]
    assert contract_problems('provisioner_reconcile_total{result="failed"}') == [
        "provisioner_reconcile_total{result} is never 'failed'"
    ]
    assert contract_problems('provisioner_safety_blocked{user="ada"}') == [
        "provisioner_safety_blocked has no label user"
    ]
    assert contract_problems("sum by (email) (provisioner_source_users)") == [
        "grouping by email, which none of the metrics has"
    ]


# --- the files ----------------------------------------------------------------------------


def load_rules() -> list[dict[str, Any]]:
    document = yaml.safe_load(ALERTS.read_text())
    groups = document["groups"]
    assert [group["name"] for group in groups] == ["provisioner"]
    return list(groups[0]["rules"])


def load_dashboard() -> dict[str, Any]:
    dashboard: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return dashboard


def dashboard_queries(dashboard: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(where, expr) for every panel query and every query variable."""
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            yield f"panel {panel['title']!r} {target['refId']}", target["expr"]
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            query = variable["query"]
            expr = query["query"] if isinstance(query, dict) else query
            yield f"variable {variable['name']}", expr


def runbook_anchors() -> set[str]:
    """GitHub's anchors for the runbook's headings."""
    anchors = set()
    for heading in re.findall(r"^#{1,6}\s+(.+?)\s*$", RUNBOOK.read_text(), flags=re.MULTILINE):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        anchors.add(slug)
    return anchors


# --- promtool -----------------------------------------------------------------------------


@pytest.fixture
def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("promtool is not installed; .ci/run must install Debian's prometheus")
        pytest.skip("promtool is not installed (apt-get install prometheus); set CI to require it")
    return path


def run_promtool(promtool: str, *args: str) -> str:
    completed = subprocess.run(
        [promtool, *args], cwd=REPO, capture_output=True, text=True, timeout=120, check=False
    )
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, f"promtool {' '.join(args)} failed:\n{output}"
    return output


def test_promtool_accepts_the_rules(promtool: str) -> None:
    output = run_promtool(promtool, "check", "rules", str(ALERTS))
    assert f"SUCCESS: {len(EXPECTED_ALERTS)} rules found" in output


def test_promtool_unit_tests_of_the_rules_pass(promtool: str) -> None:
    output = run_promtool(promtool, "test", "rules", str(ALERT_TESTS))
    assert "SUCCESS" in output


def test_promtool_parses_every_dashboard_query(promtool: str, tmp_path: Path) -> None:
    # Grafana's variables replaced by what they expand to, each query becomes a recording rule,
    # so that Prometheus's own parser reads every query the dashboard runs.
    rules = []
    for number, (where, query) in enumerate(dashboard_queries(load_dashboard())):
        if where.startswith("variable"):
            continue  # label_values() is Grafana's, not PromQL
        expr = query
        for variable, value in GRAFANA_VARIABLES.items():
            expr = expr.replace(variable, value)
        assert "$" not in expr, f"{where}: unknown Grafana variable in {query}"
        rules.append({"record": f"dashboard:query_{number}", "expr": expr})
    path = tmp_path / "dashboard_rules.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    output = run_promtool(promtool, "check", "rules", str(path))
    assert f"SUCCESS: {len(rules)} rules found" in output


# --- alerts -------------------------------------------------------------------------------


def test_the_alerts_are_the_documented_set() -> None:
    names = [rule["alert"] for rule in load_rules()]
    assert len(names) == len(set(names))
    assert set(names) == EXPECTED_ALERTS


@pytest.mark.parametrize("rule", load_rules(), ids=lambda rule: rule["alert"])
def test_alert_is_complete_and_within_the_metrics_contract(rule: dict[str, Any]) -> None:
    assert rule["labels"]["severity"] in {"critical", "warning"}
    assert set(rule["annotations"]) >= {"summary", "description", "runbook_url"}
    assert rule.get("for"), "every alert waits before firing"
    assert contract_problems(rule["expr"]) == []
    # Templates may only use labels the expression's series carry.
    labels = set(TARGET_LABELS)
    for name in metric_names(rule["expr"]):
        labels |= set(_labels_of(name))
    for text in rule["annotations"].values():
        for label in re.findall(r"\$labels\.(\w+)", text):
            assert label in labels, f"{rule['alert']} annotation uses unknown label {label}"


@pytest.mark.parametrize("rule", load_rules(), ids=lambda rule: rule["alert"])
def test_alert_links_to_its_runbook_section(rule: dict[str, Any]) -> None:
    anchor = rule["alert"].lower()
    assert rule["annotations"]["runbook_url"] == f"{RUNBOOK_URL}#{anchor}"
    assert anchor in runbook_anchors(), f"docs/runbook.md has no section for {rule['alert']}"


def test_every_alert_has_a_firing_and_a_quiet_unit_test() -> None:
    tests = yaml.safe_load(ALERT_TESTS.read_text())
    assert tests["rule_files"] == [ALERTS.name]
    fires: set[str] = set()
    quiet: set[str] = set()
    for group in tests["tests"]:
        for case in group.get("alert_rule_test", []):
            (fires if case.get("exp_alerts") else quiet).add(case["alertname"])
    assert fires == EXPECTED_ALERTS
    assert quiet == EXPECTED_ALERTS


# --- runbook ------------------------------------------------------------------------------


def test_runbook_metrics_reference_lists_every_contract_metric() -> None:
    text = RUNBOOK.read_text()
    reference = text[text.index("## Metrics reference") :]
    rows = {row.split("|")[1].strip().strip("`") for row in reference.splitlines() if "|" in row}
    missing = set(CONTRACT) - rows
    assert not missing, f"docs/runbook.md Metrics reference lacks {sorted(missing)}"


# --- dashboard ----------------------------------------------------------------------------


def test_dashboard_is_importable_grafana_json() -> None:
    dashboard = load_dashboard()
    assert dashboard["schemaVersion"] >= 36
    assert dashboard["uid"] and dashboard["title"]
    variables = {variable["name"]: variable for variable in dashboard["templating"]["list"]}
    source = variables["DS_PROMETHEUS"]
    assert (source["type"], source["query"]) == ("datasource", "prometheus")
    app = variables["app"]
    assert app["definition"] == "label_values(provisioner_reconcile_total, app)"
    assert app["includeAll"] and app["multi"]
    datasource = {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        assert panel["datasource"] == datasource, panel["title"]
        assert panel["targets"], panel["title"]
        assert all(target["datasource"] == datasource for target in panel["targets"])
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 24, panel["title"]


def test_dashboard_queries_are_within_the_metrics_contract() -> None:
    for where, expr in dashboard_queries(load_dashboard()):
        values_of = re.fullmatch(r"label_values\(\s*(.+?)\s*,\s*(\w+)\s*\)", expr.strip())
        if values_of:  # Grafana's label_values(selector, label): the label must be the metric's
            selector, label = values_of.groups()
            assert contract_problems(f"sum by ({label}) ({selector})") == [], where
        else:
            assert contract_problems(expr) == [], where


def test_dashboard_shows_what_on_call_needs() -> None:
    dashboard = load_dashboard()
    panel_of: dict[str, set[str]] = {}
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            for name in metric_names(target["expr"]):
                panel_of.setdefault(name, set()).add(panel["type"])
    assert {
        "provisioner_drift_accounts",
        "provisioner_operations_total",
        "provisioner_reconcile_duration_seconds_bucket",
        "provisioner_change_latency_seconds_bucket",
        "provisioner_reconcile_total",
        "provisioner_source_users",
        "provisioner_reconcile_triggers_total",
    } <= set(panel_of)
    assert panel_of["provisioner_last_reconcile_success_timestamp_seconds"] == {"stat"}
    assert panel_of["provisioner_safety_blocked"] == {"stat"}
    assert panel_of["provisioner_salesforce_api_usage_ratio"] == {"gauge"}
