"""`provisioner approve` taken up by a lone `apply`: once, and never past the source guards.

The running controller takes approvals up the same way (tests/process/test_one_writer.py);
here the writer is `apply`, so each step's outcome is its exit code, output and the app.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.conftest import World, make_users

USERS = 60  # three leavers are 5% of the active users: a trusted read (rule 1)


@pytest.fixture
def limited(world: World) -> World:
    world.env["MAX_DEPROVISIONS"] = "2"
    world.write_users(make_users(USERS))
    done = world.cli("apply")
    assert done.returncode == 0, done.stdout + done.stderr
    return world


def approve(world: World, *args: str) -> subprocess.CompletedProcess[str]:
    """`provisioner approve`, which needs no policy: only the state directory's journal."""
    return subprocess.run(
        [sys.executable, "-m", "controller", "approve", "--app", *args],
        env=world.env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def leave(world: World, *indexes: int) -> None:
    users = world.users()
    for index in indexes:
        users[index]["IsActive"] = False
    world.write_users(users)


def active(world: World, *indexes: int) -> list[bool]:
    accounts = world.accounts()
    return [accounts[f"user{i}@org.example"]["active"] for i in indexes]


def open_approvals(world: World) -> list[tuple[int, str]]:
    journal = Path(world.env["PROVISIONER_STATE_DIR"]) / "journal.db"
    with sqlite3.connect(journal) as connection:
        query = "SELECT id, approved_by FROM approvals WHERE consumed_at IS NULL"
        return connection.execute(query).fetchall()


def test_an_approval_that_finds_nothing_held_is_used_up_not_kept(limited: World) -> None:
    early = approve(limited, "tool", "--by", "alice")
    assert early.returncode == 0, early.stderr
    assert "held nothing; the next cycle uses this approval up" in early.stderr
    quiet = limited.cli("apply")
    assert quiet.returncode == 0
    expected = "Approval consumed: approval #1 by alice, journal cycle 2: nothing of tool was held"
    assert expected in quiet.stdout

    leave(limited, 1, 4, 7)  # a later batch, over maxDeprovisionsPerRun 2: held, not released
    held = limited.cli("apply")
    assert held.returncode == 1 and "3 operations held" in held.stderr
    assert active(limited, 1, 4, 7) == [True, True, True]

    approved = approve(limited, "tool", "--by", "bob", "--reason", "TICKET-9")
    assert "held 3 deprovisions by its per-run limit" in approved.stdout
    released = limited.cli("apply")
    assert released.returncode == 0, released.stdout + released.stderr
    expected = "approval #2 by bob: TICKET-9, journal cycle 4: released 3 of 3 held deprovisions"
    assert expected in released.stdout
    assert active(limited, 1, 4, 7) == [False, False, False]
    assert open_approvals(limited) == []


def test_an_approval_never_lifts_the_source_guard_nor_covers_what_it_held(
    limited: World,
) -> None:
    leave(limited, *range(1, 31, 3))  # ten leavers: a 16% drop, more than maxActiveDropPercent
    held = limited.cli("apply")
    assert held.returncode == 1 and "SAFETY: active users dropped" in held.stdout
    early = approve(limited, "tool", "--by", "alice")
    assert early.returncode == 0 and "which no approval lifts" in early.stderr
    assert "for at most 0 held deprovisions of tool" in early.stdout

    untrusted = limited.cli("apply")
    assert untrusted.returncode == 1 and "SAFETY: active users dropped" in untrusted.stdout
    assert "Approval consumed" not in untrusted.stdout
    assert all(active(limited, *range(1, 31, 3)))
    assert open_approvals(limited) == [(1, "alice")]

    users = limited.users()  # the drop was a mistake; three real leavers remain
    for index in range(10, 31, 3):
        users[index]["IsActive"] = True
    limited.write_users(users)
    unreviewed = limited.cli("apply")  # over maxDeprovisionsPerRun 2, and never reviewed
    assert unreviewed.returncode == 1, unreviewed.stdout + unreviewed.stderr
    assert "3 deprovisions of tool are held again" in unreviewed.stdout
    assert active(limited, 1, 4, 7) == [True, True, True]
    assert open_approvals(limited) == []

    assert "held 3 deprovisions by its per-run limit" in approve(limited, "tool").stdout
    released = limited.cli("apply")
    assert released.returncode == 0, released.stdout + released.stderr
    assert "released 3 of 3 held deprovisions of tool" in released.stdout
    assert active(limited, 1, 4, 7) == [False, False, False]


def test_approve_refuses_an_app_the_journal_does_not_know(limited: World) -> None:
    done = approve(limited, "slak")
    assert done.returncode == 1
    assert "has no cycle of an app named slak; apps it knows: tool" in done.stderr
    assert open_approvals(limited) == []


def test_an_approval_covers_the_batch_reviewed_and_no_larger_one(limited: World) -> None:
    leave(limited, 1, 4, 7)
    held = limited.cli("apply")
    assert held.returncode == 1 and "3 operations held" in held.stderr
    approved = approve(limited, "tool", "--by", "bob")
    assert "for at most 3 held deprovisions of tool" in approved.stdout

    leave(limited, 10, 13)  # two more leave before the approval is used: 5 were never reviewed
    grown = limited.cli("apply")
    assert grown.returncode == 1, grown.stdout + grown.stderr
    assert "covers at most 3" in grown.stdout
    assert "5 deprovisions of tool are held again" in grown.stdout
    assert active(limited, 1, 4, 7, 10, 13) == [True] * 5
    assert open_approvals(limited) == []  # used up: the larger batch needs a review of its own
