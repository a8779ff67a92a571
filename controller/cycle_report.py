"""What each cycle tells the operator: its log lines, its metrics and the health probes' view.

A cycle that ran to its end reports every app (ok or not, what it did, what it held, its
drift) and anything about the source worth a person's look (quarantined records, a read that
cannot be trusted). A cycle that failed as a whole is counted as an error of every app of the
policy in force and logged with what it was doing, the file to blame and what happens next. The
loop decides when; this module decides what is said, so the loop stays about scheduling.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from controller import quarantine
from controller.cycle import Cycle
from controller.errors import ProvisionerError
from controller.executor import Outcome
from controller.http import Health
from controller.metrics import Recorder


class CycleReporter:
    def __init__(self, recorder: Recorder, health: Health) -> None:
        self.recorder = recorder
        self.health = health

    def progressed(self) -> None:
        """The loop got work done: a cycle ran to its end, or an operation finished."""
        now = time.time()
        self.health.progressed(now)
        self.recorder.progressed(now)

    def operation(self, outcome: Outcome, log: Any) -> None:
        self.progressed()  # a long cycle that gets work done is alive
        op = outcome.operation
        log.info(
            "operation",
            app=op.app,
            operation=op.kind.value,
            subject=op.subject,
            result=outcome.result,
            detail=outcome.detail or None,
        )

    def latency(self, measured: tuple[str, str, float] | None) -> None:
        """A change confirmed in an app: (app, kind, seconds since the source made it)."""
        if measured is not None:
            self.recorder.change_confirmed(*measured)

    def failed(self, error: BaseException, *, stage: str, apps: Iterable[str], log: Any) -> None:
        """A cycle that failed as a whole: an error of every app, and why, in one log line."""
        now = time.time()
        names = sorted(apps)
        self.recorder.cycle_failed(names)
        for app in names:
            self.health.app_reconciled(app, ok=False, now=now)
        fields: dict[str, Any] = {"failed": stage, "retry": "on the next trigger"}
        path = getattr(error, "path", None)
        if path is not None:
            fields["file"] = str(path)
        if isinstance(error, ProvisionerError):
            log.error("cycle failed", error=str(error), **fields)
        else:
            described = f"{type(error).__name__}: {error}"
            log.error("cycle failed", error=described, **fields, exc_info=error)

    def finished(
        self,
        cycle: Cycle,
        *,
        elapsed: float,
        log: Any,
        api_usage: tuple[int, int] | None = None,
    ) -> None:
        """A cycle that ran to its end, whatever its apps' results."""
        now = time.time()
        self.recorder.record_cycle(cycle, durations={a.app: elapsed for a in cycle.apps}, now=now)
        if api_usage is not None:
            self.recorder.record_api_usage(*api_usage)
        self._source(cycle, log)
        for app in cycle.apps:
            report = app.report
            ok = app.plan.error is None and not app.plan.conflicts
            ok = ok and not (report is not None and report.failed)
            self.health.app_reconciled(app.app, ok=ok, now=now)
            log.info(
                "app reconciled",
                app=app.app,
                ok=ok,
                error=app.plan.error,
                operations=len(app.plan.operations),
                blocked=len(app.plan.blocked),
                blocked_reason=app.plan.blocked_reason,
                conflicts=list(app.plan.conflicts) or None,  # a group held twice: a person's job
                drift={kind.value: n for kind, n in app.plan.drift.items() if n},
                failed=report.count("error") if report else 0,
                observe_only=app.observe_only,
            )
        log.info("cycle finished", seconds=round(elapsed, 3), in_sync=cycle.in_sync)
        self.progressed()

    def finished_targeted(
        self,
        cycle: Cycle,
        *,
        elapsed: float,
        log: Any,
        api_usage: tuple[int, int] | None = None,
    ) -> None:
        """A targeted cycle that ran to its end. It saw only the changed users, so it counts
        its apps' results and operations, and flags a hold, but leaves the org-wide figures
        (drift, source size, last success, app health) to the full cycles."""
        if api_usage is not None:
            self.recorder.record_api_usage(*api_usage)
        scope = cycle.scope or frozenset()
        for held in cycle.evaluation.quarantined:
            if held.source_id in scope:
                log.warning(
                    "source record quarantined", user=held.who, field=held.field, error=held.message
                )
        if not cycle.verdict.trusted:
            log.warning("source not trusted: nothing deprovisioned", reason=cycle.verdict.reason)
        for app in cycle.apps:
            self.recorder.record_targeted(app)
            report = app.report
            log.info(
                "app reconciled",
                app=app.app,
                ok=app.result != "error",
                error=app.plan.error,
                operations=len(app.plan.operations),
                blocked=len(app.plan.blocked),
                blocked_reason=app.plan.blocked_reason,
                failed=report.count("error") if report else 0,
                observe_only=app.observe_only,
            )
        log.info("cycle finished", seconds=round(elapsed, 3), users=len(scope))
        self.progressed()

    @staticmethod
    def _source(cycle: Cycle, log: Any) -> None:
        logged, left_out = quarantine.to_log(cycle.evaluation.quarantined)
        for held in logged:
            log.warning(
                "source record quarantined", user=held.who, field=held.field, error=held.message
            )
        if left_out:
            log.warning(
                "more source records quarantined",
                not_logged=left_out,
                see="`provisioner plan` lists every quarantined record",
            )
        if not cycle.verdict.trusted:
            log.warning("source not trusted: nothing deprovisioned", reason=cycle.verdict.reason)
