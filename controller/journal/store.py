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
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import sqlalchemy as sa

from controller.journal import opening, tables
from controller.journal.records import (
    INTENDED,
    AppResult,
    Entry,
    Facts,
    HistoryQuery,
    OperationRecord,
    aware_utc,
    naive_utc,
)
from controller.operations import Change


class Journal(Protocol):
    def start_cycle(
        self,
        *,
        trigger: str,
        revision: str,
        at: datetime.datetime,
        users: Sequence[str] | None = None,
    ) -> int:
        """Open a cycle; `users` are a targeted cycle's (None for a full cycle)."""
        ...

    def end_cycle(
        self,
        cycle_id: int,
        *,
        at: datetime.datetime,
        source_users: int,
        source_active: int,
        source_error: str | None,
        apps: Mapping[str, AppResult],
        facts: Facts | None = None,
    ) -> None: ...

    def intend(self, cycle_id: int, record: OperationRecord, *, at: datetime.datetime) -> int: ...

    def finish(
        self, entry_id: int, *, status: str, error: str | None, at: datetime.datetime
    ) -> None: ...

    def history(self, query: HistoryQuery) -> list[Entry]: ...

    def unfinished(self) -> list[Entry]: ...

    def suspended_since(self, app: str) -> dict[str, datetime.datetime]: ...

    def prune(self, *, before: datetime.datetime) -> int: ...

    def facts(self) -> Facts: ...

    def save_facts(self, facts: Facts, *, at: datetime.datetime) -> None: ...


class SqliteJournal:
    """The journal in one SQLite file; safe for one writer and any number of readers.

    Opened for writing, a missing file is created and an older one migrated; `read_only`
    opens it with SQLite's `mode=ro` and never migrates it. A file that is not a sound
    journal is a `JournalError` either way (`opening`).
    """

    def __init__(self, path: Path, *, read_only: bool = False) -> None:
        self.path = path
        self.read_only = read_only
        self.revision: str | None = opening.head_revision()
        """The journal's migration; read-only, it may be older than the code's."""
        if read_only:
            self.engine, self.revision = opening.read_only(path, _reader_pragmas)
        else:
            self.engine = opening.writable(path, _pragmas)

    @property
    def behind(self) -> bool:
        """Read-only and older than the code: what later migrations added is not there."""
        return self.revision != opening.head_revision()

    def close(self) -> None:
        self.engine.dispose()

    def start_cycle(
        self,
        *,
        trigger: str,
        revision: str,
        at: datetime.datetime,
        users: Sequence[str] | None = None,
    ) -> int:
        values = {
            "started_at": naive_utc(at),
            "trigger": trigger,
            "revision": revision,
            "users": None if users is None else json.dumps(sorted(users)),
        }
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
        facts: Facts | None = None,
    ) -> None:
        """Close the cycle, and write what it taught later runs in the same transaction."""
        ended = {
            "ended_at": naive_utc(at),
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
            if facts is not None:
                _write_facts(connection, facts, at)

    def intend(self, cycle_id: int, record: OperationRecord, *, at: datetime.datetime) -> int:
        changes = [vars(change) for change in record.changes]
        changed_at = record.source_changed_at
        values = {
            "cycle_id": cycle_id,
            **{k: v for k, v in vars(record).items() if k != "changes"},
            "source_changed_at": naive_utc(changed_at) if changed_at else None,
            "changes": json.dumps(changes, default=str),
            "status": INTENDED,
            "intended_at": naive_utc(at),
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
            took = (naive_utc(at) - intended).total_seconds()
            connection.execute(
                sa.update(ops)
                .where(ops.c.id == entry_id)
                .values(
                    status=status, error=error, finished_at=naive_utc(at), duration_seconds=took
                )
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
            select = select.where(ops.c.intended_at >= naive_utc(query.since))
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
                moment = aware_utc(finished)
                if kind == "suspend" and moment is not None:  # the latest: never early
                    since[account] = moment
                else:
                    since.pop(account, None)
        return since

    def facts(self) -> Facts:
        """The last trusted size of each source and the suspension times, in one snapshot
        (none from a read-only journal older than the tables that keep them)."""
        trust, held = tables.source_trust, tables.suspensions
        with self.engine.connect() as connection:
            if self.behind and not sa.inspect(connection).has_table(trust.name):
                return Facts()
            trusted = {row.source: row.active for row in connection.execute(sa.select(trust))}
            since: dict[str, dict[str, datetime.datetime]] = {}
            for row in connection.execute(sa.select(held)):
                moment = aware_utc(row.since)
                assert moment is not None
                since.setdefault(row.app, {})[row.account_id] = moment
        return Facts(trusted, since)

    def save_facts(self, facts: Facts, *, at: datetime.datetime) -> None:
        """Replace what is known of each source and app `facts` names, in one transaction."""
        with self.engine.begin() as connection:
            _write_facts(connection, facts, at)

    def prune(self, *, before: datetime.datetime) -> int:
        """Delete cycles (and their operations) that ended before `before`; how many went."""
        cycles = tables.cycles
        old = sa.select(cycles.c.id).where(cycles.c.ended_at < naive_utc(before))
        with self.engine.begin() as connection:
            connection.execute(
                sa.delete(tables.operations).where(tables.operations.c.cycle_id.in_(old))
            )
            connection.execute(
                sa.delete(tables.cycle_apps).where(tables.cycle_apps.c.cycle_id.in_(old))
            )
            result = connection.execute(
                sa.delete(cycles).where(cycles.c.ended_at < naive_utc(before))
            )
        return int(result.rowcount)


def _new_id(result: sa.CursorResult[Any]) -> int:
    key = result.inserted_primary_key
    if key is None:
        raise RuntimeError("the database gave the new row no id")
    return int(key[0])


def _write_facts(connection: sa.Connection, facts: Facts, at: datetime.datetime) -> None:
    trust, held = tables.source_trust, tables.suspensions
    for source, active in facts.trusted_active.items():
        connection.execute(sa.delete(trust).where(trust.c.source == source))
        connection.execute(
            sa.insert(trust).values(source=source, active=active, read_at=naive_utc(at))
        )
    for app, accounts in facts.suspended_since.items():
        connection.execute(sa.delete(held).where(held.c.app == app))
        rows = [
            {"app": app, "account_id": account, "since": naive_utc(moment)}
            for account, moment in accounts.items()
        ]
        if rows:
            connection.execute(sa.insert(held), rows)


def _reader_pragmas(connection: Any, _record: Any) -> None:
    """A reader never changes the file: no journal_mode switch, only patience with the writer."""
    cursor = connection.cursor()
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


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
        source_changed_at=aware_utc(row["source_changed_at"]),
    )
    intended = aware_utc(row["intended_at"])
    assert intended is not None
    return Entry(
        id=row["id"],
        cycle_id=row["cycle_id"],
        record=record,
        status=row["status"],
        intended_at=intended,
        finished_at=aware_utc(row["finished_at"]),
        duration_seconds=row["duration_seconds"],
        error=row["error"],
    )
