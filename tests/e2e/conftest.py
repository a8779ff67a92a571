"""An org, a policy and a real SCIM app (scim2-server over a socket), driven through the CLI.

Every test gets a fresh scim2-server on 127.0.0.1, a policy directory pointing at it, and a users
file it can edit; `World.cli` runs the real `provisioner` command in a subprocess, so exit codes
and output are exactly what an operator sees.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from emulators import scim_app

TOKEN = "e2e-token-not-a-secret"
DEPARTMENTS = ("Engineering", "Support", "Sales")
POLICY = """\
apiVersion: provisioner/v1
kind: Source
metadata: {name: org}
spec:
  file: {path: users.yaml}
---
apiVersion: provisioner/v1
kind: ConnectedApp
metadata: {name: tool}
spec:
  type: scim
  endpoint: ${TOOL_SCIM_URL}
  auth: {bearerTokenEnv: TOOL_SCIM_TOKEN}
  match: [externalId, userName, email]
  pageSize: 50
  safety:
    maxDeprovisionsPerRun: ${MAX_DEPROVISIONS:-10}
    maxDeprovisionsPercent: 50
  deprovision:
    action: ${DEPROVISION_ACTION:-suspend}
  mode: ${TOOL_MODE:-enforce}
  attributes:
    userName: "{{ user.Email | lower }}"
    displayName: "{{ user.FirstName }} {{ user.LastName }}"
    emails.work: "{{ user.Email | lower }}"
    title: "{{ user.Title }}"
---
apiVersion: provisioner/v1
kind: AccessRule
metadata: {name: engineering}
spec:
  when: {department: [Engineering]}
  grant: [{app: tool, groups: [eng, everyone]}]
---
apiVersion: provisioner/v1
kind: AccessRule
metadata: {name: support}
spec:
  when: {department: [Support]}
  grant: [{app: tool, groups: [support, everyone]}]
"""


def make_users(count: int) -> list[dict[str, Any]]:
    """Salesforce-shaped users; Sales gets no grant, so a third of them have no account."""
    return [
        {
            "Id": f"005Hs00000E2E{i:05d}",
            "Username": f"user{i}@org.example",
            "Email": f"User{i}@org.example",
            "FirstName": f"First{i}",
            "LastName": f"Last{i}",
            "IsActive": True,
            "Department": DEPARTMENTS[i % 3],
            "Title": "Engineer",
        }
        for i in range(count)
    ]


@dataclass
class World:
    policy: Path
    users_file: Path
    env: dict[str, str]
    scim: httpx.Client

    def users(self) -> list[dict[str, Any]]:
        return list(yaml.safe_load(self.users_file.read_text())["users"])

    def write_users(self, users: list[dict[str, Any]]) -> None:
        self.users_file.write_text(yaml.safe_dump({"users": users}))

    def edit_user(self, index: int, **fields: Any) -> None:
        users = self.users()
        users[index].update(fields)
        self.write_users(users)

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "controller", *args, "--policy", str(self.policy)],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )

    def plan_json(self) -> tuple[int, dict[str, Any]]:
        done = self.cli("plan", "--format", "json")
        assert done.returncode in (0, 2), done.stderr + done.stdout
        return done.returncode, json.loads(done.stdout)

    def operations(self) -> list[tuple[str, str | None, str | None]]:
        _, document = self.plan_json()
        (app,) = document["apps"]
        return [(op["kind"], op["userName"], op["group"]) for op in app["operations"]]

    def listing(self, resource: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        while True:
            page = self.scim.get(
                f"/{resource}", params={"startIndex": len(found) + 1, "count": 500}
            ).json()
            found += page.get("Resources", [])
            if len(found) >= page["totalResults"]:
                return found

    def accounts(self) -> dict[str, dict[str, Any]]:
        return {user["userName"]: user for user in self.listing("Users")}

    def members(self) -> dict[str, set[str]]:
        names = {user["id"]: user["userName"] for user in self.listing("Users")}
        return {
            group["displayName"]: {names[m["value"]] for m in group.get("members", [])}
            for group in self.listing("Groups")
        }


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with scim_app.serve(scim_app.make_scim_app(TOKEN)) as url:
        policy = tmp_path / "policy"
        policy.mkdir()
        (policy / "policy.yaml").write_text(POLICY)
        users_file = policy / "users.yaml"
        env = {
            **os.environ,
            "TOOL_SCIM_URL": url,
            "TOOL_SCIM_TOKEN": TOKEN,
            "PROVISIONER_STATE_DIR": str(tmp_path / "state"),
        }
        headers = {"Authorization": f"Bearer {TOKEN}"}
        with httpx.Client(base_url=url, headers=headers) as client:
            world = World(policy, users_file, env, client)
            world.write_users(make_users(24))
            yield world


@pytest.fixture
def provisioned(world: World) -> World:
    """The world after one successful apply."""
    done = world.cli("apply")
    assert done.returncode == 0, done.stdout + done.stderr
    return world
