"""One writer per state directory, beside a real `provisioner run` process (DESIGN.md rule 9).

A running controller holds the state directory's writer lock for its whole life: an `apply`
(or a second `run`) beside it refuses, naming it. An operator's approval of held deprovisions
reaches it through the journal instead (`provisioner approve`), is taken up by its next cycle,
journaled with who approved, and used once.
"""

from __future__ import annotations

import getpass
import json
import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from emulators.serving import free_port
from tests.e2e.conftest import TOKEN, make_users
from tests.process.conftest import Running


def cli(running: Running, state: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "TOOL_SCIM_URL": str(running.scim.base_url).rstrip("/"),
        "TOOL_SCIM_TOKEN": TOKEN,
        "PROVISIONER_STATE_DIR": str(state),
    }
    return subprocess.run(
        [sys.executable, "-m", "controller", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_apply_beside_a_running_controller_refuses_naming_it(
    controller: Callable[..., Running], tmp_path: Path
) -> None:
    running = controller()
    running.wait_cycles(1)
    state = tmp_path / "state"

    done = cli(running, state, "apply", "--policy", str(running.policy), "--lock-timeout", "1")
    assert done.returncode == 1, done.stdout + done.stderr
    holder = f"a running controller (pid {running.process.pid} on host "
    assert f"waiting up to 1 s for the writer lock: {holder}" in done.stderr
    assert f"error: {holder}" in done.stderr
    assert "`provisioner run`, since " in done.stderr
    assert f"holds {state / 'writer.lock'} after waiting 1 s" in done.stderr
    assert "`provisioner approve --app APP`" in done.stderr
    assert done.stdout == ""  # refused before reading or planning anything

    second = cli(running, state, "run", "--policy", str(running.policy), "--port", str(free_port()))
    assert second.returncode == 1
    refusal = [json.loads(line) for line in second.stderr.splitlines() if line.startswith("{")]
    assert [event["event"] for event in refusal] == [
        "refused: another writer holds the state directory"
    ]
    assert holder in refusal[0]["error"]
    assert running.process.poll() is None  # the controller runs on


def deactivate(running: Running, users: list[dict[str, object]], *indexes: int) -> None:
    for index in indexes:
        users[index]["IsActive"] = False
    running.write_users(users)


def active(running: Running, *indexes: int) -> list[bool]:
    accounts = running.accounts()
    return [accounts[f"user{i}@org.example"]["active"] for i in indexes]


def last_reconciled(running: Running) -> dict[str, object]:
    return running.events("app reconciled")[-1]


def test_approve_reaches_the_running_controller_once(
    controller: Callable[..., Running], tmp_path: Path
) -> None:
    running = controller(60, MAX_DEPROVISIONS="2")  # 3 leavers of 60: a trusted read (rule 1)
    running.wait_cycles(1)
    state = tmp_path / "state"
    users = make_users(60)
    deactivate(running, users, 1, 4, 7)  # three leavers, over maxDeprovisionsPerRun 2
    running.signal(signal.SIGUSR1)
    running.wait_cycles(2)
    assert last_reconciled(running)["blocked"] == 3
    assert active(running, 1, 4, 7) == [True, True, True]

    approved = cli(running, state, "approve", "--app", "tool", "--reason", "TICKET-1: leavers")
    assert approved.returncode == 0, approved.stdout + approved.stderr
    who = getpass.getuser()
    assert f"Recorded approval #1 by {who}: TICKET-1: leavers" in approved.stdout
    assert "held 3 deprovisions by its per-run limit" in approved.stdout

    running.signal(signal.SIGUSR1)
    running.wait_cycles(3)
    assert active(running, 1, 4, 7) == [False, False, False]
    (consumed,) = running.events("approval consumed")
    assert (consumed["app"], consumed["approved_by"], consumed["released"]) == ("tool", who, 3)
    history = cli(running, state, "history", "--app", "tool", "--format", "json")
    suspends = [e for e in json.loads(history.stdout) if e["operation"] == "suspend"]
    assert len(suspends) == 3
    assert all(f"allowed once by approval #1 by {who}" in e["reason"] for e in suspends)
    with sqlite3.connect(state / "journal.db") as journal:
        rows = journal.execute("SELECT approved_by, consumed_cycle_id FROM approvals").fetchall()
    assert rows == [(who, consumed["journal_cycle"])]

    deactivate(running, users, 10, 13, 16)  # a second batch: the approval is used up
    running.signal(signal.SIGUSR1)
    running.wait_cycles(4)
    assert last_reconciled(running)["blocked"] == 3
    assert active(running, 10, 13, 16) == [True, True, True]
    assert len(running.events("approval consumed")) == 1
