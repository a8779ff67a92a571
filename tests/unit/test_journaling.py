"""Every operation kind is journaled: intended before the app sees it, settled after.

The executor runs a hand-made plan with one operation of every kind through a reconciler that
looks in the journal each time it is called: the operation must already be there as an intent.
Afterwards each has its outcome: success, error (with the app's message) or skipped.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from pathlib import Path

import pytest

from controller import executor
from controller.journal import AppResult, HistoryQuery, SqliteJournal
from controller.journaling import CycleRecord
from controller.model import AccountId, AppName, SourceUserId
from controller.operations import Applied, Change, Operation, OpKind, Plan
from tests.fakes import FakeReconciler, observed

APP = AppName("tool")
NOW = datetime.datetime(2026, 11, 28, 9, 0, tzinfo=datetime.UTC)


class Watching(FakeReconciler):
    """Checks, as each operation arrives, that the journal already holds its intent."""

    def __init__(self, journal: SqliteJournal) -> None:
        super().__init__(observed(), fail={OpKind.DELETE})
        self.journal = journal
        self.seen_intents: list[str] = []

    async def apply(self, operation: Operation) -> Applied:
        pending = self.journal.history(HistoryQuery(statuses=frozenset({"intended"})))
        self.seen_intents += [e.record.kind for e in pending]
        return await super().apply(operation)


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[SqliteJournal]:
    opened = SqliteJournal(tmp_path / "journal.db")
    yield opened
    opened.close()


def _every_kind() -> Plan:
    user = {"source_id": SourceUserId("005A"), "user_name": "ada", "reason": "rule engineering"}
    existing = {**user, "account_id": AccountId("acc-1")}
    return Plan(
        APP,
        (
            Operation(OpKind.CREATE_GROUP, APP, group="eng", reason="granted by a rule"),
            Operation(OpKind.CREATE, APP, attributes={"userName": "ada"}, **user),
            Operation(OpKind.LINK, APP, **existing),
            Operation(
                OpKind.UPDATE, APP, changes=(Change("title", "Engineer", "Lead"),), **existing
            ),
            Operation(OpKind.ACTIVATE, APP, **existing),
            Operation(OpKind.ADD_MEMBER, APP, group="eng", group_id="g-1", **existing),
            Operation(OpKind.REMOVE_MEMBER, APP, group="ops", group_id="g-2", **existing),
            Operation(OpKind.SUSPEND, APP, **existing),
            Operation(OpKind.DELETE, APP, **existing),
        ),
        drift={},
    )


async def test_every_kind_is_intended_before_it_is_sent_and_settled_after(
    journal: SqliteJournal,
) -> None:
    record = CycleRecord(journal, trigger="signal", revision="r1", clock=lambda: NOW)
    app = Watching(journal)
    report = await executor.execute(_every_kind(), app, concurrency=1, witness=record)
    record.close(source_users=1, source_active=1, source_error=None, apps={APP: AppResult("error")})

    assert len(app.seen_intents) == len(OpKind)  # each call found its own intent waiting
    entries = {e.record.kind: e for e in journal.history(HistoryQuery())}
    assert set(entries) == {kind.value for kind in OpKind}
    assert {k: e.status for k, e in entries.items() if e.status != "success"} == {"delete": "error"}
    assert "refused delete" in (entries["delete"].error or "")
    assert entries["update"].record.changes[0].after == "Lead"
    assert entries["add_member"].record.group_name == "eng"
    assert [o.result for o in report.outcomes].count("success") == len(OpKind) - 1


async def test_a_skipped_operation_is_journaled_as_skipped(journal: SqliteJournal) -> None:
    record = CycleRecord(journal, trigger="cli", revision="r1", clock=lambda: NOW)
    wanted = Plan(
        APP,
        (
            Operation(OpKind.CREATE, APP, source_id=SourceUserId("005B"), user_name="bob"),
            Operation(
                OpKind.ADD_MEMBER,
                APP,
                source_id=SourceUserId("005B"),
                group="eng",
                group_id="g-1",
                user_name="bob",
            ),
        ),
        drift={},
    )
    await executor.execute(wanted, FakeReconciler(observed(), fail={OpKind.CREATE}), witness=record)
    statuses = {e.record.kind: e.status for e in journal.history(HistoryQuery())}
    assert statuses == {"create": "error", "add_member": "skipped"}
