"""The example policy end to end: a read that fails on Salesforce's API limit changes nothing.

The back-off it starts is kept in the state directory: the next `plan`, in a new process,
calls Salesforce not once and says when it will.

Even when a user really was deactivated meanwhile, nothing moves in any app until Salesforce can
be read again; then exactly that user is suspended, in every app that has them.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from tests.e2e.example import Example, running_example

GRACE = "grace.hopper@orion.example"
BACKOFF_FILE = "salesforce-backoff-salesforce.json"


def _admin(example: Example, path: str, body: dict[str, object]) -> None:
    url = f"{example.world.salesforce_url}/_emulator{path}"
    httpx.post(url, json=body).raise_for_status()


def _active(example: Example) -> dict[str, bool]:
    world = example.world
    slack = {f"slack:{u['userName']}": u["active"] for u in world.slack.users()}
    jira = {f"jira:{u['userName']}": u["active"] for u in world.jira.users()}
    zendesk = {f"zendesk:{u['email']}": not u["suspended"] for u in world.zendesk.users()}
    return {**slack, **jira, **zendesk}


def test_api_limit_changes_nothing_then_only_the_leaver_is_suspended(tmp_path: Path) -> None:
    with running_example(tmp_path) as example:
        example.apply()
        before = _active(example)
        assert before["slack:grace.hopper"] is True

        example.world.change_in_salesforce(GRACE, {"IsActive": False})
        _admin(example, "/limits", {"max": 15000, "used": 15000})
        blocked = example.cli("apply")
        assert blocked.returncode == 1
        assert "REQUEST_LIMIT_EXCEEDED" in blocked.stdout
        assert _active(example) == before

        _admin(example, "/limits", {"max": 15000, "used": 0})
        backoff = Path(example.environ["PROVISIONER_STATE_DIR"]) / BACKOFF_FILE
        assert backoff.is_file()
        asked = example.world.requests("salesforce").mark()
        waiting = example.cli("plan")  # a new process honours the back-off the apply began
        assert waiting.returncode == 1, waiting.stdout + waiting.stderr
        assert "REQUEST_LIMIT_EXCEEDED at " in waiting.stdout
        assert "not calling Salesforce until 20" in waiting.stdout
        assert example.world.requests("salesforce").entries(since=asked) == []  # not one call

        backoff.unlink()  # an operator who raised the limit ends the back-off early
        plan = example.cli("plan", "--format", "json")
        assert plan.returncode == 2, plan.stdout + plan.stderr
        operations = [
            (app["app"], op["kind"], op["userName"])
            for app in json.loads(plan.stdout)["apps"]
            for op in app["operations"]
        ]
        assert sorted(operations) == [
            ("jira", "suspend", GRACE),
            ("slack", "suspend", "grace.hopper"),
        ]
        example.apply()
        after = _active(example)
        assert after.pop("slack:grace.hopper") is False
        assert after.pop(f"jira:{GRACE}") is False
        before.pop("slack:grace.hopper")
        before.pop(f"jira:{GRACE}")
        assert after == before


def test_plan_keeps_the_back_off_it_began_but_creates_no_journal(tmp_path: Path) -> None:
    """`plan` only reads the journal; the one thing it writes in the state directory is the
    API-limit back-off, so that the next process does not spend the org's allowance again."""
    with running_example(tmp_path) as example:
        state = Path(example.environ["PROVISIONER_STATE_DIR"])
        _admin(example, "/limits", {"max": 15000, "used": 15000})
        limited = example.cli("plan")
        assert limited.returncode == 1, limited.stdout + limited.stderr
        assert "REQUEST_LIMIT_EXCEEDED" in limited.stdout
        assert sorted(p.name for p in state.iterdir()) == [BACKOFF_FILE]
