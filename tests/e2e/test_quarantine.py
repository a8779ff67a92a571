"""Rule 7 end to end: one bad source record quarantines that user only (real CLI, scim2-server).

A record with no Email, or an end date that is not an ISO date, is set aside and reported with
the user and the field; that user's account stays exactly as it was, while everyone else's
joiners and leavers go through in the same apply. Past maxQuarantinedPercent the read is not
trusted and nobody is deprovisioned. While any record is quarantined nothing says "in sync" and
`plan` and `apply` exit 1: a person must fix the record before its user is reconciled. A record
with no Id holds every account not linked to a user read whole, even with `prune: true`.
"""

from __future__ import annotations

import json
from typing import Any

from tests.e2e.conftest import POLICY, World, make_users

ACCESS_ENDS = "  file: {path: users.yaml}\n  accessEndsField: Contractor_End_Date__c\n"


QUARANTINED_ONE = (
    "1 source record is quarantined: their users are not reconciled until fixed (listed above)."
)


def snapshot(world: World) -> dict[str, dict[str, Any]]:
    """Every account as the app holds it, without the server's bookkeeping."""
    return {
        name: {key: value for key, value in account.items() if key != "meta"}
        for name, account in world.accounts().items()
    }


def name(index: int) -> str:
    return f"user{index}@org.example"


def test_one_record_with_no_email_among_300_holds_only_that_user(world: World) -> None:
    users = make_users(300)
    world.write_users(users)
    first = world.cli("apply")
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    before = snapshot(world)
    assert len(before) == 200  # Sales (a third) gets no account

    bad, leaver = 4, 7  # both in Support, both with an account
    del users[bad]["Email"]
    users[bad]["Title"] = "Would change if the record were used"
    users[leaver]["IsActive"] = False
    users += make_users(302)[300:]  # two joiners: user300 (Engineering), user301 (Support)
    world.write_users(users)

    done = world.cli("apply")
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-3000:]  # held for a person
    assert done.stdout.rstrip().endswith(QUARANTINED_ONE)
    bad_id = users[bad]["Id"]
    assert "QUARANTINED 1 source record:" in done.stdout
    (line,) = [line for line in done.stdout.splitlines() if line.startswith("  ! ")]
    assert line.startswith(f"  ! User {bad_id} ({name(bad)}) at {world.users_file}:")
    assert line.endswith(": missing required field(s): Email")
    assert "1 account(s) left as they are: quarantined source users" in done.stdout
    assert f"orphan        {name(bad)}" not in done.stdout

    after = snapshot(world)
    assert after[name(bad)] == before[name(bad)]  # not suspended, not changed
    assert after[name(leaver)]["active"] is False
    assert after[name(300)]["active"] is True and after[name(301)]["active"] is True
    changed = {n for n in before if after[n] != before[n]}
    assert changed == {name(leaver)}
    assert world.members()["eng"] >= {name(300)}

    # Everyone else converged in that one apply; the held user keeps plan from saying in sync.
    text = world.cli("plan")
    assert text.returncode == 1, text.stdout[-3000:] + text.stderr[-3000:]
    assert "every app is in sync" not in text.stdout and text.stderr == ""
    closing = text.stdout.rstrip().splitlines()[-2:]
    assert closing == [
        "No changes in tool: nothing to do for the users read whole.",
        QUARANTINED_ONE,
    ]
    markdown = world.cli("plan", "--format", "markdown")
    assert markdown.returncode == 1 and "every app is in sync" not in markdown.stdout
    assert QUARANTINED_ONE in markdown.stdout
    plan = world.cli("plan", "--format", "json")
    assert plan.returncode == 1
    document = json.loads(plan.stdout)
    assert document["inSync"] is False
    (held,) = document["source"]["quarantined"]
    assert held["sourceId"] == bad_id and held["username"] == name(bad)
    assert held["field"] == "Email" and held["error"] == "missing required field(s): Email"
    (app,) = document["apps"]
    assert app["orphans"] == [] and document["sourceTrusted"] is True


