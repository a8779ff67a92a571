"""Slack's rules met end to end: name collisions, returning users, and a storm of 429s."""

from __future__ import annotations

import json
from pathlib import Path

from emulators.limits import Limit
from emulators.slack import SlackLimits, SlackSettings
from emulators.zendesk import ZendeskSettings
from tests.e2e.example import running_example

GRACE = "grace.hopper@orion.example"


def test_a_returning_user_gets_their_deactivated_account_back(tmp_path: Path) -> None:
    with running_example(tmp_path) as example:
        example.apply()
        (first,) = example.slack_users(GRACE)
        example.world.change_in_salesforce(GRACE, {"IsActive": False})
        example.apply()
        (gone,) = example.slack_users(GRACE)
        assert gone["id"] == first["id"] and gone["active"] is False
        # Slack may not hand the externalId back: only the email still ties the account to her.
        example.world.slack.edit_user(first["id"], externalId="")

        example.world.change_in_salesforce(GRACE, {"IsActive": True})
        example.apply()
        (back,) = example.slack_users(GRACE)  # one account: reactivated, not re-created
        assert back["id"] == first["id"] and back["active"] is True
        assert example.slack_groups(back) == {"eng", "all-hands"}
        example.in_sync()


def test_user_name_collisions_do_not_stop_the_rest(tmp_path: Path) -> None:
    with running_example(tmp_path) as example:
        world = example.world
        world.hire_in_salesforce(
            {
                "Username": "grace.hopper@stratos.example",
                "Email": "grace.hopper@stratos.example",
                "FirstName": "Grace",
                "LastName": "Hopper",
                "Profile": {"Name": "Contractor"},
                "Title": "Contractor",
                "Department": "Engineering",
            }
        )
        world.hire_in_salesforce(
            {
                "Username": "general@orion.example",  # #general is a channel: name taken
                "Email": "general@orion.example",
                "FirstName": "Gen",
                "LastName": "Eral",
                "Profile": {"Name": "Standard User"},
                "Department": "Engineering",
            }
        )
        plan = example.cli("plan")
        assert "userName collision: 2 users derive 'grace.hopper'" in plan.stdout

        done = example.cli("apply")
        assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-3000:]
        assert "Traceback" not in done.stderr
        assert "username_taken" in done.stdout
        (ours,) = example.slack_users(GRACE)
        (theirs,) = example.slack_users("grace.hopper@stratos.example")
        assert ours["userName"] == "grace.hopper"
        assert theirs["userName"].startswith("grace.hopper_") and theirs["active"]
        assert example.slack_users("general@orion.example") == []
        jira = world.jira.user_by_name("general@orion.example")
        assert jira is not None and jira["active"]  # the other apps are not held back


def test_a_429_storm_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    slack = SlackSettings(token="storm-slack", limits=SlackLimits(org_writes=Limit(300, 3)))
    zendesk = ZendeskSettings(token="storm-zendesk", plan_limit=Limit(240, 3))
    with running_example(tmp_path, slack=slack, zendesk=zendesk) as example:
        plan = example.cli("plan", "--format", "json")
        assert plan.returncode == 2, plan.stdout[-3000:] + plan.stderr[-3000:]
        creates = {
            app["app"]: sum(1 for op in app["operations"] if op["kind"] == "create")
            for app in json.loads(plan.stdout)["apps"]
        }
        example.apply()
        world = example.world
        assert world.slack.limiter.refused > 0 and world.zendesk.limiter.refused > 0
        slack_emails = [u["emails"][0]["value"] for u in world.slack.users()]
        assert len(slack_emails) == len(set(slack_emails)) == creates["slack"]
        zendesk_emails = [u["email"] for u in world.zendesk.users()]
        assert len(zendesk_emails) == len(set(zendesk_emails)) == creates["zendesk"]
        example.in_sync()
