"""One Recorder owns every Prometheus collector; the names and labels are an interface.

Dashboards and alert rules (deploy/) depend on exactly these names, so they are defined once,
here, from DESIGN.md section 5 (STYLE.md section 6 rule 5, after fluxcd/pkg's recorder.go). The
loop hands the Recorder whole cycles and events; the Recorder decides what each metric says.
Labels carry app, source, kind, operation and result names only: never a user id, email or
username. Each Recorder has its own registry, never the global one, so tests can make many.

Series an alert takes `increase()` of are created at zero the first time their labels are known
(an app's results, a target's rate limits, a source's read errors): a counter born at 1 is a
change Prometheus never sees. Every series an alert reads exists from the moment the policy is
loaded (`watching`): each app's reconcile results at 0, and its last success at the time
the controller began watching it, so an app that never succeeds still ages into an alert.
"""

from __future__ import annotations

import collections
from collections.abc import Iterable, Mapping

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from controller import change_latency, executor
from controller.cycle import AppCycle, Cycle
from controller.http_metrics import EventHook, HttpMetrics
from controller.operations import DriftKind, OpKind

SUCCESS, ERROR, BLOCKED = "success", "error", "blocked"
RESULTS = (SUCCESS, ERROR, BLOCKED)
OPERATION_RESULTS = (executor.SUCCESS, executor.ERROR, executor.SKIPPED)
USER_STATES = ("active", "inactive", "frozen")
TRIGGERS = ("schedule", "signal", "change", "startup", "policy")
SALESFORCE = "salesforce"
RECONCILE_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)
"""Seconds: a quiet pass takes under a second, a first sync of a big app several minutes."""
CHANGE_LATENCY_BUCKETS = (0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800, 3600)
"""Seconds from a change at the source to the app: seconds when targeted, up to an hour."""


