"""The CLI's contracts that need no app: validate's messages and exit codes, schema, help."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def provisioner(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "controller", *args],
        cwd=cwd,
        env={**os.environ, "NO_COLOR": "1"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_example_policy_is_valid() -> None:
    done = provisioner("validate", "--policy", "desired-state")
    assert done.returncode == 0, done.stderr
    assert "desired-state: valid. 4 apps, 7 access rules" in done.stdout


def test_errors_in_two_files_are_both_reported_with_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "users.yaml").write_text("users: []\n")
    (tmp_path / "a.yaml").write_text(
        "apiVersion: provisioner/v1\n"
        "kind: Source\n"
        "metadata: {name: org}\n"
        "spec:\n"
        "  file: {path: users.yaml}\n"
        "---\n"
        "apiVersion: provisioner/v1\n"
        "kind: ConnectedApp\n"
        "metadata: {name: tool}\n"
        "spec:\n"
        "  type: scim\n"
        "  endpoint: http://127.0.0.1:1/v2\n"
        "  attributes: {userName: '{{ user.Email }}'}\n"
        "  deprovision: {action: obliterate}\n"
    )
    (tmp_path / "b.yaml").write_text(
        "apiVersion: provisioner/v1\n"
        "kind: AccessRule\n"
        "metadata: {name: everyone}\n"
        "spec:\n"
        "  grant:\n"
        "    - {app: nosuchapp}\n"
    )
    done = provisioner("validate", "--policy", str(tmp_path))
    assert done.returncode == 1
    lines = done.stderr.splitlines()
    assert any(line.startswith(f"{tmp_path / 'a.yaml'}:14: ") for line in lines), done.stderr
    assert any(line.startswith(f"{tmp_path / 'b.yaml'}:6: ") for line in lines), done.stderr
    assert "obliterate" in done.stderr or "suspend" in done.stderr
    assert "nosuchapp" in done.stderr
    assert done.stdout == ""


def test_validate_refuses_a_template_writing_a_related_record_at_its_line(tmp_path: Path) -> None:
    (tmp_path / "users.yaml").write_text("users: []\n")
    (tmp_path / "policy.yaml").write_text(
        "apiVersion: provisioner/v1\n"
        "kind: Source\n"
        "metadata: {name: org}\n"
        "spec:\n"
        "  file: {path: users.yaml}\n"
        "---\n"
        "apiVersion: provisioner/v1\n"
        "kind: ConnectedApp\n"
        "metadata: {name: tool}\n"
        "spec:\n"
        "  type: scim\n"
        "  endpoint: http://127.0.0.1:1/v2\n"
        "  attributes:\n"
        "    userName: '{{ user.Email }}'\n"
        '    title: "{{ user.UserRole }}"\n'
    )
    done = provisioner("validate", "--policy", str(tmp_path))
    assert done.returncode == 1
    assert done.stderr.splitlines()[0] == (
        f"{tmp_path / 'policy.yaml'}:15: spec.attributes.title: user.UserRole is a related "
        "record, not a value; write {{ user.UserRole.Name }} instead"
    )
    assert done.stdout == ""


def test_plan_with_an_invalid_policy_exits_1(tmp_path: Path) -> None:
    (tmp_path / "x.yaml").write_text("kind: [\n")
    done = provisioner("plan", "--policy", str(tmp_path))
    assert done.returncode == 1
    assert f"{tmp_path / 'x.yaml'}:" in done.stderr


def test_plan_names_an_unknown_app() -> None:
    done = provisioner("plan", "--policy", "desired-state", "--app", "nope")
    assert done.returncode == 1
    assert "no app named nope; the policy has: carepoint, jira, slack, zendesk" in done.stderr


def test_schema_is_json_schema_of_the_three_kinds() -> None:
    done = provisioner("schema")
    assert done.returncode == 0
    schema = json.loads(done.stdout)
    text = json.dumps(schema)
    for name in ("bearerTokenEnv", "accessEndsField", "maxDeprovisionsPerRun", "permissionSet"):
        assert name in text


def test_every_command_has_help() -> None:
    for command in ("validate", "schema", "plan", "apply", "demo"):
        done = provisioner(command, "--help")
        assert done.returncode == 0, command
        assert "Usage" in done.stdout
