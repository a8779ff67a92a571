"""validate, plan and apply through the real CLI against a real SCIM server (scim2-server).

Each test asserts on what an operator sees: the exit code, the planned operations, and the
accounts and groups the app holds afterwards.
"""

from __future__ import annotations

from tests.e2e.conftest import World, make_users

SCIM_USER = "urn:ietf:params:scim:schemas:core:2.0:User"


def test_initial_provisioning_of_240_users_with_groups(world: World) -> None:
    world.write_users(make_users(240))
    code, document = world.plan_json()
    assert code == 2
    kinds = [op["kind"] for op in document["apps"][0]["operations"]]
    assert kinds.count("create") == 160
    assert kinds.count("create_group") == 3

    done = world.cli("apply")
    assert done.returncode == 0, done.stdout + done.stderr
    # 3 groups, 160 accounts and 320 memberships, each its own operation.
    assert "tool: 483 succeeded, 0 failed, 0 skipped" in done.stdout

    accounts = world.accounts()
    assert len(accounts) == 160
    ada = accounts["user0@org.example"]
    assert ada["externalId"] == "005Hs00000E2E00000"
    assert ada["active"] is True
    assert ada["displayName"] == "First0 Last0"
    members = world.members()
    assert len(members["eng"]) == 80
    assert len(members["support"]) == 80
    assert len(members["everyone"]) == 160
    assert "user2@org.example" not in members["everyone"]  # Sales has no grant

    again = world.cli("plan")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "No changes" in again.stdout


def test_attribute_change_in_the_source_gives_exactly_one_update(provisioned: World) -> None:
    provisioned.edit_user(0, Title="Staff Engineer")
    assert provisioned.operations() == [("update", "user0@org.example", None)]
    assert provisioned.cli("apply").returncode == 0
    assert provisioned.accounts()["user0@org.example"]["title"] == "Staff Engineer"
    assert provisioned.cli("plan").returncode == 0


def test_deactivated_user_gives_exactly_one_suspend(provisioned: World) -> None:
    provisioned.edit_user(1, IsActive=False)
    assert provisioned.operations() == [("suspend", "user1@org.example", None)]
    assert provisioned.cli("apply").returncode == 0
    accounts = provisioned.accounts()
    assert accounts["user1@org.example"]["active"] is False
    assert accounts["user0@org.example"]["active"] is True
    assert provisioned.cli("plan").returncode == 0


def test_changed_grant_gives_the_membership_changes(provisioned: World) -> None:
    provisioned.edit_user(0, Department="Support")  # Engineering -> Support
    assert sorted(provisioned.operations()) == [
        ("add_member", "user0@org.example", "support"),
        ("remove_member", "user0@org.example", "eng"),
    ]
    assert provisioned.cli("apply").returncode == 0
    members = provisioned.members()
    assert "user0@org.example" in members["support"]
    assert "user0@org.example" not in members["eng"]
    assert "user0@org.example" in members["everyone"]


def test_orphan_account_is_reported_and_not_touched(provisioned: World) -> None:
    created = provisioned.scim.post(
        "/Users", json={"schemas": [SCIM_USER], "userName": "stranger@elsewhere.example"}
    )
    assert created.status_code == 201
    code, document = provisioned.plan_json()
    assert code == 0
    (app,) = document["apps"]
    assert [o["userName"] for o in app["orphans"]] == ["stranger@elsewhere.example"]
    assert app["drift"]["orphaned"] == 1
    assert provisioned.cli("apply").returncode == 0
    stranger = provisioned.accounts()["stranger@elsewhere.example"]
    assert stranger["meta"]["version"] == created.json()["meta"]["version"]


def test_account_differing_only_in_case_is_linked_not_duplicated(world: World) -> None:
    created = world.scim.post(
        "/Users", json={"schemas": [SCIM_USER], "userName": "USER0@Org.Example"}
    )
    assert created.status_code == 201
    operations = world.operations()
    assert ("link", "user0@org.example", None) in operations
    assert ("create", "user0@org.example", None) not in operations

    assert world.cli("apply").returncode == 0
    matching = [
        a for a in world.accounts().values() if a["userName"].lower() == "user0@org.example"
    ]
    assert len(matching) == 1
    assert matching[0]["id"] == created.json()["id"]
    assert matching[0]["externalId"] == "005Hs00000E2E00000"
    assert world.cli("plan").returncode == 0


def test_plan_changes_nothing(world: World) -> None:
    assert world.cli("plan").returncode == 2
    assert world.accounts() == {}
    assert world.listing("Groups") == []


def test_unreachable_app_is_an_error_and_plans_nothing(world: World) -> None:
    world.env["TOOL_SCIM_URL"] = "http://127.0.0.1:9/v2"
    done = world.cli("plan")
    assert done.returncode == 1
    assert "tool: ERROR" in done.stdout


def test_wrong_token_is_an_error_that_does_not_print_the_token(world: World) -> None:
    world.env["TOOL_SCIM_TOKEN"] = "wrong-secret-value"
    done = world.cli("apply")
    assert done.returncode == 1
    assert "wrong-secret-value" not in done.stdout + done.stderr
    assert world.accounts() == {}


def test_a_template_writing_a_related_record_writes_nothing_for_that_user(world: World) -> None:
    """`validate` renders each template for a sample user; an object reached only on another
    branch is a per-user error at run time: that user's account is not planned, never written."""
    title = (
        "title: \"{% if user.Department == 'Support' %}{{ user.UserRole }}"
        '{% else %}{{ user.Title }}{% endif %}"'
    )
    policy = world.policy / "policy.yaml"
    policy.write_text(policy.read_text().replace('title: "{{ user.Title }}"', title))
    users = make_users(6)
    for user in users:
        user["UserRole"] = {"Name": "Agent"}
    world.write_users(users)
    assert world.cli("validate").returncode == 0

    done = world.cli("apply")
    output = done.stdout + done.stderr
    assert done.returncode == 0, output  # a per-user problem, like any other render error
    assert "warning: tool: user 005Hs00000E2E00001: user.UserRole is a related record" in output, (
        output
    )
    accounts = world.accounts()
    assert sorted(accounts) == ["user0@org.example", "user3@org.example"]  # Engineering only
    assert {account["title"] for account in accounts.values()} == {"Engineer"}
    assert "object at 0x" not in output
