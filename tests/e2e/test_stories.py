"""The three stories of the brief, end to end: Salesforce emulator -> the real CLI -> the apps.

Each test runs `provisioner apply` in a subprocess against `desired-state/` and the example world
(Slack, Jira and Zendesk emulators and a scim2-server care platform), changes Salesforce through
its emulator's admin endpoint, and asserts what the apps themselves hold afterwards: accounts,
active flags, groups and roles.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.example import Example, running_example

ALAN = "alan.kay@orion.example"
BARBARA = "barbara.liskov@orion.example"
FRANCES = "frances.allen@orion.example"
DOROTHY = "dorothy.vaughan@orion.example"
TEAM_LEAD = 360000001  # the Zendesk emulator's "Team Lead" custom role


@pytest.fixture
def example(tmp_path: Path) -> Iterator[Example]:
    with running_example(tmp_path) as running:
        yield running


def test_orion_joiner_gets_three_apps_and_a_leaver_loses_them(example: Example) -> None:
    world = example.world
    example.apply()
    assert example.slack_users(BARBARA) == []  # inactive in Salesforce: nothing yet

    world.change_in_salesforce(BARBARA, {"IsActive": True})
    example.apply()
    (slack,) = example.slack_users(BARBARA)
    assert slack["active"] and slack["userName"] == "barbara.liskov"
    assert example.slack_groups(slack) == {"support", "all-hands"}
    jira = world.jira.user_by_name(BARBARA)
    assert jira is not None and jira["active"] and jira["displayName"] == "Barbara Liskov"
    agent = world.zendesk.user_by_email(BARBARA)
    assert agent is not None and agent["role"] == "agent" and not agent["suspended"]
    assert world.zendesk.group_names_of(agent["id"]) == {"Tier 1"}
    lead = world.zendesk.user_by_email(FRANCES)
    assert lead is not None and lead["custom_role_id"] == TEAM_LEAD
    assert world.zendesk.group_names_of(lead["id"]) == {"Tier 1", "Escalations"}

    world.change_in_salesforce(ALAN, {"IsActive": False})
    example.apply()
    (slack,) = example.slack_users(ALAN)
    assert slack["active"] is False  # deactivated, kept
    jira = world.jira.user_by_name(ALAN)
    assert jira is not None and jira["active"] is False and not jira.get("deleted")
    agent = world.zendesk.user_by_email(ALAN)
    assert agent is not None and agent["suspended"] is True
    assert agent["active"] is True  # suspended through `suspended`, never deleted
    listed = {user["email"] for user in world.zendesk.users(include_deleted=False)}
    assert ALAN in listed
    example.in_sync()


def test_beacon_mover_gains_the_charge_nurse_role_and_admin_group(example: Example) -> None:
    world = example.world
    example.apply()
    before, groups = world.care_account("mary.seacole@orion.example")
    assert [role["value"] for role in before["roles"]] == ["nurse"]
    assert groups == {"ward-staff"}

    world.change_in_salesforce("mary.seacole@orion.example", {"UserRole.Name": "Charge Nurse"})
    example.apply()
    after, groups = world.care_account("mary.seacole@orion.example")
    assert after["id"] == before["id"]
    assert [role["value"] for role in after["roles"]] == ["charge-nurse"]
    assert groups == {"ward-staff", "ward-admins"}
    example.in_sync()


def test_stratos_contractor_is_suspended_the_day_the_contract_ends(example: Example) -> None:
    world = example.world
    example.apply()
    (slack,) = example.slack_users(DOROTHY)
    assert slack["active"]
    other_before = world.jira.user_by_name("katherine.johnson@orion.example")
    assert other_before is not None and other_before["active"]

    today = datetime.datetime.now(datetime.UTC).date().isoformat()
    world.change_in_salesforce(DOROTHY, {"Contractor_End_Date__c": today})
    example.apply()
    (slack,) = example.slack_users(DOROTHY)
    assert slack["active"] is False
    jira = world.jira.user_by_name(DOROTHY)
    assert jira is not None and jira["active"] is False
    assert world.jira.user_by_name("katherine.johnson@orion.example") == other_before
    assert world.salesforce_id(DOROTHY)  # still an active user in Salesforce
    example.in_sync()
