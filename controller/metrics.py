"""One Recorder owns every Prometheus collector; the names and labels are an interface.

Dashboards and alert rules (deploy/) depend on exactly these names, so they are defined once,
here, from DESIGN.md section 5. The loop hands the Recorder whole cycles and events; the Recorder
decides what each metric says. Labels carry app, source, kind and result names only: never a user
id, email or username. Each Recorder has its own registry, so tests can make as many as they like.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from controller.engine import AppCycle, Cycle
from controller.operations import DriftKind

RESULTS = ("success", "error", "blocked")
USER_STATES = ("active", "inactive", "frozen")
DURATION_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)


def app_result(app: AppCycle, *, source_trusted: bool) -> str:
    """success | error | blocked, as `provisioner_reconcile_total` labels one app's run."""
    if app.plan.error is not None or (app.report is not None and app.report.failed):
        return "error"
    if app.plan.blocked or (not source_trusted and app.plan.blocked_reason):
        return "blocked"
    return "success"


class Recorder:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.drift = Gauge(
            "provisioner_drift_accounts",
            "Accounts drifting, by kind, at the last observation",
            ["app", "kind"],
            registry=r,
        )
        self.reconciles = Counter(
            "provisioner_reconcile_total", "Reconciles by result", ["app", "result"], registry=r
        )
        self.duration = Histogram(
            "provisioner_reconcile_duration_seconds",
            "Reconcile duration",
            ["app"],
            buckets=DURATION_BUCKETS,
            registry=r,
        )
        self.last_success = Gauge(
            "provisioner_last_reconcile_success_timestamp_seconds",
            "Unix time of the last successful reconcile",
            ["app"],
            registry=r,
        )
        self.operations = Counter(
            "provisioner_operations_total",
            "Operations applied, by result",
            ["app", "operation", "result"],
            registry=r,
        )
        self.source_users = Gauge(
            "provisioner_source_users",
            "Source users by state at the last read",
            ["source", "state"],
            registry=r,
        )
        self.source_errors = Counter(
            "provisioner_source_read_errors_total", "Failed source reads", ["source"], registry=r
        )
        self.policy_info = Gauge(
            "provisioner_policy_info",
            "The policy revision in force (value 1)",
            ["revision"],
            registry=r,
        )
        self.policy_valid = Gauge(
            "provisioner_policy_valid", "1 when the last policy load succeeded", registry=r
        )
        self.policy_errors = Counter(
            "provisioner_policy_load_errors_total", "Failed policy loads", registry=r
        )
        self.safety_blocked = Gauge(
            "provisioner_safety_blocked",
            "1 while a guard holds the app's deprovisions",
            ["app"],
            registry=r,
        )
        self.triggers = Counter(
            "provisioner_reconcile_triggers_total",
            "Reconcile triggers received",
            ["trigger"],
            registry=r,
        )
        self.last_trigger = Gauge(
            "provisioner_last_trigger_handled_timestamp_seconds",
            "Unix time the last trigger was acknowledged",
            registry=r,
        )
        self.http_requests = Counter(
            "provisioner_http_requests_total",
            "HTTP requests to apps and sources",
            ["target", "method", "code"],
            registry=r,
        )
        self.http_duration = Histogram(
            "provisioner_http_request_duration_seconds",
            "HTTP request duration",
            ["target"],
            registry=r,
        )
        self.rate_limited = Counter(
            "provisioner_rate_limited_total",
            "Requests refused for rate or API limits",
            ["target"],
            registry=r,
        )
        self.api_usage = Gauge(
            "provisioner_salesforce_api_usage_ratio",
            "Share of the Salesforce daily API budget used",
            registry=r,
        )
        self._revision: str | None = None

    def record_cycle(self, cycle: Cycle, *, durations: Mapping[str, float], now: float) -> None:
        source = cycle.source.source
        self.source_errors.labels(source)  # present at 0, so increase() sees the first error
        if cycle.source.error is not None:
            self.source_errors.labels(source).inc()
        else:
            states = [state.state for state in cycle.evaluation.users.values()]
            for state in USER_STATES:
                self.source_users.labels(source, state).set(states.count(state))
        for app in cycle.apps:
            for result in RESULTS:
                self.reconciles.labels(app.app, result)
            result = app_result(app, source_trusted=cycle.verdict.trusted)
            self.reconciles.labels(app.app, result).inc()
            self.duration.labels(app.app).observe(durations.get(app.app, 0.0))
            if result == "success":
                self.last_success.labels(app.app).set(now)
            self.safety_blocked.labels(app.app).set(1 if app.plan.blocked else 0)
            if app.observed.ok:
                for kind in DriftKind:
                    self.drift.labels(app.app, kind.value).set(app.plan.drift.get(kind, 0))
            for outcome in app.report.outcomes if app.report else ():
                operation = outcome.operation.kind.value
                self.operations.labels(app.app, operation, outcome.result).inc()

    def record_api_usage(self, used: int, limit: int) -> None:
        if limit > 0:
            self.api_usage.set(used / limit)

    def policy_loaded(self, revision: str) -> None:
        if self._revision is not None and self._revision != revision:
            self.policy_info.remove(self._revision)
        self._revision = revision
        self.policy_info.labels(revision).set(1)
        self.policy_valid.set(1)
        self.policy_errors.inc(0)

    def policy_load_failed(self) -> None:
        self.policy_valid.set(0)
        self.policy_errors.inc()

    def trigger(self, kind: str, *, now: float) -> None:
        self.triggers.labels(kind).inc()
        self.last_trigger.set(now)

    def http_hooks(self, target: str) -> dict[str, list[Callable[..., Any]]]:
        """httpx `event_hooks` that count and time every request to `target`."""

        async def on_request(request: httpx.Request) -> None:
            request.extensions["provisioner_started"] = time.perf_counter()

        async def on_response(response: httpx.Response) -> None:
            request = response.request
            started = request.extensions.get("provisioner_started", time.perf_counter())
            code = response.status_code
            self.http_requests.labels(target, request.method, str(code)).inc()
            self.http_duration.labels(target).observe(time.perf_counter() - started)
            if code == 429 or (code == 403 and b"REQUEST_LIMIT_EXCEEDED" in await response.aread()):
                self.rate_limited.labels(target).inc()

        return {"request": [on_request], "response": [on_response]}

    def exposition(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
