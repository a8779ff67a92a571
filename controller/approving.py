"""Where an operator's approval meets a cycle: read before planning, consumed after applying.

`provisioner approve --app NAME` only adds a row to the journal (`journal.approvals`); it never
writes to an app, so it is no second writer (DESIGN.md section 6, rule 9). The writer of the
state directory (the running controller each cycle, or a lone `apply`) reads the open approvals
here before it plans and hands them to the engine, which lets that app's deprovisions past the
per-run limits (rule 4) this once and names the approval in each released operation's reason.
After applying, each approval the cycle took up is marked consumed with the journal's cycle id.

An approval is taken up by the first cycle that plans its app over a trusted source read,
whether or not that cycle finds anything held (then it releases nothing, and says so): it is
consent to what the operator reviewed, not to a later, unreviewed batch. One that no cycle takes
up lapses after `approvals.EXPIRES_AFTER`. An untrusted source read (rule 1) or an app that could
not be read (rule 2) leaves it open, since such a cycle deprovisions nobody in that app anyway.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass

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
    """Deprovisions it let past the per-run limits; 0 when the cycle found none held."""
    cycle_id: int | None


def pending(journal: SqliteJournal | None, *, now: datetime.datetime) -> dict[AppName, Approval]:
    """The open approvals, newest per app; none without a journal."""
    if journal is None:
        return {}
    found = table.pending(journal.engine, now=now)
    return {AppName(app): approval for app, approval in found.items()}


def grants(approved: Mapping[AppName, Approval]) -> dict[AppName, str]:
    """What the engine takes: by app, how the approval is named in the plan."""
    return {app: approval.describe() for app, approval in approved.items()}


def consume(
    journal: SqliteJournal | None,
    cycle: Cycle,
    approved: Mapping[AppName, Approval],
    *,
    now: datetime.datetime,
) -> list[Consumed]:
    """Mark consumed each approval `cycle` took up (see the module's docstring); those."""
    if journal is None or not cycle.verdict.trusted:
        return []
    taken: list[Consumed] = []
    for app in cycle.apps:
        approval = approved.get(app.app)
        if approval is None or app.plan.error is not None:
            continue
        released = 0
        if app.plan.released_by == approval.describe():
            released = sum(1 for op in app.plan.operations if op.kind.destructive)
        table.consume(journal.engine, approval, cycle_id=cycle.journal_cycle_id, at=now)
        taken.append(Consumed(approval, released, cycle.journal_cycle_id))
    return taken


def fields(taken: Consumed) -> dict[str, object]:
    """The "approval consumed" log line's fields: who approved what, and what it released."""
    approval = taken.approval
    return {
        "app": approval.app,
        "approval": approval.id,
        "approved_by": approval.approved_by,
        "reason": approval.reason,
        "released": taken.released,
        "journal_cycle": taken.cycle_id,
    }


def sentence(taken: Consumed) -> str:
    """The same, for a person (`apply` prints it)."""
    done = (
        f"released {taken.released} held deprovisions of {taken.approval.app}"
        if taken.released
        else f"nothing of {taken.approval.app} was held; the approval is used up all the same"
    )
    return (
        f"Approval consumed: {taken.approval.describe()}, journal cycle {taken.cycle_id}: {done}."
    )
