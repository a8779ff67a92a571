"""Two accounts with one externalId, end to end: a conflict reported, nothing written for it.

Issue 17: such a pair produced an update that failed every cycle. Here scim2-server holds a
second account carrying a provisioned user's externalId; `plan` and `apply` must report the
conflict by account ids, write nothing to either account (DESIGN.md rule 3: nothing is
deprovisioned on a guess), and still reconcile everyone else.
"""

from __future__ import annotations

import json

from emulators import requests_log
from tests.e2e.conftest import World

WRITES = ("POST", "PUT", "PATCH", "DELETE")


def test_two_accounts_with_one_external_id_are_a_conflict_and_neither_is_written(
    provisioned: World,
) -> None:
    world = provisioned
    original = world.accounts()["user0@org.example"]
    source_id = original["externalId"]
    copy = world.scim.post(
        "/Users",
        json={
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "user0.copy@org.example",
            "externalId": source_id,
            "active": True,
        },
    )
    assert copy.status_code == 201, copy.text
    doubled = {original["id"], copy.json()["id"]}
    world.edit_user(0, Title="Director")  # an update would be planned for user0
    world.edit_user(1, Title="Director")  # and one for user1, who is not doubled

    plan = world.cli("plan")
    assert plan.returncode == 1, plan.stdout + plan.stderr
    assert f"CONFLICT user {source_id}: 2 accounts in tool carry this externalId" in plan.stdout
    assert all(account_id in plan.stdout for account_id in doubled)
    assert "1 account conflict for a person to resolve in the app" in plan.stdout
    done = world.cli("plan", "--format", "json")
    (app,) = json.loads(done.stdout)["apps"]
    assert len(app["conflicts"]) == 1
    assert [op["userName"] for op in app["operations"]] == ["user1@org.example"]

    log = requests_log.at(world.env["TOOL_SCIM_URL"])
    since = log.mark()
    applied = world.cli("apply")
    assert applied.returncode == 1, applied.stdout + applied.stderr
    writes = [entry for entry in log.entries(since) if entry.method in WRITES]
    assert writes, "user1's update was sent"
    assert not [entry for entry in writes if entry.path.rsplit("/", 1)[-1] in doubled]
    assert not [entry for entry in writes if source_id in entry.body]  # no create for user0

    accounts = world.accounts()
    assert accounts["user0@org.example"]["active"] is True
    assert accounts["user0@org.example"].get("title") == "Engineer"
    assert accounts["user0.copy@org.example"]["active"] is True
    assert accounts["user1@org.example"]["title"] == "Director"
    again = world.cli("plan")
    assert again.returncode == 1 and "CONFLICT user" in again.stdout  # until a person acts

    world.scim.delete(f"/Users/{copy.json()['id']}")  # the operator deletes the duplicate
    resolved = world.cli("apply")
    assert resolved.returncode == 0, resolved.stdout + resolved.stderr
    assert world.accounts()["user0@org.example"]["title"] == "Director"
