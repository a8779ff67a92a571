"""Opening the journal's file: create it when there is none, refuse it when it is not a journal.

A journal that is there but empty, not SQLite, damaged, or written by a newer provisioner is an
error that names the file and what to do, never silently recreated: a new journal would forget
the audit trail and the facts the guards rely on (the last trusted source size, when each
account was suspended). A missing journal is created whole: migrated in a file beside it, then
renamed into place, so a crash while creating it never leaves an empty file behind. Writers
(`apply`, `run`) migrate it to the code's schema; readers (`plan`, `diff`, `history`, `report`)
open it with SQLite's `mode=ro` and never migrate it.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sqlite3
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from controller.errors import ProvisionerError

MIGRATIONS = str(Path(__file__).resolve().parent / "migrations")
SQLITE_HEADER = b"SQLite format 3\x00"
MOVE_ASIDE = (
    "move the file aside, or restore it from a backup; the next `apply`, or the running "
    "controller's next cycle, then creates a new journal, which starts without the audit "
    "trail, the last trusted source size and the suspension times"
)
MIGRATE = "run `provisioner apply` or start `provisioner run` once to migrate it"


class JournalError(ProvisionerError):
    """The journal's file cannot be used; the message names it and says what to do."""

    def __init__(self, path: Path, problem: str, action: str = MOVE_ASIDE) -> None:
        super().__init__(f"{path}: {problem}; {action}")
        self.path = path


def _config(connection: sa.Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", MIGRATIONS)
    if connection is not None:
        config.attributes["connection"] = connection
    return config


@functools.cache
def head_revision() -> str:
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None
    return head


@functools.cache
def _known_revisions() -> tuple[str, ...]:
    """Every revision this code knows, oldest first."""
    script = ScriptDirectory.from_config(_config())
    return tuple(rev.revision for rev in reversed(list(script.walk_revisions())))


def check_file(path: Path) -> None:
    """Refuse a file that cannot be a journal before SQLite sees it (an empty file is a valid
    empty database to SQLite, and would be migrated into a new journal)."""
    try:
        size = path.stat().st_size
        with path.open("rb") as stream:
            header = stream.read(len(SQLITE_HEADER))
    except OSError as error:
        raise JournalError(path, f"cannot read the journal ({error.strerror})") from None
    if size == 0:
        raise JournalError(path, "the journal is empty (0 bytes)")
    if header != SQLITE_HEADER:
        raise JournalError(path, "this is not a journal: the file is not a SQLite database")


def _verify(connection: sa.Connection, path: Path) -> str | None:
    """Check the database is sound; its migration revision (None: no journal tables)."""
    problems = [row[0] for row in connection.exec_driver_sql("PRAGMA quick_check")]
    if problems != ["ok"]:
        raise JournalError(path, f"the journal is damaged ({'; '.join(problems[:3])})")
    current = MigrationContext.configure(connection).get_current_revision()
    if current is not None and current not in _known_revisions():
        raise JournalError(
            path,
            f"the journal was written by a newer provisioner (migration {current}; this one "
            f"knows up to {head_revision()})",
            "run that version of provisioner, or restore a backup this version wrote",
        )
    return current


@contextlib.contextmanager
def _unreadable_as_journal_error(path: Path) -> Any:
    try:
        yield
    except sa.exc.DBAPIError as error:
        raise JournalError(path, f"the journal cannot be read ({error.orig})") from None
    except sqlite3.DatabaseError as error:
        raise JournalError(path, f"the journal cannot be read ({error})") from None


def writable(path: Path, pragmas: Any) -> sa.Engine:
    """The journal at `path` migrated to the code's schema, created first when absent."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        _create(path, pragmas)
    check_file(path)
    engine = _engine(path, pragmas)
    try:
        with _unreadable_as_journal_error(path), engine.begin() as connection:
            _verify(connection, path)
            command.upgrade(_config(connection), "head")
    except BaseException:
        engine.dispose()
        raise
    return engine


def _engine(path: Path, pragmas: Any) -> sa.Engine:
    engine = sa.create_engine(f"sqlite:///{path}")
    sa.event.listen(engine, "connect", pragmas)
    return engine


def _sidecars(path: Path) -> tuple[Path, Path]:
    return path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")


def _create(path: Path, pragmas: Any) -> None:
    """A new journal, migrated beside `path` and then renamed to it: all or nothing. The WAL
    files of a journal moved away are removed first: SQLite would replay them into the new one."""
    fresh = path.with_name(path.name + ".new")
    for leftover in (fresh, *_sidecars(fresh), *_sidecars(path)):
        leftover.unlink(missing_ok=True)
    engine = _engine(fresh, pragmas)
    try:
        with engine.begin() as connection:
            command.upgrade(_config(connection), "head")
    finally:
        engine.dispose()  # the last connection checkpoints the WAL into the file
    os.replace(fresh, path)


def read_only(path: Path, pragmas: Any) -> tuple[sa.Engine, str | None]:
    """The journal at `path`, opened read-only (SQLite `mode=ro`), and its migration revision.

    Never created and never migrated: a missing file is an error here."""
    if not path.exists():
        raise JournalError(path, "there is no journal", "`apply` or `run` creates it")
    check_file(path)
    uri = f"{path.absolute().as_uri()}?mode=ro"
    engine = sa.create_engine(
        "sqlite://",
        creator=lambda: sqlite3.connect(uri, uri=True, check_same_thread=False),
    )
    sa.event.listen(engine, "connect", pragmas)
    try:
        with _unreadable_as_journal_error(path), engine.connect() as connection:
            revision = _verify(connection, path)
    except BaseException:
        engine.dispose()
        raise
    return engine, revision
