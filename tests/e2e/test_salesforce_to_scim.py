"""The example policy end to end: the Salesforce emulator to two SCIM apps, through the CLI.

A read that fails on Salesforce's API limit must change nothing anywhere, even when a user really
was deactivated meanwhile; once the budget is back, exactly that user is suspended.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from emulators import credentials, scim_app, serving
from emulators.salesforce import EmulatorSettings, Org, make_salesforce_app

REPO = Path(__file__).resolve().parents[2]
SEED = REPO / "emulators" / "seed" / "org.yaml"
GRACE = "005Hs0000E0iGXlIQM"  # grace.hopper@orion.example in the seed
TOKEN = "e2e-scim-token"


@pytest.fixture
def env(tmp_path: Path) -> Iterator[dict[str, str]]:
    pair = credentials.generate()
    key = tmp_path / "salesforce.key"
    key.write_bytes(pair.key_pem)
    settings = EmulatorSettings(client_id="e2e-client", certificate_pem=pair.certificate_pem)
    with contextlib.ExitStack() as stack:
        salesforce = stack.enter_context(
            serving.serve(make_salesforce_app(Org.from_seed(SEED), settings))
        )
        slack = stack.enter_context(scim_app.serve(scim_app.make_scim_app(TOKEN)))
        care = stack.enter_context(scim_app.serve(scim_app.make_scim_app(TOKEN)))
        yield {
            **os.environ,
            "SALESFORCE_INSTANCE_URL": salesforce,
            "SALESFORCE_LOGIN_URL": salesforce,
            "SALESFORCE_CLIENT_ID": "e2e-client",
            "SALESFORCE_PRIVATE_KEY_FILE": str(key),
            "SLACK_SCIM_URL": slack,
            "SLACK_SCIM_TOKEN": TOKEN,
            "CAREPOINT_SCIM_URL": care,
            "CAREPOINT_SCIM_TOKEN": TOKEN,
            "PROVISIONER_STATE_DIR": str(tmp_path / "state"),
        }


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "controller", *args, "--policy", "desired-state"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def active_accounts(env: dict[str, str]) -> dict[str, bool]:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    page = httpx.get(f"{env['SLACK_SCIM_URL']}/Users?count=1000", headers=headers).json()
    return {user["userName"]: user["active"] for user in page["Resources"]}


def admin(env: dict[str, str], path: str, body: dict[str, object]) -> None:
    httpx.post(f"{env['SALESFORCE_INSTANCE_URL']}/_emulator{path}", json=body).raise_for_status()


def test_api_limit_changes_nothing_then_only_the_leaver_is_suspended(
    env: dict[str, str],
) -> None:
    first = cli(env, "apply")
    assert first.returncode == 0, first.stdout + first.stderr
    before = active_accounts(env)
    assert before["grace.hopper@orion.example"] is True

    admin(env, f"/users/{GRACE}", {"IsActive": False})
    admin(env, "/limits", {"max": 15000, "used": 15000})
    blocked = cli(env, "apply")
    assert blocked.returncode == 1
    assert "REQUEST_LIMIT_EXCEEDED" in blocked.stdout
    assert active_accounts(env) == before

    admin(env, "/limits", {"max": 15000, "used": 0})
    plan = cli(env, "plan", "--format", "json")
    assert plan.returncode == 2, plan.stdout + plan.stderr
    operations = [
        (app["app"], op["kind"], op["userName"])
        for app in json.loads(plan.stdout)["apps"]
        for op in app["operations"]
    ]
    assert operations == [("slack", "suspend", "grace.hopper@orion.example")]
    recovered = cli(env, "apply")
    assert recovered.returncode == 0, recovered.stdout + recovered.stderr
    after = active_accounts(env)
    assert after.pop("grace.hopper@orion.example") is False
    before.pop("grace.hopper@orion.example")
    assert after == before
