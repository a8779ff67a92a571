"""Where an operator's approval meets a cycle: read before planning, claimed before applying.

`provisioner approve --app NAME` only adds a row to the journal (`journal.approvals`); it never
writes to an app, so it is no second writer (DESIGN.md section 6, rule 9). The writer of the
state directory (the running controller each cycle, or a lone `apply`) reads the open approvals
here before it plans and hands them to the engine, which lets that app's deprovisions past the
per-run limits (rule 4) this once, up to the batch the operator reviewed (`covers`), and names
the approval in each released operation's reason.

An approval is claimed (marked consumed) after planning and before anything is sent, so that a
crash or a failed journal write mid-apply can only use it up, never leave it open to release a
later, unreviewed batch. After applying, it is linked to the journal's cycle and its log line
counts the deprovisions that succeeded. It is taken up by the first cycle that plans its app
over a trusted source read, whether or not that cycle finds anything held (then it releases
nothing, and says so); a batch larger than it covers is held again. An untrusted source read
(rule 1), an app that could not be read (rule 2), or an app in `mode: observe` (nothing is
written) leaves it open; one that no cycle takes up lapses after `approvals.EXPIRES_AFTER`.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass

from controller import executor, guard
from controller.cycle import Cycle
from controller.journal import SqliteJournal
from controller.journal import approvals as table
from controller.journal.approvals import Approval
from controller.model import AppName


@dataclass(frozen=True)
class Consumed:
    """One approval a cycle took up, and what it let through."""

    approval: Approval
    released: int
    """Deprovisions it let past the per-run limits that succeeded; 0 when none were held."""
    cycle_id: int | None
    held: int = 0
    """Deprovisions still held: the batch outgrew what the approval covers."""
    let_through: int = 0
    """Deprovisions it let past the per-run limits, whether or not the app then took them."""
    lifted_by: str | None = None
    """Who else lifted the limits this cycle (`apply --allow-deprovisions`), if anyone."""


def pending(journal: SqliteJournal | None, *, now: datetime.datetime) -> dict[AppName, Approval]:
    """The open approvals, newest per app; none without a journal."""
    if journal is None:
        return {}
    found = table.pending(journal.engine, now=now)
    return {AppName(app): approval for app, approval in found.items()}


def grants(approved: Mapping[AppName, Approval]) -> dict[AppName, guard.Release]:
    """What the engine takes: by app, the release the approval gives."""
    return {
        app: guard.Release(approval.describe(), approval.covers)
        for app, approval in approved.items()
    }


def claim(
    journal: SqliteJournal | None,
    cycle: Cycle,
    approved: Mapping[AppName, Approval],
    *,
    now: datetime.datetime,
) -> dict[AppName, list[Approval]]:
    """Mark consumed, before `cycle` is applied, each approval it takes up (see the module's
    docstring); by app, the rows marked."""
    if journal is None or not cycle.verdict.trusted:
        return {}
    claimed: dict[AppName, list[Approval]] = {}
    for app in cycle.apps:
        approval = approved.get(app.app)
        if approval is None or app.plan.error is not None or app.observe_only:
            continue
        claimed[app.app] = table.consume(journal.engine, approval, cycle_id=None, at=now)
    return claimed


def settle(
    journal: SqliteJournal | None,
    cycle: Cycle,
    approved: Mapping[AppName, Approval],
    claimed: Mapping[AppName, list[Approval]],
) -> list[Consumed]:
    """After applying: link the claimed approvals to the journal's cycle; what each released."""
    if journal is None:
        return []
    taken: list[Consumed] = []
    for app in cycle.apps:
        if app.app not in claimed:
            continue
        approval = approved[app.app]
        table.link(journal.engine, claimed[app.app], cycle_id=cycle.journal_cycle_id)
        released = let_through = 0
        if app.plan.released_by == approval.describe():
            let_through = sum(1 for op in app.plan.operations if op.kind.destructive)
            released = sum(
                1
                for outcome in (app.report.outcomes if app.report else ())
                if outcome.operation.kind.destructive and outcome.result == executor.SUCCESS
            )
        held = sum(1 for op in app.plan.blocked if op.kind.destructive)
        lifted_by = app.plan.released_by if app.plan.released_by != approval.describe() else None
        taken.append(
            Consumed(approval, released, cycle.journal_cycle_id, held, let_through, lifted_by)
        )
    return taken


def fields(taken: Consumed) -> dict[str, object]:
    """The "approval consumed" log line's fields: who approved what, and what it released."""
    approval = taken.approval
    return {
        "app": approval.app,
        "approval": approval.id,
        "approved_by": approval.approved_by,
        "reason": approval.reason,
        "covers": approval.covers,
        "let_through": taken.let_through,
        "released": taken.released,
        "still_held": taken.held,
        "journal_cycle": taken.cycle_id,
    }


def sentence(taken: Consumed) -> str:
    """The same, for a person (`apply` prints it)."""
    app = taken.approval.app
    if taken.held:
        done = (
            f"{taken.held} deprovisions of {app} are held again: more than the "
            f"{taken.approval.covers} it covers; review them and approve again"
        )
    elif taken.let_through:
        done = f"released {taken.released} of {taken.let_through} held deprovisions of {app}"
        if taken.released < taken.let_through:
            done += (
                f"; the {taken.let_through - taken.released} that failed are planned again, "
                "and past the limit they need a new approval"
            )
    elif taken.lifted_by:
        done = f"the limits were lifted by {taken.lifted_by}; the approval is used up all the same"
    else:
        done = f"nothing of {app} was held; the approval is used up all the same"
    return (
        f"Approval consumed: {taken.approval.describe()}, journal cycle {taken.cycle_id}: {done}."
    )
