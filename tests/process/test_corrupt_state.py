"""A corrupt journal.db or legacy state.json under `provisioner run`: never silent, never fatal.

Each cycle that cannot open the file is counted as an error of every app and logged with the
file and what to do; /healthz fails once no cycle has run to its end within its bound
(3 x --interval + --jitter); and once the file is removed or fixed, the next trigger reads it
afresh and the controller recovers without a restart.
"""

from __future__ import annotations

import datetime
import json
import random
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from controller.journal import JOURNAL_FILE, SqliteJournal
from tests.process.conftest import Running, wait_for

Start = Callable[..., Running]
FAST = ("--interval", "2", "--jitter", "0")
"""A cycle every 2 s; /healthz's bound is then 6 s."""
USERS = 24
PROVISIONED = 16  # make_users: Sales gets no grant
T0 = datetime.datetime(2026, 12, 1, tzinfo=datetime.UTC)


def _truncated(path: Path) -> None:
    journal = SqliteJournal(path)
    for number in range(100):
        journal.start_cycle(trigger="schedule", revision=f"r{number}", at=T0)
    journal.close()
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


JOURNALS: dict[str, Callable[[Path], None]] = {
    "random bytes": lambda path: path.write_bytes(random.Random(15).randbytes(8192)),
    "truncated": _truncated,
    "empty": lambda path: path.write_bytes(b""),
    "text": lambda path: path.write_text("not a journal\n" * 20),
}


def healthz(running: Running) -> int:
    try:
        return httpx.get(running.metrics_url.replace("/metrics", "/healthz"), timeout=5).status_code
    except httpx.HTTPError:
        return 0


def errors_counted(running: Running) -> float:
    return running.metric("provisioner_reconcile_total", app="tool", result="error") or 0.0


def _failing_then_recovering(running: Running, path: Path, fix: Callable[[], None]) -> None:
    wait_for(lambda: errors_counted(running) > 0, "a counted error")
    failed = wait_for(lambda: running.events("cycle failed"), "a 'cycle failed' log line")
    line = failed[0]
    assert line["file"] == str(path)
    assert line["error"].startswith(f"{path}: ")
    assert "move it aside" in line["error"] or "move the file aside" in line["error"]
    assert line["retry"] == "on the next trigger"
    wait_for(lambda: healthz(running) == 503, "/healthz to fail")
    assert running.accounts() == {}  # nothing was written without its journal
    assert running.process.poll() is None

    fix()
    wait_for(lambda: len(running.accounts()) == PROVISIONED, "the accounts to be created")
    wait_for(
        lambda: (
            (running.metric("provisioner_reconcile_total", app="tool", result="success") or 0) > 0
        ),
        "a counted success",
    )
    wait_for(lambda: healthz(running) == 200, "/healthz to pass again")
    assert running.stop() == 0


@pytest.mark.parametrize("corrupt", JOURNALS.values(), ids=JOURNALS.keys())
def test_a_corrupt_journal_is_counted_logged_and_recovered_from_without_a_restart(
    controller: Start, tmp_path: Path, corrupt: Callable[[Path], None]
) -> None:
    state = tmp_path / "state"
    state.mkdir()
    journal = state / JOURNAL_FILE
    corrupt(journal)
    broken = journal.read_bytes()
    running = controller(USERS, args=FAST)

    def remove() -> None:
        assert journal.read_bytes() == broken  # never silently recreated
        journal.rename(tmp_path / "journal.db.corrupt")

    _failing_then_recovering(running, journal, remove)
    assert journal.read_bytes().startswith(b"SQLite format 3\x00")


def test_a_corrupt_legacy_state_file_is_counted_logged_and_recovered_from(
    controller: Start, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    state.mkdir()
    legacy = state / "state.json"
    legacy.write_text('{"version": 1, "lastGoodActive": {"org": ')
    running = controller(USERS, args=FAST)

    def fix() -> None:
        document = {"version": 1, "lastGoodActive": {"org": USERS}, "suspendedSince": {}}
        legacy.write_text(json.dumps(document))

    _failing_then_recovering(running, legacy, fix)
    (imported,) = running.events("legacy state imported into the journal")
    assert imported["renamed_to"] == str(state / "state.json.imported")
    assert not legacy.exists()
    facts = SqliteJournal(state / JOURNAL_FILE, read_only=True)
    assert facts.facts().trusted_active == {"org": USERS}
    facts.close()
