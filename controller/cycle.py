"""What one pass of the pipeline produced: per app, the plan, what was seen, and the outcome.

The engine makes these; the renderers, the metrics, the journal, `diff` and the CLI's exit codes
read them. Kept apart from the engine so that readers need not depend on how a cycle is run.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

from controller import desired, executor, guard
from controller.executor import MEMBERSHIP, SUCCESS
from controller.model import AccountId, AppName, ObservedApp, SourceRead, SourceUserId
from controller.operations import DriftKind, OpKind, Orphan, Plan

IN_SYNC, CHANGES, WITHHELD, REMOVALS_WITHHELD = (
    "in_sync",
    "changes",
    "withheld",
    "removals_withheld",
)
"""An app's status in a plan: nothing to do; operations planned or held; not planned at all
(the app could not be observed); or nothing planned but the source read cannot be trusted, so
what should be removed is unknown and the app is not reported in sync."""

REPAIRS = {
    OpKind.CREATE: DriftKind.MISSING,
    OpKind.ACTIVATE: DriftKind.MISSING,
    OpKind.UPDATE: DriftKind.ATTRIBUTES,
    OpKind.SUSPEND: DriftKind.UNEXPECTED,
}
"""The drift each operation repairs when it succeeds: the planner counts one of that kind for
each such operation (group drift is per account: see `AppCycle.remaining_drift`)."""


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
    def remaining_drift(self) -> Mapping[DriftKind, int]:
        """The planned drift less what this cycle's own successful operations repaired.

        Drift the cycle just fixed is not drift (issue 15: the drift alert fired for it). A
        missing account is repaired by its create or activate, an attribute difference by its
        update, an unexpected active account by its suspend, and an account's group drift when
        every membership change of it succeeded. Whatever failed, was skipped, or is held by
        a guard still counts; an observe-only app, which writes nothing, keeps it all. Orphans
        stay orphans (a pruned orphan's suspend repairs its `unexpected` drift only).
        """
        drift = dict(self.plan.drift)
        planned = self.plan.operations
        outcomes = self.report.outcomes if self.report is not None else ()
        if self.observe_only or len(outcomes) != len(planned):
            return drift
        repaired: Counter[DriftKind] = Counter()
        members_done: dict[AccountId, bool] = {}
        for operation, outcome in zip(planned, outcomes, strict=True):
            succeeded = outcome.result == SUCCESS
            if succeeded and operation.kind in REPAIRS:
                repaired[REPAIRS[operation.kind]] += 1
            if operation.kind in MEMBERSHIP and operation.account_id is not None:
                members_done[operation.account_id] = (
                    members_done.get(operation.account_id, True) and succeeded
                )
        for operation in self.plan.blocked:
            if operation.kind in MEMBERSHIP and operation.account_id is not None:
                members_done[operation.account_id] = False
        repaired[DriftKind.GROUPS] = sum(members_done.values())
        return {kind: max(0, n - repaired[kind]) for kind, n in drift.items()}

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
    scope: frozenset[SourceUserId] | None = None
    """A targeted cycle's changed users (issue 16): only they were read, looked up and planned,
    so what it says of drift, orphans or the source's size is about them alone. None: a full
    cycle."""

    @property
    def source_complete(self) -> bool:
        """The source was read whole and the read is trusted: only then does absence from it
        mean anything (an orphan, a removal, an app in sync)."""
        return self.source.ok and self.verdict.trusted

    @property
    def in_sync(self) -> bool:
        """Every app was observed and needs nothing, the source read can be trusted, and no
        record is quarantined (a held leaver keeps access until their record is fixed)."""
        return (
            self.source_complete
            and not self.evaluation.quarantined
            and all(app.plan.in_sync for app in self.apps)
        )

    @property
    def withheld(self) -> tuple[AppCycle, ...]:
        """The apps that could not be observed: nothing was planned for them."""
        return tuple(app for app in self.apps if app.plan.error is not None)

    def status(self, app: AppCycle) -> str:
        """in_sync | changes | withheld | removals_withheld (see IN_SYNC)."""
        if app.plan.error is not None:
            return WITHHELD
        if app.plan.operations or app.plan.blocked or app.plan.conflicts:
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
            app.plan.error is not None
            or bool(app.plan.conflicts)  # a group conflict needs a person: not converged
            or (app.report is not None and app.report.failed)
            for app in self.apps
        )
