"""Where a cycle meets the journal: what apply records, in the journal's own terms.

`CycleRecord` opens a journal cycle when apply starts, witnesses every operation the executor
carries out (intent before it is sent, outcome after), closes the cycle with the source's
counts and each app's result, and prunes cycles older than the retention period. At the start
it also settles what a crash left behind: intents with no outcome are marked `interrupted`;
the app's state, observed afresh in this cycle, is what tells whether they happened, and the
plan converges from there.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable, Mapping

from controller import desired, executor
from controller.cycle import AppCycle, Cycle
from controller.desired import UserState
from controller.journal import AppResult, Facts, Journal, OperationRecord
from controller.model import SourceUser, SourceUserId
from controller.operations import Operation
from controller.policy.schema import SourceSpec

INTERRUPTED = "interrupted"
RETENTION_DAYS = 400
"""How long the journal keeps a cycle: a year's audit, plus a month to run the audit in."""
Clock = Callable[[], datetime.datetime]


def access_ends(
    users: Iterable[SourceUser], states: Mapping[SourceUserId, UserState], spec: SourceSpec
) -> dict[SourceUserId, datetime.datetime]:
    """When the source took away the access of each user who has none, where it says."""
    ends: dict[SourceUserId, datetime.datetime] = {}
    for user in users:
        state = states.get(user.id)
        if state is not None and not state.active:
            moment = desired.access_ended_at(user, spec)
            if moment is not None:
                ends[user.id] = moment
    return ends


def record_of(
    operation: Operation, ends: Mapping[SourceUserId, datetime.datetime] | None = None
) -> OperationRecord:
    source = operation.source_id
    ended = (ends or {}).get(source) if source and operation.kind.destructive else None
    return OperationRecord(
        app=operation.app,
        kind=operation.kind.value,
        reason=operation.reason,
        source_id=operation.source_id,
        account_id=operation.account_id,
        user_name=operation.user_name,
        group_name=operation.group,
        changes=operation.changes,
        source_changed_at=ended,
    )


class CycleRecord:
    """One apply's entries in the journal; an `executor.Witness`."""

    def __init__(
        self,
        journal: Journal,
        *,
        trigger: str,
        revision: str,
        clock: Clock,
        retention_days: int = RETENTION_DAYS,
        access_ends: Mapping[SourceUserId, datetime.datetime] | None = None,
        users: Iterable[SourceUserId] | None = None,
    ) -> None:
        self.journal = journal
        self.clock = clock
        self.access_ends = dict(access_ends or {})
        self.retention = datetime.timedelta(days=retention_days)
        for left in journal.unfinished():
            journal.finish(
                left.id,
                status=INTERRUPTED,
                error="the controller stopped before the outcome was recorded; "
                "a later observation of the app shows whether it happened",
                at=clock(),
            )
        self.cycle_id = journal.start_cycle(
            trigger=trigger,
            revision=revision,
            at=clock(),
            users=None if users is None else list(users),
        )

    @classmethod
    def of(
        cls,
        journal: Journal,
        cycle: Cycle,
        *,
        trigger: str,
        spec: SourceSpec,
        clock: Clock,
        retention_days: int = RETENTION_DAYS,
    ) -> CycleRecord:
        """The record of applying `cycle`: its trigger, its revision, when each user it
        deprovisions lost access at the source, and a targeted cycle's users."""
        return cls(
            journal,
            trigger=trigger,
            revision=cycle.revision,
            clock=clock,
            retention_days=retention_days,
            access_ends=access_ends(cycle.source.users, cycle.evaluation.users, spec),
            users=cycle.scope,
        )

    def intend(self, operation: Operation) -> int:
        record = record_of(operation, self.access_ends)
        return self.journal.intend(self.cycle_id, record, at=self.clock())

    def finish(self, token: int, outcome: executor.Outcome) -> None:
        error = outcome.detail or None if outcome.result != executor.SUCCESS else None
        self.journal.finish(token, status=outcome.result, error=error, at=self.clock())

    def close_cycle(self, cycle: Cycle, applied: Iterable[AppCycle], *, facts: Facts) -> None:
        """End the applied `cycle`: the source's counts and each app's result, with `facts`."""
        self.close(
            source_users=len(cycle.source.users),
            source_active=cycle.evaluation.active_users,
            source_error=cycle.source.error,
            apps=((app.app, app_result(app, trusted=cycle.verdict.trusted)) for app in applied),
            facts=facts,
        )

    def close(
        self,
        *,
        source_users: int,
        source_active: int,
        source_error: str | None,
        apps: Mapping[str, AppResult] | Iterable[tuple[str, AppResult]],
        facts: Facts | None = None,
    ) -> None:
        """End the cycle, with what it taught later runs (`controller.facts`), in one write."""
        self.journal.end_cycle(
            self.cycle_id,
            at=self.clock(),
            source_users=source_users,
            source_active=source_active,
            source_error=source_error,
            apps=dict(apps),
            facts=facts,
        )
        self.journal.prune(before=self.clock() - self.retention)


def app_result(app: AppCycle, *, trusted: bool) -> AppResult:
    """One app's line in the journal's record of a cycle."""
    report = app.report
    return AppResult(
        result=app.result,
        planned=len(app.plan.operations),
        succeeded=report.count(executor.SUCCESS) if report else 0,
        failed=report.count(executor.ERROR) if report else 0,
        blocked=len(app.plan.blocked),
        # Under an untrusted read the planner holds every removal (rule 1), which no
        # approval lifts; only a trusted read's held deprovisions are the limit's.
        held_by_limit=sum(1 for op in app.plan.blocked if op.kind.destructive) if trusted else 0,
    )
