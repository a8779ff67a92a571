"""The state directory through the CLI: readers never create, change or migrate the journal; a
corrupt journal or legacy state.json is an error naming the file; state.json is imported once."""

from __future__ import annotations

import contextlib
import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa
from alembic import command

from controller.journal import opening
from tests.e2e.conftest import World


def _state(world: World) -> Path:
    return Path(world.env["PROVISIONER_STATE_DIR"])


def _history(world: World) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "controller", "history"],
        env=world.env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _revision(path: Path) -> str:
    with contextlib.closing(sqlite3.connect(path)) as database:
        return str(database.execute("SELECT version_num FROM alembic_version").fetchone()[0])


def test_plan_never_creates_a_journal(world: World) -> None:
    assert world.cli("plan").returncode == 2
    assert not (_state(world) / "journal.db").exists()


def test_plan_leaves_the_journal_as_it_was(provisioned: World) -> None:
    journal = _state(provisioned) / "journal.db"
    provisioned.edit_user(1, Title="Staff Engineer")  # something for plan to show
    before, stamp = journal.read_bytes(), journal.stat().st_mtime_ns
    assert provisioned.cli("plan").returncode == 2
    assert _history(provisioned).returncode == 0
    assert journal.read_bytes() == before
    assert journal.stat().st_mtime_ns == stamp


def test_readers_never_migrate_an_older_journal(world: World) -> None:
    journal = _state(world) / "journal.db"
    journal.parent.mkdir(parents=True)
    engine = sa.create_engine(f"sqlite:///{journal}")
    with engine.begin() as connection:
        command.upgrade(opening._config(connection), "0003")
    engine.dispose()

    assert world.cli("plan").returncode == 2  # read as far as it goes
    history = _history(world)
    assert history.returncode == 1
    assert f"{journal}: the journal is at migration 0003" in history.stderr
    assert "run `provisioner apply` or start `provisioner run` once" in history.stderr
    assert _revision(journal) == "0003"

    assert world.cli("apply").returncode == 0
    assert _revision(journal) == opening.head_revision()
    assert _history(world).returncode == 0


def test_a_corrupt_journal_stops_every_command_with_its_name(world: World) -> None:
    journal = _state(world) / "journal.db"
    journal.parent.mkdir(parents=True)
    journal.write_text("not a journal\n")
    for done in (world.cli("plan"), world.cli("apply"), _history(world)):
        assert done.returncode == 1
        assert f"error: {journal}: this is not a journal" in done.stderr
        assert "move the file aside" in done.stderr
    assert journal.read_text() == "not a journal\n"
    assert world.accounts() == {}


def test_a_legacy_state_file_is_read_by_plan_and_imported_by_apply(world: World) -> None:
    legacy = _state(world) / "state.json"
    legacy.parent.mkdir(parents=True)
    legacy.write_text("{broken")
    plan = world.cli("plan")
    assert plan.returncode == 1
    assert f"error: {legacy}: the state file of an earlier version cannot be read" in plan.stderr

    # 24 active users once: 16 now is a 33% drop, so plan (reading state.json in place)
    # holds removals exactly as apply would.
    legacy.write_text(
        json.dumps({"version": 1, "lastGoodActive": {"org": 36}, "suspendedSince": {}})
    )
    assert "active users dropped from 36 to 24" in world.cli("plan").stdout
    assert legacy.exists()
    done = world.cli("apply")
    assert f"note: imported state.json into the journal; renamed it {legacy}.imported" in (
        done.stdout
    )
    assert not legacy.exists()
    assert "active users dropped from 36 to 24" in done.stdout
