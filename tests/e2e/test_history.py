"""The journal end to end: `apply` records every operation, `provisioner history` reads it back."""

from __future__ import annotations

import csv
import io
import json
import subprocess
from pathlib import Path

from tests.e2e.example import Example, running_example

ALAN = "alan.kay@orion.example"


def history(example: Example, *args: str) -> subprocess.CompletedProcess[str]:
    return example.cli("history", *args, policy=False)


def test_history_answers_when_and_why_a_leaver_lost_access(tmp_path: Path) -> None:
    with running_example(tmp_path) as example:
        plan = json.loads(example.cli("plan", "--format", "json").stdout)
        created = sum(op["kind"] == "create" for app in plan["apps"] for op in app["operations"])
        example.apply()
        example.world.change_in_salesforce(ALAN, {"IsActive": False})
        example.apply()
        example.in_sync()  # plan reads the journal's directory but writes nothing to it

        done = history(example, "--user", "005Hs0000iHkTj0IAF", "--format", "json")
        assert done.returncode == 0, done.stderr
        entries = json.loads(done.stdout)
        suspends = sorted(e["app"] for e in entries if e["operation"] == "suspend")
        assert suspends == ["jira", "slack", "zendesk"]
        assert all(e["result"] == "success" for e in entries)
        assert {e["reason"] for e in entries if e["operation"] == "suspend"} != {""}

        everything = json.loads(history(example, "--format", "json").stdout)
        assert sum(1 for e in everything if e["operation"] == "create") == created
        assert all(e["result"] == "success" for e in everything)

        zendesk = history(example, "--app", "zendesk", "--since", "1h", "--format", "csv")
        rows = list(csv.DictReader(io.StringIO(zendesk.stdout)))
        assert rows and {row["app"] for row in rows} == {"zendesk"}

        table = history(example, "--user", ALAN)
        assert table.returncode == 0 and "suspend" in table.stdout and "zendesk" in table.stdout

        report = example.cli("report", "access-removal", "--since", "1d", policy=False)
        assert report.returncode == 0, report.stderr
        assert "1 people lost access to 3 app accounts." in report.stdout
        rows = [line for line in report.stdout.splitlines() if line.startswith("| alan.kay")]
        assert len(rows) == 3 and all("deactivated in the source" in row for row in rows)
        assert "unknown" not in report.stdout  # Salesforce's SystemModstamp dates each change

        wrong = history(example, "--since", "yesterday")
        assert wrong.returncode == 1 and "not a duration" in wrong.stderr
