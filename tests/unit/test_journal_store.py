"""The SQLite journal: migrated on open, intents and outcomes, history filters, crash leftovers,
retention pruning, and a reader beside the writer (WAL)."""

from __future__ import annotations

import datetime
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from controller.journal import AppResult, Change, HistoryQuery, OperationRecord, SqliteJournal
from controller.journaling import CycleRecord

T0 = datetime.datetime(2026, 11, 1, 9, 0, tzinfo=datetime.UTC)


def _at(minutes: float) -> datetime.datetime:
    return T0 + datetime.timedelta(minutes=minutes)


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[SqliteJournal]:
    opened = SqliteJournal(tmp_path / "journal.db")
    yield opened
    opened.close()


def _suspend(user: str, source_id: str, app: str = "slack") -> OperationRecord:
    return OperationRecord(
        app=app,
        kind="suspend",
        reason="inactive in Salesforce",
        source_id=source_id,
        account_id=f"U-{source_id}",
        user_name=user,
    )


def test_an_operation_is_intended_then_finished(journal: SqliteJournal) -> None:
    cycle = journal.start_cycle(trigger="interval", revision="abc123", at=_at(0))
    record = OperationRecord(
        app="slack",
        kind="update",
        reason="drift",
        source_id="005A",
        account_id="U1",
        user_name="ada",
        changes=(Change("title", "Engineer", "Staff Engineer"),),
    )
    entry = journal.intend(cycle, record, at=_at(1))
    (pending,) = journal.unfinished()
    assert pending.id == entry and pending.status == "intended"
    journal.finish(entry, status="success", error=None, at=_at(1.5))
    journal.end_cycle(
        cycle,
        at=_at(2),
        source_users=10,
        source_active=9,
        source_error=None,
        apps={"slack": AppResult("changed", planned=1, succeeded=1)},
    )
    (done,) = journal.history(HistoryQuery())
    assert journal.unfinished() == []
    assert done.record == record and done.status == "success"
    assert done.intended_at == _at(1) and done.duration_seconds == pytest.approx(30.0)


def test_history_filters_by_user_app_and_time(journal: SqliteJournal) -> None:
    cycle = journal.start_cycle(trigger="signal", revision="r1", at=_at(0))
    for minute, (user, source, app) in enumerate(
        [("ada", "005A", "slack"), ("Ada", "005A", "jira"), ("bob", "005B", "slack")]
    ):
        entry = journal.intend(cycle, _suspend(user, source, app), at=_at(minute))
        journal.finish(entry, status="success", error=None, at=_at(minute))
    by_id = journal.history(HistoryQuery(user="005A"))
    assert [(e.record.app, e.record.user_name) for e in by_id] == [
        ("jira", "Ada"),
        ("slack", "ada"),
    ]
    assert len(journal.history(HistoryQuery(user="ADA"))) == 2
    assert [e.record.user_name for e in journal.history(HistoryQuery(app="slack"))] == [
        "bob",
        "ada",
    ]
    assert [e.record.user_name for e in journal.history(HistoryQuery(since=_at(1)))] == [
        "bob",
        "Ada",
    ]


def test_pruning_removes_old_cycles_and_their_operations(journal: SqliteJournal) -> None:
    for day in (0, 500):
        moment = T0 + datetime.timedelta(days=day)
        cycle = journal.start_cycle(trigger="interval", revision="r", at=moment)
        journal.intend(cycle, _suspend(f"user{day}", f"005{day}"), at=moment)
        journal.end_cycle(
            cycle,
            at=moment,
            source_users=1,
            source_active=1,
            source_error=None,
            apps={"slack": AppResult("changed", planned=1)},
        )
    gone = journal.prune(before=T0 + datetime.timedelta(days=100))
    assert gone == 1
    assert [e.record.user_name for e in journal.history(HistoryQuery())] == ["user500"]


def test_reopening_keeps_everything_and_a_reader_sees_it_while_open(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    first = SqliteJournal(path)
    cycle = first.start_cycle(trigger="interval", revision="r", at=_at(0))
    first.intend(cycle, _suspend("ada", "005A"), at=_at(0))
    with sqlite3.connect(path) as reader:  # another process, e.g. `provisioner history`
        assert reader.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert reader.execute("SELECT count(*) FROM operations").fetchone()[0] == 1
    first.close()
    again = SqliteJournal(path)  # migrations are already at head: nothing lost, nothing redone
    assert [e.record.user_name for e in again.unfinished()] == ["ada"]
    again.close()


def test_a_cycle_record_prunes_what_is_past_retention_and_settles_crash_leftovers(
    journal: SqliteJournal,
) -> None:
    old = journal.start_cycle(trigger="interval", revision="r", at=_at(0))
    journal.intend(old, _suspend("ada", "005A"), at=_at(0))  # the controller died here
    journal.end_cycle(
        old,
        at=_at(0),
        source_users=1,
        source_active=1,
        source_error=None,
        apps={"slack": AppResult("error", planned=1)},
    )
    later = T0 + datetime.timedelta(days=30)
    record = CycleRecord(
        journal, trigger="signal", revision="r2", clock=lambda: later, retention_days=400
    )
    (settled,) = journal.history(HistoryQuery())
    assert settled.status == "interrupted" and "stopped before" in (settled.error or "")
    record.close(source_users=1, source_active=1, source_error=None, apps={})
    assert len(journal.history(HistoryQuery())) == 1  # 30 days old: kept
    latest = CycleRecord(
        journal, trigger="signal", revision="r3", clock=lambda: T0 + datetime.timedelta(days=401)
    )
    latest.close(source_users=1, source_active=1, source_error=None, apps={})
    assert journal.history(HistoryQuery()) == []  # past the default 400 days: pruned


def test_the_grace_period_starts_at_the_last_suspend_we_made(journal: SqliteJournal) -> None:
    cycle = journal.start_cycle(trigger="interval", revision="r", at=_at(0))

    def done(kind: str, account: str, minute: float) -> None:
        record = OperationRecord(app="slack", kind=kind, reason="r", account_id=account)
        journal.finish(
            journal.intend(cycle, record, at=_at(minute)),
            status="success",
            error=None,
            at=_at(minute),
        )

    done("suspend", "U1", 1)
    done("activate", "U1", 2)  # came back: the clock stops
    done("suspend", "U1", 3)  # left again: it starts anew, never from minute 1
    done("suspend", "U2", 4)
    done("delete", "U2", 5)  # gone: nothing to wait for
    done("suspend", "U3", 6)
    assert journal.suspended_since("slack") == {"U1": _at(3), "U3": _at(6)}
    assert journal.suspended_since("jira") == {}


def test_a_targeted_cycle_names_its_users_and_a_full_cycle_none(tmp_path: Path) -> None:
    journal = SqliteJournal(tmp_path / "journal.db")
    targeted = journal.start_cycle(
        trigger="change", revision="r", at=_at(0), users=["005B", "005A"]
    )
    full = journal.start_cycle(trigger="schedule", revision="r", at=_at(1))
    journal.close()
    with sqlite3.connect(tmp_path / "journal.db") as connection:
        rows = dict(connection.execute("SELECT id, users FROM cycles").fetchall())
    assert rows == {targeted: '["005A", "005B"]', full: None}
