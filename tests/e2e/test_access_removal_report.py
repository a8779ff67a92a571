"""`provisioner report access-removal` on a journal: each app's leaver p50, p95 and maximum.

The journal is written as `apply` and `run` write it (an intent, then its outcome), in a state
directory of its own; the report is the real command in a subprocess, as an auditor runs it.
"""

from __future__ import annotations

import csv
import datetime
import io
import os
import subprocess
import sys
from pathlib import Path

from controller.journal import JOURNAL_FILE, OperationRecord, SqliteJournal

REPO = Path(__file__).resolve().parents[2]
NOW = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
CHANGED = NOW - datetime.timedelta(hours=2)
MIDNIGHT = CHANGED - datetime.timedelta(hours=9)


def _journal(state: Path) -> None:
    """Slack: 20 leavers, suspended 1 s to 20 s after their deactivation. Jira: two leavers
    (3 s, 5 s) and a contractor whose end date passed 9 h before. Not removals: a failed
    suspend and an update; a freeze has no source time."""
    journal = SqliteJournal(state / JOURNAL_FILE)
    cycle = journal.start_cycle(trigger="change", revision="r1", at=CHANGED)

    def done(
        app: str,
        user: str,
        seconds: float,
        *,
        kind: str = "suspend",
        reason: str = "deactivated in the source",
        changed: datetime.datetime | None = CHANGED,
        status: str = "success",
    ) -> None:
        record = OperationRecord(
            app=app,
            kind=kind,
            reason=reason,
            source_id=f"005{user}",
            user_name=user,
            source_changed_at=changed,
        )
        at = CHANGED + datetime.timedelta(seconds=seconds)
        entry = journal.intend(cycle, record, at=at - datetime.timedelta(seconds=0.5))
        journal.finish(entry, status=status, error=None, at=at)

    for n in range(1, 21):
        done("slack", f"leaver{n:02d}", n)
    done("jira", "leaver01", 3)
    done("jira", "leaver02", 5)
    done("jira", "dora", 0, changed=MIDNIGHT, reason="End__c 2026-11-02 has passed")
    done("jira", "carl", 7, status="error")
    done("jira", "bob", 8, kind="update")
    done("slack", "eve", 30, changed=None, reason="frozen in the source")
    journal.close()


def report(state: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = ["report", "access-removal", "--state-dir", str(state), *args]
    return subprocess.run(
        [sys.executable, "-m", "controller", *command],
        cwd=REPO,
        env={**os.environ, "NO_COLOR": "1"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_report_gives_each_apps_latency_figures_by_kind(tmp_path: Path) -> None:
    _journal(tmp_path)
    done = report(tmp_path, "--since", "1d")
    assert done.returncode == 0, done.stderr
    text = done.stdout
    assert "22 people lost access to 24 app accounts." in text
    by_app = text.split("## By app")[1].split("## Every removal")[0].strip().splitlines()
    assert by_app == [
        "| app | kind | removals | p50 | p95 | max |",
        "|---|---|---|---|---|---|",
        "| jira | end_date | 1 | 9h 00m | 9h 00m | 9h 00m |",
        "| jira | leaver | 2 | 3.0s | 5.0s | 5.0s |",
        "| slack | leaver | 20 | 10.0s | 19.0s | 20.0s |",
    ]
    # What it showed before stays: every removal, the unknown time, the slowest first.
    assert "| eve | frozen in the source | ? | slack |" in text
    assert "carl" not in text and "bob" not in text
    assert text.split("## Slowest")[1].split()[1:4] == ["dora", "in", "jira:"]


def test_the_csv_keeps_one_row_per_app_account(tmp_path: Path) -> None:
    _journal(tmp_path)
    done = report(tmp_path, "--since", "1d", "--format", "csv")
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader(io.StringIO(done.stdout)))
    assert list(rows[0]) == [
        "source_id", "user", "reason", "source_changed_at", "app", "converged_at", "seconds"
    ]  # fmt: skip
    assert len(rows) == 24
    assert {r["seconds"] for r in rows if r["app"] == "jira"} == {"3", "5", str(9 * 3600)}
