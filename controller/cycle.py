"""What one pass of the pipeline produced: per app, the plan, what was seen, and the outcome.

The engine makes these; the renderers, the metrics, the journal, `diff` and the CLI's exit codes
read them. Kept apart from the engine so that readers need not depend on how a cycle is run.
"""

from __future__ import annotations

from dataclasses import dataclass

from controller import desired, executor, guard
from controller.model import AccountId, AppName, ObservedApp, SourceRead
from controller.operations import Plan


@dataclass(frozen=True)
class AppCycle:
    app: AppName
    plan: Plan
    observed: ObservedApp
    managed: frozenset[AccountId] = frozenset()
    """Accounts the controller may deprovision: linked to a known user, or any when pruning."""
    observe_only: bool = False
    """The app's policy says `mode: observe`: planned and reported, never written."""
    report: executor.ApplyReport | None = None

    @property
    def result(self) -> str:
        """blocked | error | success: one app's run, for metrics and the journal.

        Blocked when a guard held operations: too many deprovisions, or an untrusted source
        read (the planner then holds every removal in `plan.blocked`). Error when the app
        could not be observed, holds a managed group twice under one name, or any operation
        failed.
        """
        if self.plan.blocked:
            return "blocked"
        failed = self.report is not None and self.report.count(executor.ERROR)
        broken = self.plan.error is not None or bool(self.plan.conflicts)
        return "error" if broken or failed else "success"


@dataclass(frozen=True)
class Cycle:
    revision: str
    source: SourceRead
    evaluation: desired.Evaluation
    verdict: guard.SourceVerdict
    apps: tuple[AppCycle, ...]
    journal_cycle_id: int | None = None
    """The journal's id of this cycle once applied with a journal; None before, or without."""

    @property
    def in_sync(self) -> bool:
        return all(app.plan.in_sync for app in self.apps)

    @property
    def blocked(self) -> bool:
        """Something a guard holds: an untrusted source, or too many deprovisions in an app."""
        return not self.verdict.trusted or any(app.plan.blocked for app in self.apps)

    @property
    def failed(self) -> bool:
        return not self.source.ok or any(
            app.plan.error is not None
            or bool(app.plan.conflicts)  # a group conflict needs a person: not converged
            or (app.report is not None and app.report.failed)
            for app in self.apps
        )