class Recorder:
    """Every collector of the controller, in its own registry, and what each event means."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.drift = Gauge(
            "provisioner_drift_accounts",
            "Accounts differing from the desired state, by kind, after the last cycle's fixes",
            ["app", "kind"],
            registry=r,
        )
        self.reconciles = Counter(
            "provisioner_reconcile_total", "App reconciles by result", ["app", "result"], registry=r
        )
        self.duration = Histogram(
            "provisioner_reconcile_duration_seconds",
            "How long an app's reconcile took",
            ["app"],
            buckets=RECONCILE_BUCKETS,
            registry=r,
        )
        self.last_success = Gauge(
            "provisioner_last_reconcile_success_timestamp_seconds",
            "Unix time of the app's last successful reconcile",
            ["app"],
            registry=r,
        )
        self.operations = Counter(
            "provisioner_operations_total",
            "Operations carried out, by kind and result",
            ["app", "operation", "result"],
            registry=r,
        )
        self.source_users = Gauge(
            "provisioner_source_users",
            "Source users by state at the last good read",
            ["source", "state"],
            registry=r,
        )
        self.source_errors = Counter(
            "provisioner_source_read_errors_total", "Failed source reads", ["source"], registry=r
        )
        self.source_quarantined = Gauge(
            "provisioner_source_quarantined_users",
            "Source records set aside as invalid at the last good read (their accounts untouched)",
            ["source"],
            registry=r,
        )
        self.source_quarantined_records = Counter(
            "provisioner_source_quarantined_records_total",
            "Quarantined source records, counted at every read that found them",
            ["source"],
            registry=r,
        )
        self.policy_info = Gauge(
            "provisioner_policy_info", "The policy revision in force (1)", ["revision"], registry=r
        )
        self.policy_valid = Gauge(
            "provisioner_policy_valid", "1 when the last policy load succeeded", registry=r
        )
        self.policy_errors = Counter(
            "provisioner_policy_load_errors_total", "Failed policy loads", registry=r
        )
        self.policy_fetch_errors = Counter(
            "provisioner_policy_fetch_errors_total",
            "Failed fetches of the policy repository (the last good policy stays in force)",
            registry=r,
        )
        self.safety_blocked = Gauge(
            "provisioner_safety_blocked",
            "1 while a guard holds the app's destructive operations",
            ["app"],
            registry=r,
        )
        self.triggers = Counter(
            "provisioner_reconcile_triggers_total",
            "Reconcile triggers handled",
            ["trigger"],
            registry=r,
        )
        self.last_trigger = Gauge(
            "provisioner_last_trigger_handled_timestamp_seconds",
            "Unix time the last trigger was handled",
            registry=r,
        )
        self.http = HttpMetrics(r)
        self.http_requests = self.http.requests
        self.http_duration = self.http.duration
        self.rate_limited = self.http.rate_limited
        self.cycle_progress = Gauge(
            "provisioner_last_cycle_progress_timestamp_seconds",
            "Unix time the loop last got work done: started, ran a cycle to its end (whatever "
            "its apps' results), or finished an operation of a long cycle",
            registry=r,
        )
        self.api_usage = Gauge(
            "provisioner_salesforce_api_usage_ratio",
            "Share of the Salesforce org's daily API requests used",
            registry=r,
        )
        self.change_latency = Histogram(
            "provisioner_change_latency_seconds",
            "From a user's change at the source (or access end date) to the app confirming it",
            ["app", "kind"],
            buckets=CHANGE_LATENCY_BUCKETS,
            registry=r,
        )
        self._revision: str | None = None
        self._watched: set[str] = set()
        for kind in TRIGGERS:
            self.triggers.labels(kind)
        self.change_checks = Counter(
            "provisioner_change_checks_total",
            "Checks of the source for changes (Salesforce: a few API calls each)",
            registry=r,
        )
        self.change_check_calls = Counter(
            "provisioner_change_check_calls_total",
            "Salesforce API calls the change checks sent, token requests included",
            registry=r,
        )
        self.change_check_interval = Gauge(
            "provisioner_change_check_interval_seconds",
            "Seconds between change checks now: --change-interval, or longer while "
            "--change-budget-percent slows them",
            registry=r,
        )

    # --- cycles -------------------------------------------------------------------------------

    def record_cycle(self, cycle: Cycle, *, durations: Mapping[str, float], now: float) -> None:
        """Everything one finished cycle says; `durations` by app name, `now` in Unix seconds."""
        source = cycle.source.source
        self.source_errors.labels(source)
        self.source_quarantined_records.labels(source)
        if cycle.source.error is not None:
            self.source_errors.labels(source).inc()
        else:
            counts = collections.Counter(user.state for user in cycle.evaluation.users.values())
            for state in USER_STATES:
                self.source_users.labels(source, state).set(counts[state])
            quarantined = len(cycle.evaluation.quarantined)
            self.source_quarantined.labels(source).set(quarantined)
            self.source_quarantined_records.labels(source).inc(quarantined)
        # Drift is measured against the source: a failed read keeps the last numbers, and an
        # untrusted one (every missing user's account looks like an orphan) the last orphans.
        known = tuple(
            kind
            for kind in DriftKind
            if cycle.source_complete or (cycle.source.ok and kind is not DriftKind.ORPHANED)
        )
        for app in cycle.apps:
            self._record_app(app, duration=durations.get(app.app), now=now, drift_kinds=known)

    def watching(self, *, apps: Iterable[str], sources: Iterable[str], now: float) -> None:
        """The apps and sources of a policy just loaded: each app's reconciles at 0 for every
        result, its last success at `now` until it has one (the alerts see it age from the
        start), its change latency empty for every kind, and each source's read errors at 0
        (the first failed read is an increase)."""
        for source in sources:
            self.source_errors.labels(source)
        for app in apps:
            for result in RESULTS:
                self.reconciles.labels(app, result)
            for kind in change_latency.KINDS:
                self.change_latency.labels(app, kind)
            if app not in self._watched:
                self._watched.add(app)
                self.last_success.labels(app).set(now)

    def progressed(self, now: float) -> None:
        """The loop got work done (see `cycle_progress`); a cycle that failed whole did not."""
        self.cycle_progress.set(now)

    def cycle_failed(self, apps: Iterable[str]) -> None:
        """A cycle failed as a whole (nothing was read, planned or recorded): an error for
        every app of the policy in force."""
        for app in apps:
            for result in RESULTS:
                self.reconciles.labels(app, result)
            self.reconciles.labels(app, ERROR).inc()

    def change_confirmed(self, app: str, kind: str, seconds: float) -> None:
        """An app confirmed a user's change `seconds` after the source made it: what
        `change_latency.ChangeLatency.confirmed` returns. kind: joiner | leaver | mover |
        end_date."""
        if kind not in change_latency.KINDS:
            known = ", ".join(change_latency.KINDS)
            raise ValueError(f"unknown change kind {kind!r}; expected one of {known}")
        self.change_latency.labels(app, kind).observe(seconds)

    def _record_app(
        self,
        app: AppCycle,
        *,
        duration: float | None,
        now: float,
        drift_kinds: tuple[DriftKind, ...],
    ) -> None:
        name = app.app
        self._watched.add(name)  # its last success is its own from now on
        for result in RESULTS:
            self.reconciles.labels(name, result)
        result = app.result  # blocked | error | success
        self.reconciles.labels(name, result).inc()
        if duration is not None:
            self.duration.labels(name).observe(duration)
        if result == SUCCESS:
            self.last_success.labels(name).set(now)
        self.safety_blocked.labels(name).set(1 if app.plan.blocked else 0)
        # Drift left after the cycle's own fixes; a failed look at the app keeps the last numbers.
        if app.observed.ok and app.plan.error is None:
            remaining = app.remaining_drift
            for kind in drift_kinds:
                self.drift.labels(name, kind.value).set(remaining.get(kind, 0))
        for operation in OpKind:
            for outcome_result in OPERATION_RESULTS:
                self.operations.labels(name, operation.value, outcome_result)
        for outcome in app.report.outcomes if app.report is not None else ():
            self.operations.labels(name, outcome.operation.kind.value, outcome.result).inc()

    def record_targeted(self, app: AppCycle) -> None:
        """One app's part of a targeted cycle: its result and operations; a hold flags the app
        (the next full cycle clears it). Drift and last success are the full cycles' to say."""
        for result in RESULTS:
            self.reconciles.labels(app.app, result)
        self.reconciles.labels(app.app, app.result).inc()
        if app.plan.blocked:
            self.safety_blocked.labels(app.app).set(1)
        for outcome in app.report.outcomes if app.report is not None else ():
            self.operations.labels(app.app, outcome.operation.kind.value, outcome.result).inc()

    # --- policy, source budget, triggers ------------------------------------------------------

    def record_api_usage(self, used: int, limit: int) -> None:
        """The org's daily API requests used, from Salesforce's Sforce-Limit-Info header."""
        if limit > 0:
            self.api_usage.set(used / limit)

    def change_check(self, calls: int, interval: float) -> None:
        """A change check that sent `calls` requests to Salesforce; the checks' pace after it."""
        self.change_checks.inc()
        self.change_check_calls.inc(max(0, calls))
        self.change_check_interval.set(interval)

    def policy_loaded(self, revision: str, *, valid: bool = True) -> None:
        """A policy loaded and validated; its revision replaces the previous one's series.
        `valid` False: it is the last good policy, restored while the newest does not load."""
        if self._revision is not None and self._revision != revision:
            self.policy_info.remove(self._revision)
        self._revision = revision
        self.policy_info.labels(revision).set(1)
        self.policy_valid.set(1 if valid else 0)

    def policy_load_failed(self) -> None:
        """A policy failed to load; the last good revision stays in force (and in policy_info)."""
        self.policy_valid.set(0)
        self.policy_errors.inc()

    def policy_fetch_failed(self) -> None:
        """The policy repository could not be fetched; nothing about the policy changed."""
        self.policy_fetch_errors.inc()

    def trigger(self, kind: str, *, now: float) -> None:
        """A trigger was handled (acknowledged): schedule | signal | change | startup | policy."""
        if kind not in TRIGGERS:
            raise ValueError(f"unknown trigger {kind!r}; expected one of {', '.join(TRIGGERS)}")
        self.triggers.labels(kind).inc()
        self.last_trigger.set(now)

    # --- HTTP ---------------------------------------------------------------------------------

    def http_hooks(self, target: str) -> dict[str, list[EventHook]]:
        """httpx `event_hooks` counting and timing every request to `target` (`HttpMetrics`)."""
        return self.http.hooks(target)

    def http_error(self, target: str, method: str) -> None:
        """A request to `target` that got no response (connect failure, timeout, reset)."""
        self.http.error(target, method)

    # --- exposition ---------------------------------------------------------------------------

    def exposition(self) -> tuple[bytes, str]:
        """The registry in Prometheus text format, and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
