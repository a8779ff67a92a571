"""The `approvals` table: an operator's one-time approval of an app's held deprovisions.

`provisioner approve --app NAME` adds a row; the writer of the state directory (the running
controller, or a lone `apply`) reads the open ones before it plans, lets that app's
deprovisions past the per-run limits once, and marks the row consumed with the journal cycle
that used it. The approval thereby reaches the controller without a second writer (DESIGN.md
section 6, rule 9), and the journal keeps who approved what: the row, and the cycle's
operations, whose reasons name the approval. All of its SQL lives here, over the journal's
SQLAlchemy engine.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

import sqlalchemy as sa

from controller.journal import tables
from controller.journal.records import aware_utc, naive_utc

EXPIRES_AFTER = datetime.timedelta(hours=24)
"""An approval no cycle took up within this long lapses: it never releases a later batch."""


@dataclass(frozen=True)
class Approval:
    id: int
    app: str
    approved_by: str
    reason: str
    approved_at: datetime.datetime
    consumed_at: datetime.datetime | None = None
    consumed_cycle_id: int | None = None
    covers: int | None = None
    """The most deprovisions it lets through (the batch reviewed); None: no bound."""

    def describe(self) -> str:
        """How the approval is named in plan notes and in the journaled operations' reasons."""
        why = f": {self.reason}" if self.reason else ""
        return f"approval #{self.id} by {self.approved_by}{why}"


@dataclass(frozen=True)
class LastCycle:
    """One app's part of the newest journaled cycle that reconciled it."""

    cycle_id: int
    ended_at: datetime.datetime | None
    result: str
    blocked: int
    held_by_limit: int
    """Of those, the deprovisions the per-run limit held: what an approval can release."""


def _approval(row: sa.Row[tuple[object, ...]]) -> Approval:
    values = row._mapping
    approved_at = aware_utc(values["approved_at"])
    assert approved_at is not None
    return Approval(
        id=int(values["id"]),
        app=str(values["app"]),
        approved_by=str(values["approved_by"]),
        reason=str(values["reason"]),
        approved_at=approved_at,
        consumed_at=aware_utc(values["consumed_at"]),
        consumed_cycle_id=values["consumed_cycle_id"],
        covers=values["covers"],
    )


def record(
    engine: sa.Engine,
    *,
    app: str,
    approved_by: str,
    reason: str,
    at: datetime.datetime,
    covers: int | None = None,
) -> Approval:
    """Add an open approval for `app`, letting through at most `covers` deprovisions."""
    values = {
        "app": app,
        "approved_by": approved_by,
        "reason": reason,
        "approved_at": naive_utc(at),
        "covers": covers,
    }
    with engine.begin() as connection:
        result = connection.execute(sa.insert(tables.approvals).values(**values))
    key = result.inserted_primary_key
    assert key is not None
    return Approval(int(key[0]), app, approved_by, reason, at, covers=covers)


def pending(
    engine: sa.Engine, *, now: datetime.datetime, expires_after: datetime.timedelta = EXPIRES_AFTER
) -> dict[str, Approval]:
    """The newest open, unexpired approval of each app."""
    table = tables.approvals
    select = (
        sa.select(table)
        .where(table.c.consumed_at.is_(None), table.c.approved_at >= naive_utc(now - expires_after))
        .order_by(table.c.approved_at, table.c.id)
    )
    with engine.connect() as connection:
        return {row.app: _approval(row) for row in connection.execute(select)}


def consume(
    engine: sa.Engine, approval: Approval, *, cycle_id: int | None, at: datetime.datetime
) -> list[Approval]:
    """Mark `approval`, and any older open one of its app, consumed (by journal cycle
    `cycle_id` where known: see `link`); those marked. An approval recorded after `approval`
    was read stays open."""
    table = tables.approvals
    is_open = sa.and_(
        table.c.app == approval.app, table.c.consumed_at.is_(None), table.c.id <= approval.id
    )
    with engine.begin() as connection:
        found = [_approval(row) for row in connection.execute(sa.select(table).where(is_open))]
        connection.execute(
            sa.update(table)
            .where(table.c.id.in_([each.id for each in found]))
            .values(consumed_at=naive_utc(at), consumed_cycle_id=cycle_id)
        )
    return found


def link(engine: sa.Engine, approvals: list[Approval], *, cycle_id: int | None) -> None:
    """Name the journal cycle that used approvals consumed before it had an id."""
    if cycle_id is None or not approvals:
        return
    table = tables.approvals
    with engine.begin() as connection:
        connection.execute(
            sa.update(table)
            .where(table.c.id.in_([each.id for each in approvals]))
            .values(consumed_cycle_id=cycle_id)
        )


def history(engine: sa.Engine, *, app: str | None = None, limit: int = 50) -> list[Approval]:
    """Approvals newest first, open or consumed."""
    table = tables.approvals
    select = sa.select(table).order_by(table.c.approved_at.desc(), table.c.id.desc()).limit(limit)
    if app is not None:
        select = select.where(table.c.app == app)
    with engine.connect() as connection:
        return [_approval(row) for row in connection.execute(select)]


def last_cycle(engine: sa.Engine, app: str) -> LastCycle | None:
    """The newest journaled cycle that reconciled `app`, or None if none has."""
    apps, cycles = tables.cycle_apps, tables.cycles
    select = (
        sa.select(
            apps.c.cycle_id,
            cycles.c.ended_at,
            apps.c.result,
            apps.c.blocked,
            apps.c.held_by_limit,
        )
        .join(cycles, cycles.c.id == apps.c.cycle_id)
        .where(apps.c.app == app)
        .order_by(apps.c.cycle_id.desc())
        .limit(1)
    )
    with engine.connect() as connection:
        row = connection.execute(select).first()
    if row is None:
        return None
    return LastCycle(
        int(row.cycle_id),
        aware_utc(row.ended_at),
        str(row.result),
        int(row.blocked),
        int(row.held_by_limit or 0),
    )


def known_apps(engine: sa.Engine) -> list[str]:
    """Every app some journaled cycle reconciled."""
    apps = tables.cycle_apps
    with engine.connect() as connection:
        return sorted(connection.execute(sa.select(apps.c.app).distinct()).scalars())
