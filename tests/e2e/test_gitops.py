"""The pull-request workflow: a plan as a Markdown comment, and `diff` between two commits.

Both run the real CLI against a real SCIM app. The Markdown plan is compared with a golden file
(regenerate it with `UPDATE_GOLDEN=1 pytest tests/e2e/test_gitops.py` and review the change);
`diff` runs in a real git repository made in a temporary folder.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from tests.e2e.conftest import World
from tests.gitrepo import SALES_RULE, commit, init

GOLDEN = Path(__file__).parent / "golden" / "plan.md"


def joiner(number: int) -> dict[str, Any]:
    return {
        "Id": f"005Hs00000NEW{number:05d}",
        "Username": f"new{number}@org.example",
        "Email": f"New{number}@org.example",
        "FirstName": f"New{number}",
        "LastName": "Joiner",
        "IsActive": True,
        "Department": "Engineering",
        "Title": "Engineer",
    }


def test_the_markdown_plan_matches_the_golden_file(provisioned: World) -> None:
    users = provisioned.users()
    users[0]["Title"] = "Staff Engineer"  # an update, shown field by field
    users[1]["Department"] = "Engineering"  # a mover: Support's groups for Engineering's
    users[3]["IsActive"] = users[4]["IsActive"] = False  # two leavers, held below
    users += [joiner(n) for n in range(25)]  # more than the 20 accounts listed per app
    provisioned.write_users(users)
    provisioned.env["MAX_DEPROVISIONS"] = "1"

    done = provisioned.cli("plan", "--format", "markdown")

    assert done.returncode == 2, done.stderr
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.write_text(done.stdout)
    assert done.stdout == GOLDEN.read_text()


def test_diff_lists_exactly_the_accounts_a_policy_change_affects(provisioned: World) -> None:
    repo = provisioned.policy
    init(repo)
    provisioned.edit_user(0, Title="Staff Engineer")  # drift both revisions fix alike
    commit(repo, "base")
    policy = repo / "policy.yaml"
    support = "grant: [{app: tool, groups: [support, everyone]}]"
    text = policy.read_text()
    assert support in text
    policy.write_text(
        text.replace(support, support.replace("everyone]", "everyone, helpdesk]")) + SALES_RULE
    )
    commit(repo, "head: Sales get the tool, Support get helpdesk")

    done = provisioned.cli("diff", "--base", "HEAD~1", "--head", "HEAD", "--format", "json")

    assert done.returncode == 2, done.stderr + done.stdout
    document = json.loads(done.stdout)
    (app,) = document["apps"]
    affected = {entry["account"]: entry for entry in app["accounts"]}
    users = provisioned.users()
    sales = {u["Email"].lower() for u in users if u["Department"] == "Sales"}
    support_users = {u["Email"].lower() for u in users if u["Department"] == "Support"}
    assert set(affected) == sales | support_users | {"group sales", "group helpdesk"}
    assert document["affectedAccounts"] == len(sales) + len(support_users) + 2
    someone = affected[min(sales)]
    assert someone["base"] == []
    assert [op["kind"] for op in someone["head"]] == ["create", "add_member"]
    helper = affected[min(support_users)]
    assert [(op["kind"], op["group"]) for op in helper["head"]] == [("add_member", "helpdesk")]
    assert document["base"]["revision"] != document["head"]["revision"]
    # Nothing was written: the app still has only the base's accounts.
    assert not sales & set(provisioned.accounts())

    same = provisioned.cli("diff", "--base", "HEAD", "--head", "HEAD")
    assert same.returncode == 0, same.stderr
    assert "No difference" in same.stdout

    markdown = provisioned.cli("diff", "--base", "HEAD~1", "--format", "markdown")
    assert markdown.returncode == 2
    assert "| Account | At base | At head |" in markdown.stdout
    assert f"**{len(affected)} accounts affected in 1 app.**" in markdown.stdout


def test_diff_names_the_revision_that_is_invalid(provisioned: World) -> None:
    repo = provisioned.policy
    init(repo)
    commit(repo, "base")
    policy = repo / "policy.yaml"
    policy.write_text(policy.read_text().replace("type: scim", "type: scum"))
    commit(repo, "broken")

    done = provisioned.cli("diff", "--base", "HEAD~1", "--head", "HEAD")

    assert done.returncode == 1
    assert "head (HEAD)/policy.yaml:11: spec.type: Input should be 'scim'" in done.stderr
    unknown = provisioned.cli("diff", "--base", "no-such-branch")
    assert unknown.returncode == 1
    assert "'no-such-branch' is not a commit" in unknown.stderr
