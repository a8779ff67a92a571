"""Opening the journal: a missing file is created, a file that is not a sound journal is refused
(never recreated), and a reader never changes the file, never migrates it, never creates it."""

from __future__ import annotations

import datetime
import os
import random
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command

from controller.journal import (
    JOURNAL_FILE,
    AppResult,
    Facts,
    HistoryQuery,
    JournalError,
    SqliteJournal,
    existing,
    opening,
)

T0 = datetime.datetime(2026, 11, 1, 9, 0, tzinfo=datetime.UTC)


def _real_journal(path: Path, cycles: int = 200) -> None:
    journal = SqliteJournal(path)
    for number in range(cycles):
        cycle = journal.start_cycle(trigger="schedule", revision=f"r{number}", at=T0)
        journal.end_cycle(
            cycle,
            at=T0,
            source_users=300,
            source_active=290,
            source_error=None,
            apps={"slack": AppResult("success", planned=0)},
        )
    journal.close()


def _truncated(path: Path) -> None:
    _real_journal(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


CORRUPTIONS: dict[str, Callable[[Path], None]] = {
    "random bytes": lambda path: path.write_bytes(random.Random(15).randbytes(8192)),
    "truncated": _truncated,
    "empty": lambda path: path.write_bytes(b""),
    "text": lambda path: path.write_text("journal: yes please\n" * 50),
}


@pytest.mark.parametrize("corrupt", CORRUPTIONS.values(), ids=CORRUPTIONS.keys())
@pytest.mark.parametrize("read_only", [False, True], ids=["writer", "reader"])
def test_a_file_that_is_not_a_sound_journal_is_refused_never_recreated(
    tmp_path: Path, corrupt: Callable[[Path], None], read_only: bool
) -> None:
    path = tmp_path / JOURNAL_FILE
    corrupt(path)
    before = path.read_bytes()
    with pytest.raises(JournalError) as raised:
        SqliteJournal(path, read_only=read_only)
    message = str(raised.value)
    assert message.startswith(f"{path}: ")
    assert "move the file aside" in message
    assert raised.value.path == path
    assert path.read_bytes() == before


def test_a_missing_journal_is_created_whole_by_a_writer(tmp_path: Path) -> None:
    path = tmp_path / "state" / JOURNAL_FILE
    journal = SqliteJournal(path)
    journal.close()
    assert path.read_bytes().startswith(opening.SQLITE_HEADER)
    assert not path.with_name(JOURNAL_FILE + ".new").exists()
    again = SqliteJournal(path, read_only=True)
    assert again.revision == opening.head_revision() and not again.behind
    again.close()


def test_a_reader_never_creates_a_journal(tmp_path: Path) -> None:
    with existing(tmp_path) as journal:
        assert journal is None
    with pytest.raises(JournalError, match="there is no journal"):
        SqliteJournal(tmp_path / JOURNAL_FILE, read_only=True)
    assert list(tmp_path.iterdir()) == []


def test_a_reader_leaves_the_file_as_it_was_and_cannot_write(tmp_path: Path) -> None:
    path = tmp_path / JOURNAL_FILE
    _real_journal(path, cycles=3)
    writer = SqliteJournal(path)
    writer.save_facts(Facts({"salesforce": 290}, {"slack": {"U1": T0}}), at=T0)
    writer.close()
    before, stamp = path.read_bytes(), path.stat().st_mtime_ns
    with existing(tmp_path) as journal:
        assert journal is not None
        assert journal.facts() == Facts({"salesforce": 290}, {"slack": {"U1": T0}})
        assert journal.suspended_since("slack") == {}
        assert len(journal.history(HistoryQuery())) == 0
        with pytest.raises(sa.exc.OperationalError, match="readonly"):
            journal.save_facts(Facts({"salesforce": 1}), at=T0)
    assert path.read_bytes() == before
    assert path.stat().st_mtime_ns == stamp


def _journal_at(path: Path, revision: str) -> None:
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.begin() as connection:
        command.upgrade(opening._config(connection), revision)
    engine.dispose()


def _revision(path: Path) -> str:
    with sqlite3.connect(path) as database:
        (found,) = database.execute("SELECT version_num FROM alembic_version").fetchone()
    return str(found)


def test_a_reader_reads_an_older_journal_as_far_as_it_goes_and_never_migrates_it(
    tmp_path: Path,
) -> None:
    path = tmp_path / JOURNAL_FILE
    _journal_at(path, "0003")
    before = path.read_bytes()
    journal = SqliteJournal(path, read_only=True)
    assert journal.behind and journal.revision == "0003"
    assert journal.facts() == Facts()  # the tables that keep them came with 0004
    assert journal.suspended_since("slack") == {}
    journal.close()
    assert _revision(path) == "0003"
    assert path.read_bytes() == before

    SqliteJournal(path).close()  # a writer migrates it
    assert _revision(path) == opening.head_revision()


def test_a_journal_from_a_newer_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / JOURNAL_FILE
    _journal_at(path, "head")
    with sqlite3.connect(path) as database:
        database.execute("UPDATE alembic_version SET version_num = '0099'")
    for read_only in (False, True):
        with pytest.raises(JournalError, match=r"newer provisioner \(migration 0099"):
            SqliteJournal(path, read_only=read_only)
    assert _revision(path) == "0099"


def test_an_unreadable_file_is_refused_with_its_cause(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root reads any file")
    path = tmp_path / JOURNAL_FILE
    _real_journal(path, cycles=1)
    path.chmod(0)
    try:
        with pytest.raises(JournalError, match="cannot read the journal"):
            SqliteJournal(path)
    finally:
        path.chmod(0o600)
