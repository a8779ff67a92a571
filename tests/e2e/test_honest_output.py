"""Output that never says all is well when it is not (issue 15, DESIGN.md section 6 rule 8).

A failed source read and an app that cannot be read, through the real CLI, in every format:
what failed is named, removals or the app's plan are withheld, no account is called an orphan
for want of a source, and nothing claims "every app is in sync". Exit codes stay those of
DESIGN.md section 5 (plan: 1 on any error).
"""

from __future__ import annotations

import json

import pytest

from emulators.serving import free_port
from tests.e2e.conftest import World, make_users
from tests.gitrepo import commit, init

IN_SYNC_CLAIM = "every app is in sync"
SCIM_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GHOST = """\
apiVersion: provisioner/v1
kind: ConnectedApp
metadata: {{name: ghost}}
spec:
  type: scim
  endpoint: http://127.0.0.1:{port}/scim/v2
  auth: {{bearerTokenEnv: TOOL_SCIM_TOKEN}}
  attributes:
    userName: "{{{{ user.Email | lower }}}}"
---
apiVersion: provisioner/v1
kind: AccessRule
metadata: {{name: everyone-in-ghost}}
spec:
  when: {{department: [Engineering]}}
  grant: [{{app: ghost}}]
"""


@pytest.fixture
def broken_source(provisioned: World) -> World:
    provisioned.users_file.write_text("users: [{Id: 005Hs00000E2E00001, Email: [unclosed\n")
    return provisioned


@pytest.fixture
def with_ghost(provisioned: World) -> World:
    """A second app nothing listens for: it cannot be read."""
    (provisioned.policy / "ghost.yaml").write_text(GHOST.format(port=free_port()))
    return provisioned


def test_a_failed_source_read_withholds_removals_and_calls_nobody_an_orphan(
    broken_source: World,
) -> None:
    done = broken_source.cli("plan")
    assert done.returncode == 1, done.stdout + done.stderr
    text = done.stdout
    assert "READ FAILED" in text
    assert "Source org could not be read: removals are withheld in every app" in text
    assert "removals withheld (source read incomplete)" in text
    assert "? orphan" not in text
    assert IN_SYNC_CLAIM not in text and "No changes" not in text

    document = json.loads(broken_source.cli("plan", "--format", "json").stdout)
    assert document["inSync"] is False and document["sourceComplete"] is False
    assert document["removalsWithheld"] is True
    (tool,) = document["apps"]
    assert tool["status"] == "removals_withheld"
    assert tool["orphans"] == [] and tool["orphansReported"] is False
    assert "orphaned" not in tool["drift"]

    markdown = broken_source.cli("plan", "--format", "markdown").stdout
    assert "could not be read" in markdown and "removals are withheld" in markdown
    assert IN_SYNC_CLAIM not in markdown and "No changes" not in markdown


def test_apply_after_a_failed_source_read_says_so_and_changes_nothing(
    broken_source: World,
) -> None:
    before = broken_source.accounts()
    done = broken_source.cli("apply")
    assert done.returncode == 1
    assert "removals are withheld in every app" in done.stdout
    assert "? orphan" not in done.stdout and IN_SYNC_CLAIM not in done.stdout
    assert broken_source.accounts() == before


def test_an_unreadable_app_is_withheld_and_the_closing_line_names_it(with_ghost: World) -> None:
    done = with_ghost.cli("plan")
    assert done.returncode == 1, done.stdout + done.stderr
    text = done.stdout
    assert "ghost: ERROR: could not observe the app" in text
    assert "plan withheld" in text
    closing = text.rstrip().splitlines()[-2:]
    assert closing[0] == "No changes in tool: in sync with the policy."
    assert closing[1].startswith("1 of 2 apps could not be planned: ghost (GET /")
    assert closing[1].endswith("; nothing would be changed there.")
    assert IN_SYNC_CLAIM not in text

    document = json.loads(with_ghost.cli("plan", "--format", "json").stdout)
    status = {app["app"]: app["status"] for app in document["apps"]}
    assert status == {"tool": "in_sync", "ghost": "withheld"}
    (withheld,) = document["withheld"]
    assert withheld["app"] == "ghost" and "could not observe" in withheld["error"]
    assert document["inSync"] is False

    markdown = with_ghost.cli("plan", "--format", "markdown").stdout
    assert "#### ghost: plan withheld" in markdown
    assert "1 of 2 apps could not be planned: ghost" in markdown
    assert IN_SYNC_CLAIM not in markdown


