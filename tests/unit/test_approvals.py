"""An operator's approval: kept in the journal, lifting rule 4 once for one app, consumed once.

The table is the real journal (SQLite, migrated by Alembic); the guard is the pure one.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from pathlib import Path

import pytest

from controller import guard
from controller.journal import SqliteJournal
from controller.journal import approvals as table
from controller.operations import OpKind
from controller.policy.schema import SafetySpec
from tests.unit.test_guard import leavers

NOW = datetime.datetime(2026, 12, 1, 9, 0, tzinfo=datetime.UTC)
LIMITS = SafetySpec(max_deprovisions_per_run=2, max_deprovisions_percent=50)


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[SqliteJournal]:
    opened = SqliteJournal(tmp_path / "journal.db")
    yield opened
    opened.close()


def test_an_approval_releases_the_held_deprovisions_and_names_itself_in_each() -> None:
    approval = table.Approval(3, "app", "alice", "TICKET-7", NOW)
    released = guard.hold_deprovisions(
        leavers(3, staying=10),
        accounts=13,
        safety=LIMITS,
        release=guard.Release(approval.describe()),
    )
    suspends = [op for op in released.operations if op.kind is OpKind.SUSPEND]
    assert len(suspends) == 3 and released.blocked == ()
    assert released.released_by == "approval #3 by alice: TICKET-7"
    assert all(
        op.reason.endswith("allowed once by approval #3 by alice: TICKET-7") for op in suspends
    )


def test_rule4_held_deprovisions_say_how_to_approve_beside_a_controller() -> None:
    held = guard.hold_deprovisions(leavers(3, staying=10), accounts=13, safety=LIMITS)
    assert "`provisioner approve --app app`" in str(held.blocked_reason)
    assert held.released_by is None


def test_pending_is_the_newest_open_unexpired_approval_per_app(journal: SqliteJournal) -> None:
    engine = journal.engine
    table.record(
        engine, app="slack", approved_by="old", reason="", at=NOW - datetime.timedelta(hours=25)
    )
    first = table.record(engine, app="slack", approved_by="bob", reason="", at=NOW)
    second = table.record(engine, app="slack", approved_by="carol", reason="", at=NOW)
    other = table.record(engine, app="jira", approved_by="dave", reason="", at=NOW)
    assert table.pending(engine, now=NOW) == {"slack": second, "jira": other}
    assert first.id < second.id


def test_consuming_marks_what_was_read_and_leaves_a_later_approval_open(
    journal: SqliteJournal,
) -> None:
    engine = journal.engine
    read = table.record(engine, app="slack", approved_by="bob", reason="", at=NOW)
    later = table.record(engine, app="slack", approved_by="carol", reason="", at=NOW)
    (taken,) = table.consume(engine, read, cycle_id=42, at=NOW)
    assert taken.id == read.id
    assert table.pending(engine, now=NOW) == {"slack": later}
    (newest, oldest) = table.history(engine, app="slack")
    assert (oldest.consumed_cycle_id, oldest.consumed_at) == (42, NOW)
    assert newest.consumed_at is None


def test_an_approval_releases_only_the_batch_it_covers() -> None:
    """Consent to the 3 deprovisions reviewed is no consent to 5: the larger batch is held."""
    approval = table.Approval(4, "app", "alice", "", NOW, covers=3)
    release = guard.Release(approval.describe(), approval.covers)
    grown = guard.hold_deprovisions(
        leavers(5, staying=10), accounts=15, safety=LIMITS, release=release
    )
    assert [op.kind for op in grown.operations].count(OpKind.SUSPEND) == 0
    assert len(grown.blocked) == 5 and grown.released_by is None
    assert "covers at most 3" in str(grown.blocked_reason)
    reviewed = guard.hold_deprovisions(
        leavers(3, staying=10), accounts=13, safety=LIMITS, release=release
    )
    assert reviewed.blocked == () and reviewed.released_by == approval.describe()
