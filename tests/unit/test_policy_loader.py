"""The policy loader: a valid directory becomes a Policy; every problem is reported at its line."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest

from controller.errors import PolicyError
from controller.policy import Policy
from controller.policy.loader import load_policy

SUPPORTED = {
    "scim": frozenset(
        {"userName", "displayName", "name.givenName", "name.familyName", "emails.work"}
        | {"title", "role"}
    )
}

SOURCE = """\
apiVersion: provisioner/v1
kind: Source
metadata: {name: org}
spec:
  file: {path: users.yaml}
  accessEndsField: Contractor_End_Date__c
"""

APPS = """\
apiVersion: provisioner/v1
kind: ConnectedApp
metadata: {name: slack}
spec:
  type: scim
  endpoint: ${SLACK_SCIM_URL:-http://127.0.0.1:9201/v2}
  auth: {bearerTokenEnv: SLACK_SCIM_TOKEN}
  match: [externalId, userName, email]
  attributes:
    userName: "{{ user.Email | lower }}"
    displayName: "{{ user.FirstName }} {{ user.LastName }}"
---
apiVersion: provisioner/v1
kind: ConnectedApp
metadata: {name: jira}
spec:
  type: scim
  endpoint: https://jira.example/scim/v2
  attributes: {userName: "{{ user.Username }}"}
  deprovision: {action: delete}
"""

RULES = """\
apiVersion: provisioner/v1
kind: AccessRule
metadata: {name: engineering}
spec:
  when: {department: [Engineering]}
  grant:
    - {app: slack, groups: [eng, all-hands]}
---
---
apiVersion: provisioner/v1
kind: AccessRule
metadata: {name: support}
spec:
  grant:
    - {app: jira, role: agent}
"""


def write(directory: Path, files: Mapping[str, str]) -> None:
    for name, text in files.items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def valid(directory: Path) -> Path:
    write(
        directory,
        {
            "source.yaml": SOURCE,
            "users.yaml": "users: []\n",
            "apps.yml": APPS,
            "teams/rules.yaml": RULES,
        },
    )
    return directory


def load(directory: Path, environ: Mapping[str, str] | None = None) -> Policy:
    return load_policy(directory, environ=environ or {}, supported_attributes=SUPPORTED)


def errors(directory: Path, environ: Mapping[str, str] | None = None) -> list[str]:
    with pytest.raises(PolicyError) as raised:
        load(directory, environ)
    assert str(raised.value) == "\n".join(raised.value.errors)
    return raised.value.errors


def test_a_valid_policy_in_several_files_loads(tmp_path: Path) -> None:
    policy = load(valid(tmp_path))

    assert policy.directory == tmp_path
    assert [(source.name, source.base_dir) for source in policy.sources] == [("org", tmp_path)]
    assert policy.sources[0].spec.file is not None
    assert policy.sources[0].spec.file.path == "users.yaml"
    assert policy.sources[0].spec.access_ends_field == "Contractor_End_Date__c"
    assert list(policy.apps) == ["slack", "jira"]
    slack = policy.apps["slack"]
    assert slack.endpoint == "http://127.0.0.1:9201/v2"
    assert slack.auth.bearer_token_env == "SLACK_SCIM_TOKEN"
    assert slack.attributes["displayName"] == "{{ user.FirstName }} {{ user.LastName }}"
    assert policy.apps["jira"].deprovision.action == "delete"
    assert [rule.name for rule in policy.rules] == ["engineering", "support"]
    assert policy.rules[0].spec.when.department == ["Engineering"]
    assert [(g.app, g.groups) for g in policy.rules[0].spec.grant] == [
        ("slack", ["eng", "all-hands"])
    ]
    assert policy.rules[1].spec.grant[0].role == "agent"


def test_a_source_in_a_subdirectory_reads_its_users_file_from_there(tmp_path: Path) -> None:
    write(tmp_path, {"apps.yaml": APPS, "rules.yaml": RULES})
    write(tmp_path, {"org/source.yaml": SOURCE, "org/users.yaml": "users: []\n"})

    policy = load(tmp_path)

    assert policy.sources[0].base_dir == tmp_path / "org"


def test_the_revision_is_stable_and_follows_the_files(tmp_path: Path) -> None:
    first = load(valid(tmp_path)).revision
    assert len(first) == 12
    assert int(first, 16) >= 0
    assert load(tmp_path).revision == first
    # The users file is data, not policy: editing it does not change the revision.
    write(tmp_path, {"users.yaml": "users: [] # edited\n"})
    assert load(tmp_path).revision == first

    write(tmp_path, {"teams/rules.yaml": RULES + "# a comment\n"})
    assert load(tmp_path).revision != first


def test_environment_references_are_expanded(tmp_path: Path) -> None:
    valid(tmp_path)
    environ = {"SLACK_SCIM_URL": "https://slack.example/scim/v2/"}

    assert load(tmp_path, environ).apps["slack"].endpoint == "https://slack.example/scim/v2"
    # Like the shell's `:-`, the default stands in for an empty value too.
    assert load(tmp_path, {"SLACK_SCIM_URL": ""}).apps["slack"].endpoint == (
        "http://127.0.0.1:9201/v2"
    )


def test_a_doubled_dollar_is_a_literal_reference(tmp_path: Path) -> None:
    valid(tmp_path)
    literal = APPS.replace("{{ user.Username }}", "$${HOME}{{ user.Username }}")
    write(tmp_path, {"apps.yml": literal})

    assert load(tmp_path).apps["jira"].attributes["userName"] == "${HOME}{{ user.Username }}"


def test_an_unset_variable_is_an_error_that_names_it_but_shows_no_value(tmp_path: Path) -> None:
    valid(tmp_path)
    write(
        tmp_path,
        {
            "apps.yml": APPS.replace("https://jira.example/scim/v2", "${JIRA_URL}").replace(
                "${SLACK_SCIM_URL:-http://127.0.0.1:9201/v2}", "${SLACK_SCIM_URL}"
            )
        },
    )
    environ = {"SLACK_SCIM_URL": "ldap://hunter2-secret", "OTHER": "s3cr3t"}

    found = errors(tmp_path, environ)

    apps = tmp_path / "apps.yml"
    assert found == [
        f"{apps}:6: spec.endpoint: '${{SLACK_SCIM_URL}}' is not an http(s) URL",
        f"{apps}:18: spec.endpoint: environment variable JIRA_URL is not set; "
        "set it or write ${JIRA_URL:-default}",
    ]
    assert not any("hunter2" in error or "s3cr3t" in error for error in found)


def test_errors_in_two_files_are_all_reported_with_their_lines(tmp_path: Path) -> None:
    valid(tmp_path)
    write(
        tmp_path,
        {
            "apps.yml": APPS.replace("action: delete", "action: remove").replace(
                "  match:", "  colour: blue\n  match:"
            ),
            "teams/rules.yaml": RULES.replace("- {app: jira, role: agent}", "- {app: zendesk}"),
        },
    )

    assert errors(tmp_path) == [
        f"{tmp_path / 'apps.yml'}:8: spec.colour: unknown key 'colour'; allowed keys: "
        "attributes, auth, caFile, deprovision, endpoint, exclude, groups, limits, match, mode, "
        "pageSize, prune, rateLimit, safety, type",
        f"{tmp_path / 'apps.yml'}:21: spec.deprovision.action: "
        "Input should be 'suspend' or 'delete'",
        f"{tmp_path / 'teams' / 'rules.yaml'}:15: spec.grant[0].app: no app named 'zendesk'; "
        "known apps: jira, slack",
    ]


def test_a_yaml_syntax_error_is_reported_at_its_line(tmp_path: Path) -> None:
    valid(tmp_path)
    write(tmp_path, {"teams/broken.yaml": "a: 1\nb: [1, 2\nc: 3\n"})

    [error] = errors(tmp_path)

    assert error.startswith(f"{tmp_path / 'teams' / 'broken.yaml'}:3: invalid YAML: ")


def test_missing_keys_wrong_kind_and_api_version(tmp_path: Path) -> None:
    valid(tmp_path)
    extra = (
        "apiVersion: provisioner/v2\nkind: AccessRule\nmetadata: {name: x}\nspec: {}\n"
        "---\nkind: Widget\n"
    )
    write(tmp_path, {"extra.yaml": extra})

    assert errors(tmp_path) == [
        f"{tmp_path / 'extra.yaml'}:1: apiVersion: expected provisioner/v1",
        f"{tmp_path / 'extra.yaml'}:4: spec: missing required key 'grant'",
        f"{tmp_path / 'extra.yaml'}:6: apiVersion: expected provisioner/v1",
        f"{tmp_path / 'extra.yaml'}:6: kind: must be one of AccessRule, ConnectedApp, Source",
    ]


def test_duplicate_names_within_a_kind(tmp_path: Path) -> None:
    valid(tmp_path)
    rules = (tmp_path / "teams" / "rules.yaml").read_text()
    write(tmp_path, {"more.yaml": rules.split("---")[0].replace("slack", "jira")})

    assert errors(tmp_path) == [
        f"{tmp_path / 'teams' / 'rules.yaml'}:3: metadata.name: another AccessRule is named "
        f"'engineering': {tmp_path / 'more.yaml'}:3",
    ]


def test_unsupported_attributes_types_and_bad_templates(tmp_path: Path) -> None:
    valid(tmp_path)
    attributes = (
        '    userName: "{{ user.Email | lower }"\n'
        '    nickName: "{{ user.FirstName }}"\n'
        '    title: "{{ usr.Title }}"\n'
    )
    apps = APPS.replace('    userName: "{{ user.Email | lower }}"\n', attributes)
    write(tmp_path, {"apps.yml": apps})

    assert errors(tmp_path, {}) == [
        f"{tmp_path / 'apps.yml'}:10: spec.attributes.userName: template syntax error: "
        "unexpected '}'",
        f"{tmp_path / 'apps.yml'}:11: spec.attributes.nickName: type scim has no attribute "
        "'nickName'; use displayName, emails.work, name.familyName, name.givenName, role, title, "
        "userName",
        f"{tmp_path / 'apps.yml'}:12: spec.attributes.title: unknown template variable usr; "
        "templates can use only `user`",
    ]


def test_an_app_type_without_a_reconciler(tmp_path: Path) -> None:
    valid(tmp_path)

    with pytest.raises(PolicyError) as raised:
        load_policy(tmp_path, environ={}, supported_attributes={"slack": frozenset()})

    apps = tmp_path / "apps.yml"
    assert raised.value.errors == [
        f"{apps}:5: spec.type: no reconciler for type 'scim'; known: slack",
        f"{apps}:17: spec.type: no reconciler for type 'scim'; known: slack",
    ]


def test_a_missing_users_file(tmp_path: Path) -> None:
    valid(tmp_path)
    (tmp_path / "users.yaml").unlink()

    assert errors(tmp_path) == [
        f"{tmp_path / 'source.yaml'}:5: spec.file.path: users file 'users.yaml' not found "
        f"(relative to {tmp_path})",
    ]


def test_exactly_one_source(tmp_path: Path) -> None:
    valid(tmp_path)
    write(tmp_path, {"second.yaml": SOURCE.replace("name: org", "name: hr")})

    # Files load in sorted order: second.yaml comes before source.yaml.
    assert errors(tmp_path) == [
        f"{tmp_path / 'source.yaml'}:2: kind: exactly one Source is supported; "
        f"the first is at {tmp_path / 'second.yaml'}:2",
    ]

    for name in ("second.yaml", "source.yaml", "users.yaml"):
        (tmp_path / name).unlink()
    assert errors(tmp_path) == [f"{tmp_path}: no Source: exactly one Source is supported"]


def test_a_missing_or_empty_directory(tmp_path: Path) -> None:
    assert errors(tmp_path / "nope") == [
        f"{tmp_path / 'nope'}: no such directory; pass --policy DIR"
    ]
    write(tmp_path, {"README.md": "policy goes here\n", ".github/ci.yaml": "on: push\n"})
    assert errors(tmp_path) == [f"{tmp_path}: no *.yaml or *.yml files; pass --policy DIR"]


def test_duplicate_yaml_keys_are_errors(tmp_path: Path) -> None:
    valid(tmp_path)
    apps = APPS.replace("  deprovision: {action: delete}", "  deprovision: {}\n  type: scim")
    write(tmp_path, {"apps.yml": apps})

    assert errors(tmp_path) == [
        f"{tmp_path / 'apps.yml'}:21: spec.type: duplicate key 'type' (first given on line 17)",
    ]


def test_what_an_app_type_cannot_do_is_refused_at_its_line(tmp_path: Path) -> None:
    valid(tmp_path)
    apps = tmp_path / "apps.yml"
    apps.write_text(APPS.replace("type: scim", "type: slack"))

    with pytest.raises(PolicyError) as raised:
        load_policy(
            tmp_path,
            environ={},
            supported_attributes={"slack": SUPPORTED["scim"]},
            required_attributes={"slack": frozenset({"userName", "emails.work"})},
            cannot_delete=frozenset({"slack"}),
        )

    assert raised.value.errors == [
        f"{apps}:9: spec.attributes: type slack needs attributes: emails.work",
        f"{apps}:19: spec.attributes: type slack needs attributes: emails.work",
        f"{apps}:20: spec.deprovision: type slack cannot delete accounts, only suspend them;"
        " remove this",
    ]


SALESFORCE_SOURCE = """\
apiVersion: provisioner/v1
kind: Source
metadata: {name: org}
spec:
  salesforce:
    instanceUrl: https://orion.my.salesforce.com
    auth: {flow: client-credentials, clientId: abc, clientSecretEnv: SF_SECRET}
    fields: [Contractor_End_Date__c]
"""


def test_a_template_naming_a_field_the_salesforce_source_does_not_read(tmp_path: Path) -> None:
    valid(tmp_path)
    (tmp_path / "users.yaml").unlink()
    write(tmp_path, {"source.yaml": SALESFORCE_SOURCE})
    attributes = (
        '    displayName: "{{ user.FirstName }} {{ user.Lastname }}"\n'
        '    title: "{{ user.Profile.Name }} {{ user.UserRole }}'
        " {{ user.Email.split('@')[0] }}\"\n"
        '    role: "{{ user.contractor_end_date__c }} {{ user.Manager.Email }}"\n'
    )
    apps = APPS.replace('    displayName: "{{ user.FirstName }} {{ user.LastName }}"\n', attributes)
    write(tmp_path, {"apps.yml": apps})

    # Relationship paths, parents of read fields, methods on a field and any letter case pass.
    assert errors(tmp_path) == [
        f"{tmp_path / 'apps.yml'}:11: spec.attributes.displayName: the Source reads no field "
        "Lastname; add it to the Source's salesforce.fields or correct the name",
        f"{tmp_path / 'apps.yml'}:13: spec.attributes.role: the Source reads no field "
        "Manager.Email; add it to the Source's salesforce.fields or correct the name",
    ]
    # A file Source's columns are whatever its file holds: nothing to check against.
    write(tmp_path, {"source.yaml": SOURCE, "users.yaml": "users: []\n"})
    assert load(tmp_path).apps["slack"].attributes["role"].startswith("{{ user.contractor")


def test_a_grant_naming_a_group_its_app_does_not_declare(tmp_path: Path) -> None:
    valid(tmp_path)
    apps = APPS.replace("  match: [externalId", "  groups: [eng, support]\n  match: [externalId")
    write(tmp_path, {"apps.yml": apps})

    assert errors(tmp_path) == [
        f"{tmp_path / 'teams' / 'rules.yaml'}:7: spec.grant[0].groups[1]: app slack declares no "
        "group 'all-hands'; its groups: eng, support",
    ]
    # jira declares no groups, so its grants may name any.
    write(tmp_path, {"apps.yml": apps.replace("[eng, support]", "[eng, all-hands]")})
    assert load(tmp_path).apps["slack"].groups == ["eng", "all-hands"]