def test_apply_beside_an_unreadable_app_ends_by_naming_it(with_ghost: World) -> None:
    with_ghost.write_users(make_users(27))  # two joiners for tool
    done = with_ghost.cli("apply")
    assert done.returncode == 1
    assert "tool: 6 succeeded, 0 failed, 0 skipped" in done.stdout
    last = done.stdout.rstrip().splitlines()[-1]
    assert last.startswith("1 of 2 apps could not be planned: ghost (")
    assert last.endswith("; nothing was changed there.")
    assert len(with_ghost.accounts()) == 18


def test_diff_does_not_call_an_unread_app_or_source_unchanged(with_ghost: World) -> None:
    init(with_ghost.policy)
    commit(with_ghost.policy, "base and head alike")

    done = with_ghost.cli("diff", "--base", "HEAD", "--head", "HEAD")
    assert done.returncode == 1
    verdict = done.stdout.rstrip().splitlines()[-1]
    assert verdict.startswith("No difference found in what could be read.")
    assert "1 of 2 apps could not be read (ghost)" in verdict
    assert "exactly what base would" not in done.stdout

    with_ghost.users_file.write_text("users: [{Id: 005Hs00000E2E00001, Email: [unclosed\n")
    commit(with_ghost.policy, "a broken export")
    document = json.loads(with_ghost.cli("diff", "--base", "HEAD", "--format", "json").stdout)
    assert document["complete"] is False
    assert any("the source org could not be read" in line for line in document["unknown"])


def test_an_untrusted_read_calls_nobody_an_orphan_and_nothing_in_sync(provisioned: World) -> None:
    provisioned.write_users([])  # read fine, but zero active users: rule 1 distrusts it
    done = provisioned.cli("plan")
    assert done.returncode == 2, done.stdout + done.stderr  # held, as DESIGN.md section 5 says
    assert "SAFETY: the source read returned zero active users" in done.stdout
    assert "Source org cannot be trusted: removals are withheld in every app" in done.stdout
    assert "? orphan" not in done.stdout and IN_SYNC_CLAIM not in done.stdout
    (tool,) = json.loads(provisioned.cli("plan", "--format", "json").stdout)["apps"]
    assert tool["status"] == "removals_withheld" and tool["orphans"] == []


def test_names_are_shown_as_written_and_escapes_from_an_app_are_not(provisioned: World) -> None:
    """`José Müller 😀` reads as written in text and Markdown, and JSON stays valid; a terminal
    escape or a bidirectional override an app holds is shown as `\\uXXXX`, never acted on."""
    provisioned.edit_user(0, FirstName="José", LastName="Müller 😀")
    account = provisioned.accounts()["user3@org.example"]
    hostile = "\x1b[2J\x1b]0;owned\x07\u202eevil"
    patched = provisioned.scim.put(f"/Users/{account['id']}", json={**account, "title": hostile})
    assert patched.status_code == 200, patched.text
    stranger = "\x1b[31mstranger\x9b@elsewhere.example"
    created = provisioned.scim.post(
        "/Users", json={"schemas": [SCIM_USER], "userName": stranger, "active": True}
    )
    assert created.status_code == 201, created.text

    done = provisioned.cli("plan")
    assert done.returncode == 2, done.stdout + done.stderr
    text = done.stdout
    assert 'displayName: "First0 Last0" -> "José Müller 😀"' in text
    assert "\\u00e9" not in text and "\\ud83d" not in text
    assert 'title: "\\u001b[2J\\u001b]0;owned\\u0007\\u202eevil" -> "Engineer"' in text
    assert "? orphan        \\u001b[31mstranger\\u009b@elsewhere.example (active;" in text
    assert not any((ord(c) < 32 and c != "\n") or 0x7F <= ord(c) <= 0x9F for c in text)
    assert "\u202e" not in text

    markdown = provisioned.cli("plan", "--format", "markdown").stdout
    assert "José Müller 😀" in markdown
    assert "\x1b" not in markdown and "\u202e" not in markdown

    document = json.loads(provisioned.cli("plan", "--format", "json").stdout)
    (tool,) = document["apps"]
    changes = {
        change["attribute"]: change["after"]
        for op in tool["operations"]
        for change in op["changes"]
    }
    assert changes["displayName"] == "José Müller 😀"
    assert {orphan["userName"] for orphan in tool["orphans"]} == {stranger}
