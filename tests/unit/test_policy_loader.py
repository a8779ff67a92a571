"""The policy loader: a valid directory becomes a Policy; every problem is reported at its line."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest

from controller.errors import PolicyError
from controller.policy import Policy, loader
from controller.policy.loader import load_policy
from tests.fuzz.bounds import bounded

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
        "attributes, auth, caFile, deprovision, endpoint, exclude, groups, insecure, limits, "
        "match, mode, pageSize, prune, rateLimit, safety, type",
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
        '    title: "{{ user.Profile.Name }} {{ user.UserRole is defined }}'
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


def test_a_template_writing_a_related_record_is_refused_at_its_line(tmp_path: Path) -> None:
    """`{{ user.UserRole }}` names a field the Source reads but writes an object, not a value."""
    valid(tmp_path)
    (tmp_path / "users.yaml").unlink()
    write(tmp_path, {"source.yaml": SALESFORCE_SOURCE.replace("[Contractor", "[Manager.Email, X")})
    attributes = (
        '    title: "{{ user.UserRole }}"\n'
        '    role: "{{ user.Manager | lower }}"\n'
        '    name.givenName: "{{ user }}"\n'
        '    name.familyName: "{{ user.Email.lower }}"\n'
        '    emails.work: "{{ user.PermissionSets }} {{ user.UserRole.Name }}"\n'
    )
    apps = APPS.replace('    displayName: "{{ user.FirstName }} {{ user.LastName }}"\n', attributes)
    write(tmp_path, {"apps.yml": apps})

    apps_file = tmp_path / "apps.yml"
    assert errors(tmp_path) == [
        f"{apps_file}:11: spec.attributes.title: user.UserRole is a related record, not a value; "
        "write {{ user.UserRole.Name }} instead",
        f"{apps_file}:12: spec.attributes.role: user.Manager is a related record, not a value; "
        "write {{ user.Manager.Email }} instead",
        f"{apps_file}:13: spec.attributes['name.givenName']: user is the whole user, not a "
        "value; write {{ user.Email }} instead",
        f"{apps_file}:14: spec.attributes['name.familyName']: the template writes a method, "
        "not a value; call it, with ()",
    ]
    # With a file Source too, for the fields both sources read; its own columns (`Manager`,
    # which this file may hold as text) are sampled as text.
    write(tmp_path, {"source.yaml": SOURCE, "users.yaml": "users: []\n"})
    assert [error.split(": ", 2)[1] for error in errors(tmp_path)] == [
        "spec.attributes.title",
        "spec.attributes['name.givenName']",
        "spec.attributes['name.familyName']",
    ]


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


def test_a_plain_http_endpoint_off_this_host_is_refused_unless_insecure(tmp_path: Path) -> None:
    valid(tmp_path)
    (tmp_path / "users.yaml").unlink()
    source = SALESFORCE_SOURCE.replace(
        "https://orion.my.salesforce.com", "http://orion.my.salesforce.com"
    ).replace("SF_SECRET}", "SF_SECRET,\n      loginUrl: 'http://login.example'}")
    apps = APPS.replace("https://jira.example/scim/v2", "http://jira.example/scim/v2")
    write(tmp_path, {"source.yaml": source, "apps.yml": apps})
    refused = (
        "plain http:// outside this host (127.0.0.1, ::1, localhost) sends tokens and personal "
        "data unencrypted; use https://, or set {}: true"
    )

    # The value from the environment is not quoted: the message names no URL.
    assert errors(tmp_path, {"SLACK_SCIM_URL": "http://10.0.0.7:8080/scim/v2"}) == [
        f"{tmp_path / 'apps.yml'}:6: spec.endpoint: " + refused.format("insecure"),
        f"{tmp_path / 'apps.yml'}:18: spec.endpoint: " + refused.format("insecure"),
        f"{tmp_path / 'source.yaml'}:6: spec.salesforce.instanceUrl: "
        + refused.format("salesforce.insecure"),
        f"{tmp_path / 'source.yaml'}:8: spec.salesforce.auth.loginUrl: "
        + refused.format("salesforce.insecure"),
    ]
    # This host's loopback needs no leave.
    write(tmp_path, {"source.yaml": SALESFORCE_SOURCE, "apps.yml": APPS})
    for loopback in ("http://127.0.0.1:9201/v2", "http://[::1]:9201/v2", "http://localhost/v2"):
        assert load(tmp_path, {"SLACK_SCIM_URL": loopback}).apps["slack"].endpoint == loopback
    # Anywhere else, the policy says so in words.
    write(
        tmp_path,
        {
            "source.yaml": source.replace("\n    fields:", "\n    insecure: true\n    fields:"),
            "apps.yml": apps.replace("\n  attributes:", "\n  insecure: true\n  attributes:"),
        },
    )
    policy = load(tmp_path, {"SLACK_SCIM_URL": "http://10.0.0.7:8080/scim/v2"})
    assert policy.apps["slack"].insecure and policy.apps["jira"].insecure
    assert policy.apps["jira"].endpoint == "http://jira.example/scim/v2"
    assert policy.sources[0].spec.salesforce is not None
    assert policy.sources[0].spec.salesforce.instance_url == "http://orion.my.salesforce.com"


# --- Inputs that used to crash the loader (issue 17): each is an error at its line ------------


def test_invalid_date_is_an_error_at_its_line(tmp_path: Path) -> None:
    valid(tmp_path)
    write(
        tmp_path,
        {"apps.yml": APPS.replace("{name: jira}", "{name: jira, labels: {since: 2024-02-30}}")},
    )

    assert errors(tmp_path) == [
        f"{tmp_path / 'apps.yml'}:15: metadata.labels.since: not a real date or time "
        "(day is out of range for month); correct it (YYYY-MM-DD), or quote it to keep it as text",
    ]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("!!timestamp foo", "not a real date or time; correct it (YYYY-MM-DD)"),
        ("!!bool maybe", "not true or false; correct it"),
        ("!!int twelve", "not an integer; correct it"),
        (
            "!!python/object/apply:os.system [ls]",
            "unsupported tag !!python/object/apply:os.system on a",
        ),
        ("!!binary aGk=", "unsupported tag !!binary; only !!str, !!int"),
        ("!local x", "unsupported tag !local"),
    ],
)
def test_timestamp_bool_and_unknown_tags_are_errors_at_their_line(
    tmp_path: Path, value: str, expected: str
) -> None:
    valid(tmp_path)
    write(tmp_path, {"apps.yml": APPS.replace("action: delete", f"action: {value}")})

    [error] = errors(tmp_path)

    assert error.startswith(f"{tmp_path / 'apps.yml'}:20: spec.deprovision.action: {expected}")


def test_a_nul_byte_is_refused_at_its_line(tmp_path: Path) -> None:
    valid(tmp_path)
    write(tmp_path, {"apps.yml": APPS.replace("prune", "pr\0une").replace("jira}", "ji\0ra}")})

    assert errors(tmp_path) == [
        f"{tmp_path / 'apps.yml'}:15: a NUL byte is not allowed in YAML; remove it",
    ]


def test_an_escaped_nul_in_a_quoted_value_is_refused_at_its_line(tmp_path: Path) -> None:
    valid(tmp_path)
    (tmp_path / "users.yaml").unlink()
    source = SALESFORCE_SOURCE.replace("    fields:", '    caFile: "ca\\0.pem"\n    fields:')
    write(tmp_path, {"source.yaml": source})

    assert errors(tmp_path) == [
        f"{tmp_path / 'source.yaml'}:8: spec.salesforce.caFile: an escaped control character"
        " (U+0000); remove it",
    ]


def test_bytes_that_are_not_utf8_are_refused_at_their_line(tmp_path: Path) -> None:
    valid(tmp_path)
    (tmp_path / "apps.yml").write_bytes(
        APPS.replace("jira}", "ji\udcffra}").encode(errors="surrogateescape")
    )

    assert errors(tmp_path) == [
        f"{tmp_path / 'apps.yml'}:15: not UTF-8 text: save the file as UTF-8",
    ]


@pytest.mark.parametrize("style", ["flow", "block"])
def test_nesting_deeper_than_490_is_an_error_not_a_recursion_error(
    tmp_path: Path, style: str
) -> None:
    valid(tmp_path)
    levels = 1000
    if style == "flow":
        deep = "labels: " + "[" * levels + "]" * levels + "\n"
    else:
        deep = "labels:\n" + "".join(f"{'  ' * (n + 1)}k{n}:\n" for n in range(levels))
    write(tmp_path, {"deep.yaml": deep})

    [error] = errors(tmp_path)

    line = 1 if style == "flow" else 65
    assert error == (
        f"{tmp_path / 'deep.yaml'}:{line}: nested deeper than 64 levels; flatten this structure"
    )


def test_type_given_as_a_list_is_an_error_not_a_type_error(tmp_path: Path) -> None:
    valid(tmp_path)
    write(
        tmp_path,
        {
            "apps.yml": APPS.replace(
                "  type: scim\n  endpoint: https", "  type: [x]\n  endpoint: https"
            )
        },
    )

    with pytest.raises(PolicyError) as raised:
        load_policy(
            tmp_path,
            environ={},
            supported_attributes=SUPPORTED,
            required_attributes={"scim": frozenset({"userName"})},
            cannot_delete=frozenset({"slack"}),
        )

    assert raised.value.errors == [
        f"{tmp_path / 'apps.yml'}:17: spec.type: Input should be 'scim', 'slack', 'atlassian' "
        "or 'zendesk'",
    ]


def test_a_seven_level_alias_bomb_is_refused_fast_and_small(tmp_path: Path) -> None:
    valid(tmp_path)
    bomb = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    for previous, name in zip("abcdef", "bcdefg", strict=True):
        bomb += f"{name}: &{name} [" + ",".join([f"*{previous}"] * 9) + "]\n"
    assert len(bomb) < 600
    write(tmp_path, {"bomb.yaml": bomb})

    with bounded("a 7-level alias bomb", seconds=1.0, mib=100):
        [error] = errors(tmp_path)

    assert error.startswith(f"{tmp_path / 'bomb.yaml'}:5: aliases here stand for more than")
    assert "(an alias bomb?); write the values out" in error


def test_nested_default_references_are_expanded_as_the_shell_does(tmp_path: Path) -> None:
    valid(tmp_path)
    url = "${SLACK_SCIM_URL:-${SLACK_BASE:-http://127.0.0.1:9201}/v2}"
    write(tmp_path, {"apps.yml": APPS.replace("${SLACK_SCIM_URL:-http://127.0.0.1:9201/v2}", url)})

    assert load(tmp_path).apps["slack"].endpoint == "http://127.0.0.1:9201/v2"
    endpoint = load(tmp_path, {"SLACK_BASE": "https://base"}).apps["slack"].endpoint
    assert endpoint == "https://base/v2"
    both = {"SLACK_SCIM_URL": "https://set", "SLACK_BASE": "https://base"}
    assert load(tmp_path, both).apps["slack"].endpoint == "https://set"

    write(
        tmp_path,
        {"apps.yml": APPS.replace("${SLACK_SCIM_URL:-http://127.0.0.1:9201/v2}", "${A:-${B}}")},
    )
    assert errors(tmp_path) == [
        f"{tmp_path / 'apps.yml'}:6: spec.endpoint: environment variable B is not set; "
        "set it or write ${B:-default}",
    ]
    write(
        tmp_path,
        {"apps.yml": APPS.replace("${SLACK_SCIM_URL:-http://127.0.0.1:9201/v2}", "${A:-x")},
    )
    assert errors(tmp_path) == [
        f"{tmp_path / 'apps.yml'}:6: spec.endpoint: malformed reference: "
        "a ${NAME:-default} is not closed by }",
    ]


def test_a_reference_in_a_flow_sequence_must_be_quoted(tmp_path: Path) -> None:
    valid(tmp_path)
    write(
        tmp_path,
        {"apps.yml": APPS.replace("match: [externalId, userName, email]", "match: [${X}]")},
    )

    [error] = errors(tmp_path)

    assert error.startswith(f"{tmp_path / 'apps.yml'}:8: invalid YAML: ")
    assert error.endswith('a ${...} reference inside [...] or {...} must be quoted: "${NAME}"')


def test_an_unforeseen_exception_is_the_files_internal_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    valid(tmp_path)

    def broken(*_: object) -> None:
        raise RuntimeError("a secret value from the file")

    monkeypatch.setattr(loader, "_validate", broken)

    found = errors(tmp_path)

    internal = f"{loader.INTERNAL} (RuntimeError); please report it, with the file if you can"
    assert f"{tmp_path / 'apps.yml'}: {internal}" in found
    assert not any("secret" in error for error in found)


def test_too_many_documents_or_rules_are_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    valid(tmp_path)
    monkeypatch.setattr(loader, "MAX_DOCUMENTS", 4)
    assert errors(tmp_path)[0] == (
        f"{tmp_path / 'teams' / 'rules.yaml'}:10: more than 4 documents in the policy "
        "directory; merge or remove some"
    )
    monkeypatch.setattr(loader, "MAX_DOCUMENTS", 100)
    monkeypatch.setattr(loader, "MAX_RULES", 1)
    assert errors(tmp_path) == [
        f"{tmp_path / 'teams' / 'rules.yaml'}:10: more than 1 AccessRules in the policy; "
        "merge some rules",
    ]


def test_a_policy_file_over_8_mib_is_refused(tmp_path: Path) -> None:
    valid(tmp_path)
    write(tmp_path, {"huge.yaml": "# padding\n" * (1 + 8 * 2**20 // 10)})

    assert errors(tmp_path) == [
        f"{tmp_path / 'huge.yaml'}: larger than the 8 MiB a policy file may be; "
        "split it into several",
    ]


def test_a_users_file_among_the_policy_never_breaks_loading(tmp_path: Path) -> None:
    valid(tmp_path)
    write(tmp_path, {"users.yaml": "users:\n  - {Id: 1, Start: 2024-02-30, X: !!bool maybe\n"})

    assert load(tmp_path).sources[0].spec.file is not None


def test_a_users_file_name_too_long_is_an_error_at_its_line(tmp_path: Path) -> None:
    valid(tmp_path)
    write(tmp_path, {"source.yaml": SOURCE.replace("users.yaml", "u" * 5000)})
    (tmp_path / "users.yaml").unlink()

    assert errors(tmp_path) == [
        f"{tmp_path / 'source.yaml'}:5: spec.file.path: not a usable file name "
        "(File name too long); correct it",
    ]


@pytest.mark.parametrize("expression", ["9" * 5000, "(" * 2000 + "1" + ")" * 2000])
def test_a_template_too_long_or_deep_to_read_is_an_error_at_its_line(
    tmp_path: Path, expression: str
) -> None:
    valid(tmp_path)
    apps = APPS.replace('"{{ user.Username }}"', f'"{{{{ {expression} }}}}"')
    write(tmp_path, {"apps.yml": apps})

    assert errors(tmp_path) == [
        f"{tmp_path / 'apps.yml'}:19: spec.attributes.userName: template cannot be read: "
        "a number too long or nesting too deep; simplify it",
    ]


def test_a_template_that_would_take_a_gigabyte_is_an_error_at_its_line_quickly(
    tmp_path: Path,
) -> None:
    """`validate` (and each policy load under `run`) renders every template for a sample user:
    one padding to a billion characters must fail there, at its line, not take the memory."""
    valid(tmp_path)
    apps = APPS.replace('"{{ user.Username }}"', '"{{ user.Email.ljust(10 ** 9) }}"')
    write(tmp_path, {"apps.yml": apps})

    with bounded("a template padding to 10 ** 9", seconds=5, mib=100):
        found = errors(tmp_path)
    assert found == [
        f"{tmp_path / 'apps.yml'}:19: spec.attributes.userName: a number above 10,000 as a "
        "width or count is refused; simplify the template",
    ]
