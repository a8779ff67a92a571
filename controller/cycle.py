"""What one pass of the pipeline produced: per app, the plan, what was seen, and the outcome.

The engine makes these; the renderers, the metrics, the journal, `diff` and the CLI's exit codes
read them. Kept apart from the engine so that readers need not depend on how a cycle is run.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from controller import desired, executor, guard
from controller.model import AccountId, AppName, ObservedApp, SourceRead
from controller.operations import DriftKind, Orphan, Plan

IN_SYNC, CHANGES, WITHHELD, REMOVALS_WITHHELD = (
    "in_sync",
    "changes",
    "withheld",
    "removals_withheld",
)
"""An app's status in a plan: nothing to do; operations planned or held; not planned at all
(the app could not be observed); or nothing planned but the source read cannot be trusted, so
what should be removed is unknown and the app is not reported in sync."""


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
        could not be observed or any operation failed.
        """
        if self.plan.blocked:
            return "blocked"
        failed = self.report is not None and self.report.count(executor.ERROR)
        return "error" if self.plan.error is not None or failed else "success"


@dataclass(frozen=True)
class Cycle:
    revision: str
    source: SourceRead
    evaluation: desired.Evaluation
    verdict: guard.SourceVerdict
    apps: tuple[AppCycle, ...]

    @property
    def source_complete(self) -> bool:
        """The source was read whole and the read is trusted: only then does absence from it
        mean anything (an orphan, a removal, an app in sync)."""
        return self.source.ok and self.verdict.trusted

    @property
    def in_sync(self) -> bool:
        """Every app was observed and needs nothing, and the source read can be trusted."""
        return self.source_complete and all(app.plan.in_sync for app in self.apps)

    @property
    def withheld(self) -> tuple[AppCycle, ...]:
        """The apps that could not be observed: nothing was planned for them."""
        return tuple(app for app in self.apps if app.plan.error is not None)

    def status(self, app: AppCycle) -> str:
        """in_sync | changes | withheld | removals_withheld (see IN_SYNC)."""
        if app.plan.error is not None:
            return WITHHELD
        if app.plan.operations or app.plan.blocked:
            return CHANGES
        return IN_SYNC if self.source_complete else REMOVALS_WITHHELD

    def orphans(self, app: AppCycle) -> tuple[Orphan, ...]:
        """The app's orphans, when they are known: after a failed or untrusted source read
        every account of a missing user would look like one, so none are reported."""
        return app.plan.orphans if self.source_complete else ()

    def drift(self, app: AppCycle) -> Mapping[DriftKind, int]:
        """The app's planned drift by kind, without orphans when they are not known."""
        if self.source_complete:
            return app.plan.drift
        return {kind: n for kind, n in app.plan.drift.items() if kind is not DriftKind.ORPHANED}

    @property
    def blocked(self) -> bool:
        """Something a guard holds: an untrusted source, or too many deprovisions in an app."""
        return not self.verdict.trusted or any(app.plan.blocked for app in self.apps)

    @property
    def failed(self) -> bool:
        return not self.source.ok or any(
            app.plan.error is not None or (app.report is not None and app.report.failed)
            for app in self.apps
        )
