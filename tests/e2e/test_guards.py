"""The safety guards end to end: real CLI, real SCIM server, and what the app holds afterwards.

Each test names the DESIGN.md section 6 rule it would catch being broken.
"""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

from tests.e2e.conftest import World, make_users


def active(world: World) -> dict[str, bool]:
    return {name: account["active"] for name, account in world.accounts().items()}


def test_rule4_too_many_deprovisions_are_held_while_creates_proceed(world: World) -> None:
    world.env["MAX_DEPROVISIONS"] = "2"
    assert world.cli("apply").returncode == 0
    users = make_users(25)  # user24 is a joiner
    for index in (1, 4, 7):
        users[index]["IsActive"] = False
    world.write_users(users)

    done = world.cli("apply")
    assert done.returncode == 1
    assert "blocked: tool: 3 operations held: 3 deprovisions exceed maxDeprovisionsPerRun 2" in (
        done.stderr
    )
    assert "provisioner apply --allow-deprovisions" in done.stdout
    state = active(world)
    assert state["user24@org.example"] is True  # the joiner got in
    assert all(state[f"user{i}@org.example"] for i in (1, 4, 7))  # nobody left

    plan = world.cli("plan")
    assert plan.returncode == 2 and "BLOCKED 3" in plan.stdout

    override = world.cli("apply", "--allow-deprovisions")
    assert override.returncode == 0, override.stdout + override.stderr
    assert "deprovision limits are lifted for this run" in override.stderr
    state = active(world)
    assert not any(state[f"user{i}@org.example"] for i in (1, 4, 7))
    assert world.cli("plan").returncode == 0


def test_rule1_an_empty_source_read_removes_nobody(provisioned: World) -> None:
    before = active(provisioned)
    provisioned.write_users([])
    done = provisioned.cli("apply")
    assert done.returncode == 1
    assert "SAFETY: the source read returned zero active users" in done.stdout
    assert active(provisioned) == before


def test_rule1_a_broken_export_is_untrusted_and_removes_nobody(provisioned: World) -> None:
    before = active(provisioned)
    users = provisioned.users()
    del users[3]["Email"]
    provisioned.write_users(users[:5])  # a truncated, broken export: 1 of 5 rows bad
    done = provisioned.cli("apply")
    assert done.returncode == 1
    assert "1 of 5 source records (20.0%) are quarantined" in done.stdout
    assert ": missing required field(s): Email" in done.stdout
    assert active(provisioned) == before


def test_rule1_an_unparseable_file_fails_the_read_and_removes_nobody(provisioned: World) -> None:
    before = active(provisioned)
    provisioned.users_file.write_text("users: [{Id: 005A, Username: a@x, Email: a@x}, oops]\n")
    done = provisioned.cli("apply")
    assert done.returncode == 1
    assert "READ FAILED" in done.stdout and "user #2 is not a mapping" in done.stdout
    assert active(provisioned) == before


def test_rule1_a_sudden_drop_holds_until_the_operator_confirms_it(provisioned: World) -> None:
    before = active(provisioned)
    users = provisioned.users()
    for index in (0, 1, 3, 4):  # 4 of 24 leave at once: 16.7%, above the default 10%
        users[index]["IsActive"] = False
    provisioned.write_users(users)

    done = provisioned.cli("apply")
    assert done.returncode == 1
    assert "active users dropped from 24 to 20 (16.7%), more than maxActiveDropPercent 10%" in (
        done.stdout
    )
    assert active(provisioned) == before

    confirmed = provisioned.cli("apply", "--allow-deprovisions")
    assert confirmed.returncode == 0, confirmed.stdout + confirmed.stderr
    after = active(provisioned)
    assert sorted(name for name in after if not after[name]) == [
        f"user{i}@org.example" for i in (0, 1, 3, 4)
    ]


def test_rule5_delete_comes_on_a_later_run_after_the_suspend(world: World) -> None:
    world.env["DEPROVISION_ACTION"] = "delete"
    assert world.cli("apply").returncode == 0
    world.edit_user(1, IsActive=False)

    first = world.cli("apply")
    assert first.returncode == 0, first.stdout + first.stderr
    assert world.accounts()["user1@org.example"]["active"] is False  # suspended, not deleted

    second = world.cli("apply")
    assert second.returncode == 0, second.stdout + second.stderr
    assert "- delete        user1@org.example" in second.stdout
    assert "user1@org.example" not in world.accounts()
    assert world.cli("plan").returncode == 0


def test_rule5_the_journaled_suspend_stands_when_the_suspension_times_are_lost(
    world: World,
) -> None:
    world.env["DEPROVISION_ACTION"] = "delete"
    assert world.cli("apply").returncode == 0
    world.edit_user(1, IsActive=False)
    assert world.cli("apply").returncode == 0  # suspends, and journals when
    journal = Path(world.env["PROVISIONER_STATE_DIR"]) / "journal.db"
    with contextlib.closing(sqlite3.connect(journal)) as database, database:
        assert database.execute("DELETE FROM suspensions").rowcount == 1
    assert "- delete        user1@org.example" in world.cli("plan").stdout  # plan agrees

    second = world.cli("apply")  # no suspension time, but the journaled suspend says when
    assert second.returncode == 0, second.stdout + second.stderr
    assert "- delete        user1@org.example" in second.stdout
    assert "user1@org.example" not in world.accounts()


def test_observe_mode_plans_but_writes_nothing(world: World) -> None:
    world.env["TOOL_MODE"] = "observe"
    done = world.cli("apply")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "observe-only" in done.stdout
    assert world.accounts() == {}
    assert world.cli("plan").returncode == 2
