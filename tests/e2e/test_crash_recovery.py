"""SIGKILL during apply: the journal and the apps still agree, and nothing is created twice.

`provisioner apply` is killed while it is writing to a slowed Slack, then run again. Every
account must exist exactly once, every operation the first run started must be settled in the
journal (done, or `interrupted` when the kill came between sending and recording), and every
account in Slack must have a journaled create behind it.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from emulators.slack import SlackSettings
from tests.e2e.example import REPO, running_example


def _journaled(path: Path, status: str) -> int:
    if not path.exists():
        return 0
    with sqlite3.connect(path) as db:
        try:
            row = db.execute("SELECT count(*) FROM operations WHERE status = ?", (status,))
        except sqlite3.OperationalError:  # not migrated yet
            return 0
        return int(row.fetchone()[0])


def test_a_killed_apply_is_settled_by_the_next_one(tmp_path: Path) -> None:
    slack = SlackSettings(token="slow-slack", write_latency=0.2)
    with running_example(tmp_path, slack=slack) as example:
        journal = Path(example.environ["PROVISIONER_STATE_DIR"]) / "journal.db"
        process = subprocess.Popen(
            [sys.executable, "-m", "controller", "apply", "--policy", "desired-state"],
            cwd=REPO,
            env=example.environ,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            while _journaled(journal, "success") < 10 and process.poll() is None:
                time.sleep(0.05)  # polling for a state, not timing anything
        finally:
            os.kill(process.pid, signal.SIGKILL)
            process.wait()
        assert process.returncode == -signal.SIGKILL  # killed mid-apply, not finished
        left = _journaled(journal, "intended")

        example.apply()
        example.in_sync()

        emails = [user["emails"][0]["value"] for user in example.world.slack.users()]
        assert len(emails) == len(set(emails))  # nothing created twice
        with sqlite3.connect(journal) as db:
            statuses = dict(db.execute("SELECT status, count(*) FROM operations GROUP BY status"))
            created = {
                row[0]
                for row in db.execute(
                    "SELECT user_name FROM operations WHERE app = 'slack' AND kind = 'create'"
                    " AND status IN ('success', 'interrupted')"
                )
            }
        assert "intended" not in statuses  # every intent settled
        assert statuses.get("interrupted", 0) == left
        assert {user["userName"] for user in example.world.slack.users()} <= created
