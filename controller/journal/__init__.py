"""The audit journal: every cycle and every operation, recorded and answerable (issue 7), and
the facts later runs need (issue 15).

`store.SqliteJournal` is the embedded default behind the `store.Journal` interface; `records`
holds the values it reads and writes; `opening` refuses a file that is not a sound journal;
`legacy` imports the state.json of earlier versions.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from controller.journal import legacy
from controller.journal.opening import JournalError
from controller.journal.records import AppResult, Entry, Facts, HistoryQuery, OperationRecord
from controller.journal.store import Journal, SqliteJournal
from controller.operations import Change

JOURNAL_FILE = "journal.db"
"""The journal's file in the state directory (`--state-dir`)."""


@contextmanager
def existing(state_dir: Path) -> Iterator[SqliteJournal | None]:
    """The journal in `state_dir` opened read-only if there is one, else None; never created
    nor migrated. For the commands that only read it (plan and diff need the grace periods it
    remembers). A file that is not a sound journal raises `JournalError`."""
    path = state_dir / JOURNAL_FILE
    journal = SqliteJournal(path, read_only=True) if path.exists() else None
    try:
        yield journal
    finally:
        if journal is not None:
            journal.close()


def for_writing(state_dir: Path, *, at: datetime.datetime) -> tuple[SqliteJournal, Path | None]:
    """The journal in `state_dir`, created or migrated, with any legacy state.json imported;
    and where that state.json was renamed to (None: there was none), for the caller to say."""
    journal = SqliteJournal(state_dir / JOURNAL_FILE)
    try:
        return journal, legacy.import_into(journal, state_dir, at=at)
    except BaseException:
        journal.close()
        raise


__all__ = [
    "JOURNAL_FILE",
    "AppResult",
    "Change",
    "Entry",
    "Facts",
    "HistoryQuery",
    "Journal",
    "JournalError",
    "OperationRecord",
    "SqliteJournal",
    "existing",
    "for_writing",
    "legacy",
]
