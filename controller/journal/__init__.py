"""The audit journal: every cycle and every operation, recorded and answerable (issue 7).

`store.SqliteJournal` is the embedded default behind the `store.Journal` interface; `records`
holds the values it reads and writes.
"""

from __future__ import annotations

from controller.journal.records import AppResult, Entry, HistoryQuery, OperationRecord
from controller.journal.store import Journal, SqliteJournal
from controller.operations import Change

JOURNAL_FILE = "journal.db"
"""The journal's file in the state directory (`--state-dir`)."""

__all__ = [
    "JOURNAL_FILE",
    "AppResult",
    "Change",
    "Entry",
    "HistoryQuery",
    "Journal",
    "OperationRecord",
    "SqliteJournal",
]
