"""Desired state from users and rules: grants, attributes, and who counts as inactive when."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import pytest

from controller import desired
from controller.model import SourceRead, SourceUserId
from controller.policy import NamedRule, NamedSource, Policy
from controller.policy.schema import AccessRuleSpec, ConnectedAppSpec, SourceSpec
from controller.sources.base import user_from_fields

NOW = datetime.datetime(2026, 11, 28, 12, 0, tzinfo=datetime.UTC)


def make_policy(rules: list[dict[str, Any]], **source: Any) -> Policy:
    app = ConnectedAppSpec.model_validate(
        {
            "type": "scim",
            "endpoint": "http://127.0.0.1:1/v2",
            "attributes": {
                "userName": "{{ user.Email | lower }}",
                "title": "{{ user.Title }}",
                "displayName": "{{ user.FirstName }} {{ user.LastName }}",
            },
        }
    )
    return Policy(
        directory=Path("."),
        revision="test",
        sources=(
            NamedSource(
                "org", SourceSpec.model_validate({"file": {"path": "x"}, **source}), Path(".")
            ),
        ),
        apps={"tool": app},
        rules=tuple(
            NamedRule(f"rule{i}", AccessRuleSpec.model_validate(rule))
            for i, rule in enumerate(rules)
        ),
    )


def user(uid: str, **fields: Any) -> Any:
    base = {
        "Id": uid,
        "Username": f"{uid}@x",
        "Email": f"{uid.upper()}@X",
        "FirstName": "F",
        "LastName": "L",
        "Title": None,
    }
    base.update(fields)
    return user_from_fields(base)


def read(*users: Any, error: str | None = None) -> SourceRead:
    return SourceRead("org", tuple(users), NOW, error=error)


ENG = {"when": {"department": ["Engineering"]}, "grant": [{"app": "tool", "groups": ["eng"]}]}


def test_rule_grants_account_with_rendered_attributes_and_groups() -> None:
    result = desired.evaluate(
        make_policy([ENG]),
        read(user("a", Department="Engineering", Title="Dev")),
        now=NOW,
    )
    account = result.apps["tool"].accounts[SourceUserId("a")]
    assert account.active
    assert account.attributes == {"userName": "a@x", "title": "Dev", "displayName": "F L"}
    assert account.groups == {"eng"}
    assert result.apps["tool"].managed_groups == {"eng"}


def test_user_no_rule_selects_has_no_account_but_is_known() -> None:
    result = desired.evaluate(make_policy([ENG]), read(user("a", Department="Sales")), now=NOW)
    assert result.apps["tool"].accounts == {}
    assert result.apps["tool"].known_source_ids == {"a"}


def test_empty_field_renders_as_no_value() -> None:
    result = desired.evaluate(
        make_policy([ENG]), read(user("a", Department="Engineering", Title=None)), now=NOW
    )
    assert result.apps["tool"].accounts[SourceUserId("a")].attributes["title"] is None


def test_every_condition_must_hold_and_any_value_within_one() -> None:
    rule = {
        "when": {"profile": ["Clinical User"], "role": ["Floor Nurse", "Charge Nurse"]},
        "grant": [{"app": "tool", "role": "nurse"}],
    }
    users = read(
        user("a", Profile={"Name": "Clinical User"}, UserRole={"Name": "Charge Nurse"}),
        user("b", Profile={"Name": "Clinical User"}, UserRole={"Name": "Porter"}),
        user("c", Profile={"Name": "Standard User"}, UserRole={"Name": "Floor Nurse"}),
    )
    accounts = desired.evaluate(make_policy([rule]), users, now=NOW).apps["tool"].accounts
    assert set(accounts) == {"a"}
    assert accounts[SourceUserId("a")].attributes["role"] == "nurse"


def test_permission_set_and_custom_field_conditions() -> None:
    rule = {
        "when": {"permissionSet": ["Jira Admin"], "fields": {"Region__c": ["EMEA"]}},
        "grant": [{"app": "tool", "groups": ["admins"]}],
    }
    users = read(
        user("a", PermissionSets=["Jira Admin"], Region__c="EMEA"),
        user("b", PermissionSets=["Jira Admin"], Region__c="APAC"),
        user("c", Region__c="EMEA"),
    )
    accounts = desired.evaluate(make_policy([rule]), users, now=NOW).apps["tool"].accounts
    assert set(accounts) == {"a"}


@pytest.mark.parametrize(
    ("fields", "active", "state"),
    [
        ({"IsActive": False}, False, "inactive"),
        ({"IsFrozen": True}, False, "frozen"),
        ({"End__c": "2026-11-28"}, False, "inactive"),  # the end date itself: access has ended
        ({"End__c": datetime.date(2026, 11, 29)}, True, "active"),
        ({}, True, "active"),
    ],
)
def test_who_counts_as_inactive(fields: dict[str, Any], active: bool, state: str) -> None:
    policy = make_policy([ENG], accessEndsField="End__c")
    result = desired.evaluate(policy, read(user("a", Department="Engineering", **fields)), now=NOW)
    assert result.apps["tool"].accounts[SourceUserId("a")].active is active
    assert result.users[SourceUserId("a")].state == state
    ended = "End__c" in fields and not active
    assert desired.end_date_passed(result.users[SourceUserId("a")].reason) is ended


def test_template_failure_leaves_the_user_unresolved_not_deprovisioned() -> None:
    policy = make_policy([ENG])
    broken = policy.apps["tool"].model_copy(
        update={"attributes": {"userName": "{{ user.NoSuchField }}"}}
    )
    policy = Policy(policy.directory, "t", policy.sources, {"tool": broken}, policy.rules)
    result = desired.evaluate(policy, read(user("a", Department="Engineering")), now=NOW)
    assert result.apps["tool"].accounts == {}
    assert result.apps["tool"].unresolved == {"a"}
    assert result.problems and "NoSuchField" in result.problems[0]


def test_a_template_writing_an_object_leaves_the_user_unresolved_and_writes_nothing() -> None:
    policy = make_policy([ENG])
    title = "{% if user.FirstName == 'Ada' %}{{ user.UserRole }}{% endif %}"
    app = policy.apps["tool"]
    app = app.model_copy(update={"attributes": {**app.attributes, "title": title}})
    policy = Policy(policy.directory, "t", policy.sources, {"tool": app}, policy.rules)
    users = [
        user(uid, FirstName=name, Department="Engineering", UserRole={"Name": "Lead"})
        for uid, name in (("a", "Ada"), ("b", "Bo"))
    ]
    result = desired.evaluate(policy, read(*users), now=NOW)
    assert list(result.apps["tool"].accounts) == ["b"]
    assert result.apps["tool"].accounts[SourceUserId("b")].attributes["title"] is None
    assert result.apps["tool"].unresolved == {"a"}
    assert result.problems == (
        "tool: user a: user.UserRole is a related record, not a value; write "
        "{{ user.UserRole.Name }} instead; the account is left as it is",
    )


def test_failed_read_marks_every_app_incomplete() -> None:
    result = desired.evaluate(make_policy([ENG]), read(error="boom"), now=NOW)
    assert result.apps["tool"].source_complete is False
