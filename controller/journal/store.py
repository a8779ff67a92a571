"""The embedded journal: SQLite in WAL mode, through SQLAlchemy Core, migrated by Alembic.

Every change the controller makes is written here before it is reported done (DESIGN.md
section 6, rule 6): an operation's intent before it is sent, its outcome after. An intent
with no outcome is what a crash leaves; `unfinished` lists those so the next cycle can say
what happened (the app's own state is the truth). `Journal` is the interface a PostgreSQL
store can implement later; all SQL lives in this module and `tables`.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from controller.journal import tables
from controller.journal.records import (
    INTENDED,
    AppResult,
    Entry,
    HistoryQuery,
    OperationRecord,
)
from controller.operations import Change

MIGRATIONS = str(Path(__file__).resolve().parent / "migrations")


class Journal(Protocol):
    def start_cycle(self, *, trigger: str, revision: str, at: datetime.datetime) -> int: ...

    def end_cycle(
        self,
        cycle_id: int,
        *,
        at: datetime.datetime,
        source_users: int,
        source_active: int,
        source_error: str | None,
        apps: Mapping[str, AppResult],
    ) -> None: ...

    def intend(self, cycle_id: int, record: OperationRecord, *, at: datetime.datetime) -> int: ...

    def finish(
        self, entry_id: int, *, status: str, error: str | None, at: datetime.datetime
    ) -> None: ...

    def history(self, query: HistoryQuery) -> list[Entry]: ...

    def unfinished(self) -> list[Entry]: ...

    def suspended_since(self, app: str) -> dict[str, datetime.datetime]: ...

    def prune(self, *, before: datetime.datetime) -> int: ...


def _naive(moment: datetime.datetime) -> datetime.datetime:
    return moment.astimezone(datetime.UTC).replace(tzinfo=None)


def _aware(moment: datetime.datetime | None) -> datetime.datetime | None:
    return None if moment is None else moment.replace(tzinfo=datetime.UTC)


class SqliteJournal:
    """The journal in one SQLite file; safe for one writer and any number of readers."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.engine = sa.create_engine(f"sqlite:///{path}")
        sa.event.listen(self.engine, "connect", _pragmas)
        with self.engine.begin() as connection:
            config = Config()
            config.set_main_option("script_location", MIGRATIONS)
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    def close(self) -> None:
        self.engine.dispose()

    def start_cycle(self, *, trigger: str, revision: str, at: datetime.datetime) -> int:
        values = {"started_at": _naive(at), "trigger": trigger, "revision": revision}
        with self.engine.begin() as connection:
            result = connection.execute(sa.insert(tables.cycles).values(**values))
        return _new_id(result)

    def end_cycle(
        self,
        cycle_id: int,
        *,
        at: datetime.datetime,
        source_users: int,
        source_active: int,
        source_error: str | None,
        apps: Mapping[str, AppResult],
    ) -> None:
        ended = {
            "ended_at": _naive(at),
            "source_users": source_users,
            "source_active": source_active,
            "source_error": source_error,
        }
        rows = [{"cycle_id": cycle_id, "app": app, **vars(r)} for app, r in apps.items()]
        with self.engine.begin() as connection:
            cycle = tables.cycles.c.id == cycle_id
            connection.execute(sa.update(tables.cycles).where(cycle).values(**ended))
            if rows:
                connection.execute(sa.insert(tables.cycle_apps), rows)

    def intend(self, cycle_id: int, record: OperationRecord, *, at: datetime.datetime) -> int:
        changes = [vars(change) for change in record.changes]
        changed_at = record.source_changed_at
        values = {
            "cycle_id": cycle_id,
            **{k: v for k, v in vars(record).items() if k != "changes"},
            "source_changed_at": _naive(changed_at) if changed_at else None,
            "changes": json.dumps(changes, default=str),
            "status": INTENDED,
            "intended_at": _naive(at),
        }
        with self.engine.begin() as connection:
            result = connection.execute(sa.insert(tables.operations).values(**values))
        return _new_id(result)

    def finish(
        self, entry_id: int, *, status: str, error: str | None, at: datetime.datetime
    ) -> None:
        ops = tables.operations
        with self.engine.begin() as connection:
            intended = connection.execute(
                sa.select(ops.c.intended_at).where(ops.c.id == entry_id)
            ).scalar_one()
            took = (_naive(at) - intended).total_seconds()
            connection.execute(
                sa.update(ops)
                .where(ops.c.id == entry_id)
                .values(status=status, error=error, finished_at=_naive(at), duration_seconds=took)
            )

    def history(self, query: HistoryQuery) -> list[Entry]:
        ops = tables.operations
        select = sa.select(ops).order_by(ops.c.intended_at.desc(), ops.c.id.desc())
        if query.user is not None:
            wanted = query.user.lower()
            select = select.where(
                sa.or_(ops.c.source_id == query.user, sa.func.lower(ops.c.user_name) == wanted)
            )
        if query.app is not None:
            select = select.where(ops.c.app == query.app)
        if query.since is not None:
            select = select.where(ops.c.intended_at >= _naive(query.since))
        if query.statuses:
            select = select.where(ops.c.status.in_(sorted(query.statuses)))
        if query.limit is not None:
            select = select.limit(query.limit)
        with self.engine.connect() as connection:
            return [_entry(dict(row._mapping)) for row in connection.execute(select)]

    def unfinished(self) -> list[Entry]:
        """Intents without an outcome: what a crash between sending and recording leaves."""
        return self.history(HistoryQuery(statuses=frozenset({INTENDED})))

    def suspended_since(self, app: str) -> dict[str, datetime.datetime]:
        """When the controller suspended each account of `app` that it has not since
        reactivated or deleted: the start of the deprovision grace period (deleteAfter)."""
        ops = tables.operations
        select = (
            sa.select(ops.c.account_id, ops.c.kind, ops.c.finished_at)
            .where(
                ops.c.app == app,
                ops.c.status == "success",
                ops.c.account_id.is_not(None),
                ops.c.kind.in_(["suspend", "activate", "delete"]),
            )
            .order_by(ops.c.finished_at, ops.c.id)
        )
        since: dict[str, datetime.datetime] = {}
        with self.engine.connect() as connection:
            for account, kind, finished in connection.execute(select):
                moment = _aware(finished)
                if kind == "suspend" and moment is not None:  # the latest: never early
                    since[account] = moment
                else:
                    since.pop(account, None)
        return since

    def prune(self, *, before: datetime.datetime) -> int:
        """Delete cycles (and their operations) that ended before `before`; how many went."""
        cycles = tables.cycles
        old = sa.select(cycles.c.id).where(cycles.c.ended_at < _naive(before))
        with self.engine.begin() as connection:
            connection.execute(
                sa.delete(tables.operations).where(tables.operations.c.cycle_id.in_(old))
            )
            connection.execute(
                sa.delete(tables.cycle_apps).where(tables.cycle_apps.c.cycle_id.in_(old))
            )
            result = connection.execute(sa.delete(cycles).where(cycles.c.ended_at < _naive(before)))
        return int(result.rowcount)


def _new_id(result: sa.CursorResult[Any]) -> int:
    key = result.inserted_primary_key
    if key is None:
        raise RuntimeError("the database gave the new row no id")
    return int(key[0])


def _pragmas(connection: Any, _record: Any) -> None:
    """WAL lets `provisioner history` read while the controller writes; foreign keys on."""
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def _entry(row: Mapping[str, Any]) -> Entry:
    changes = tuple(Change(**change) for change in json.loads(row["changes"]))
    record = OperationRecord(
        app=row["app"],
        kind=row["kind"],
        reason=row["reason"],
        source_id=row["source_id"],
        account_id=row["account_id"],
        user_name=row["user_name"],
        group_name=row["group_name"],
        changes=changes,
        source_changed_at=_aware(row["source_changed_at"]),
    )
    intended = _aware(row["intended_at"])
    assert intended is not None
    return Entry(
        id=row["id"],
        cycle_id=row["cycle_id"],
        record=record,
        status=row["status"],
        intended_at=intended,
        finished_at=_aware(row["finished_at"]),
        duration_seconds=row["duration_seconds"],
        error=row["error"],
    )