def test_twenty_percent_bad_records_make_the_read_untrusted(world: World) -> None:
    users = make_users(34)
    world.write_users(users)
    assert world.cli("apply").returncode == 0
    before = snapshot(world)

    for index in range(0, 34, 5):  # 7 records
        del users[index]["Email"]
    for index in (1, 4, 7):  # real leavers, with accounts
        users[index]["IsActive"] = False
    users += make_users(35)[34:]  # a joiner: user34, Support; 7 of 35 records are bad
    world.write_users(users)

    done = world.cli("apply")
    assert done.returncode == 1
    reason = "7 of 35 source records (20.0%) are quarantined, more than maxQuarantinedPercent 5%"
    assert f"SAFETY: {reason}: nobody is deprovisioned this cycle." in done.stdout
    assert "QUARANTINED 7 source records:" in done.stdout
    after = snapshot(world)
    assert all(after[n]["active"] for n in before)  # nobody deprovisioned, leavers included
    assert after[name(34)]["active"] is True  # creates still go
    assert {n: after[n] for n in before} == before

    # The operator's override accepts a drop in active users, never a broken read.
    forced = world.cli("apply", "--allow-deprovisions")
    assert forced.returncode == 1 and reason in forced.stdout
    assert {n: account for n, account in snapshot(world).items() if n in before} == before


def test_an_end_date_that_is_not_iso_holds_the_contractor_and_a_valid_one_suspends(
    world: World,
) -> None:
    policy_file = world.policy / "policy.yaml"
    text = policy_file.read_text()
    policy_file.write_text(text.replace("  file: {path: users.yaml}\n", ACCESS_ENDS))
    users = make_users(48)
    world.write_users(users)
    assert world.cli("apply").returncode == 0
    before = snapshot(world)

    users[1]["Contractor_End_Date__c"] = "31/12/2020"
    users[4]["Contractor_End_Date__c"] = "2020-1-1"
    users[7]["Contractor_End_Date__c"] = "2020-01-01"
    users[10]["Contractor_End_Date__c"] = "2099-01-01"
    world.write_users(users)

    done = world.cli("apply")
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-3000:]
    assert "QUARANTINED 2 source records:" in done.stdout
    assert "2 source records are quarantined: their users are not reconciled" in done.stdout
    for index, value in ((1, "31/12/2020"), (4, "2020-1-1")):
        line = (
            f"  ! User {users[index]['Id']} ({name(index)}): "
            f"Contractor_End_Date__c {value!r} is not an ISO date (YYYY-MM-DD)"
        )
        assert line in done.stdout.splitlines()
    after = snapshot(world)
    assert after[name(1)] == before[name(1)] and after[name(4)] == before[name(4)]
    assert after[name(7)]["active"] is False  # Contractor_End_Date__c 2020-01-01 has passed
    assert after[name(10)]["active"] is True

    plan = world.cli("plan", "--format", "json")
    held = {q["username"]: q["field"] for q in json.loads(plan.stdout)["source"]["quarantined"]}
    assert held == {name(1): "Contractor_End_Date__c", name(4): "Contractor_End_Date__c"}


def test_a_record_with_no_id_holds_every_unlinked_account_even_when_pruning(world: World) -> None:
    """Slack-like: userName from a template (`first4.last4`), so a record with a blank Id and
    no Email names nothing that ties it to its person's account: pruning must not suspend it."""
    policy_file = world.policy / "policy.yaml"
    pruning = POLICY.replace(
        "  match: [externalId, userName, email]\n",
        "  match: [externalId, userName, email]\n  prune: true\n",
    ).replace(
        'userName: "{{ user.Email | lower }}"',
        'userName: "{{ user.FirstName | lower }}.{{ user.LastName | lower }}"',
    )
    assert pruning.count("prune: true") == 1 and "first" not in POLICY
    policy_file.write_text(pruning)
    users = make_users(24)
    for user in users:  # Salesforce usernames need not be emails: these name no account
        user["Username"] = f"{user['Username']}.sf"
    world.write_users(users)
    first = world.cli("apply")
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    before = snapshot(world)
    assert before["first4.last4"]["active"] is True

    bad, leaver = 4, 7
    users[bad]["Id"] = ""
    del users[bad]["Email"]
    users[leaver]["IsActive"] = False
    world.write_users(users)

    planned = world.cli("plan")
    assert planned.returncode == 1, planned.stdout[-3000:] + planned.stderr[-3000:]
    assert "orphan" not in planned.stdout
    note = (
        "1 account(s) not linked to a user read whole are left as they are: a quarantined "
        "source record has no Id, so any of them may be that person's"
    )
    assert f"  note: {note}" in planned.stdout.splitlines()

    done = world.cli("apply")
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-3000:]
    after = snapshot(world)
    assert after["first4.last4"] == before["first4.last4"]  # not suspended, not changed
    assert after["first7.last7"]["active"] is False  # everyone else's leavers still go
    assert {n for n in before if after[n] != before[n]} == {"first7.last7"}
    plan = world.cli("plan", "--format", "json")
    (app,) = json.loads(plan.stdout)["apps"]
    assert app["orphans"] == [] and app["operations"] == []
