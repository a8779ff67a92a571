"""Writes prometheusrule.yaml: deploy/prometheus/alerts.yaml wrapped for the Prometheus Operator.

Why it exists: the alert rules have one source, alerts.yaml, which promtool checks and
unit-tests and whose every alert has a runbook section. The Prometheus Operator loads rules from
PrometheusRule objects instead of rule files; copying the rules by hand into one would let the
two drift apart. This wraps the file's groups, unchanged, in that object. After editing
alerts.yaml, run:

    .venv/bin/python deploy/kubernetes/prometheusrule.py > deploy/kubernetes/prometheusrule.yaml

tests/deploy/test_kubernetes.py fails when the committed file is not what this prints.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

ALERTS = Path(__file__).resolve().parents[1] / "prometheus" / "alerts.yaml"
HEADER = (
    "# Generated from deploy/prometheus/alerts.yaml by deploy/kubernetes/prometheusrule.py.\n"
    "# Do not edit: edit alerts.yaml, then regenerate this file with that script.\n"
)


def prometheus_rule(alerts: str) -> dict[str, Any]:
    """The PrometheusRule whose spec is the rule file `alerts` (its text), group for group."""
    groups = yaml.safe_load(alerts)["groups"]
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {"name": "provisioner", "labels": {"app.kubernetes.io/name": "provisioner"}},
        "spec": {"groups": groups},
    }


def render(alerts: str) -> str:
    """prometheusrule.yaml's text for the rule file `alerts`."""
    manifest = prometheus_rule(alerts)
    return HEADER + yaml.safe_dump(manifest, sort_keys=False, width=100, allow_unicode=True)


if __name__ == "__main__":
    sys.stdout.write(render(ALERTS.read_text()))
