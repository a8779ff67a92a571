"""The audit journal: every cycle and every operation, recorded and answerable (issue 7).

`store.SqliteJournal` is the embedded default behind the `store.Journal` interface; `records`
holds the values it reads and writes.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from controller.journal.records import AppResult, Entry, HistoryQuery, OperationRecord
from controller.journal.store import Journal, SqliteJournal
from controller.operations import Change

JOURNAL_FILE = "journal.db"
"""The journal's file in the state directory (`--state-dir`)."""


@contextmanager
def existing(state_dir: Path) -> Iterator[SqliteJournal | None]:
    """The journal in `state_dir` if there is one, else None; never creates it. For the
    commands that only read it (plan and diff need the grace periods it remembers)."""
    path = state_dir / JOURNAL_FILE
    journal = SqliteJournal(path) if path.exists() else None
    try:
        yield journal
    finally:
        if journal is not None:
            journal.close()


__all__ = [
    "JOURNAL_FILE",
    "AppResult",
    "Change",
    "Entry",
    "HistoryQuery",
    "Journal",
    "OperationRecord",
    "SqliteJournal",
    "existing",
]
