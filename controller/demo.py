"""`provisioner demo`: the whole pipeline on local emulators, telling the three stories.

It starts the Salesforce emulator seeded with the example org (signing in with the JWT bearer
flow and a key pair made for the run) and two SCIM apps (scim2-server) on 127.0.0.1, and points
the example policy at them through the environment. Then: provision everyone and show the next
plan is empty; a leaver, a mover and a contractor whose end date arrives, each changed in
Salesforce through the emulator's admin endpoint. It checks each step's outcome and exits 1 if
the system did not do what the story says.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import os
import secrets
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import typer
import yaml

from controller import render, service
from controller.engine import Cycle, Engine, load_policy
from controller.operations import OpKind
from controller.settings import LoopSettings
from emulators import credentials, scim_app, serving
from emulators.salesforce import EmulatorSettings, Org, make_salesforce_app
from reconcilers import REGISTRY

SEED = Path(__file__).resolve().parent.parent / "emulators" / "seed" / "org.yaml"
APPS = {"slack": "SLACK_SCIM", "carepoint": "CAREPOINT_SCIM"}
SCIM_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
CLIENT_ID = "3MVG9-provisioner-demo"
INTEGRATION_USER = "integration@orion.example"


class DemoFailed(Exception):
    """A step did not end as the story says: the demo exits 1 with this message."""


def _say(text: str) -> None:
    typer.secho(f"\n== {text}", bold=True)


@contextlib.contextmanager
def _salesforce(scratch: Path) -> Iterator[dict[str, str]]:
    """The emulated org, and the environment that signs the policy's Source in to it."""
    pair = credentials.generate()
    key = scratch / "salesforce.key"
    key.write_bytes(pair.key_pem)
    key.chmod(0o600)
    settings = EmulatorSettings(client_id=CLIENT_ID, certificate_pem=pair.certificate_pem)
    with serving.serve(make_salesforce_app(Org.from_seed(SEED), settings)) as url:
        typer.echo(f"Started the Salesforce emulator at {url} with the example org")
        yield {
            "SALESFORCE_INSTANCE_URL": url,
            "SALESFORCE_LOGIN_URL": url,
            "SALESFORCE_CLIENT_ID": CLIENT_ID,
            "SALESFORCE_USERNAME": INTEGRATION_USER,
            "SALESFORCE_PRIVATE_KEY_FILE": str(key),
        }


@contextlib.contextmanager
def _stand_in_apps() -> Iterator[dict[str, str]]:
    """Serve one scim2-server per app; yield the environment that points the policy at them."""
    environ: dict[str, str] = {}
    with contextlib.ExitStack() as stack:
        for app, prefix in APPS.items():
            token = secrets.token_urlsafe(24)
            url = stack.enter_context(scim_app.serve(scim_app.make_scim_app(token)))
            environ[f"{prefix}_URL"] = url
            environ[f"{prefix}_TOKEN"] = token
            typer.echo(f"Started stand-in SCIM app {app!r} at {url}")
        yield environ


def _seed_accounts_behind_our_back(environ: dict[str, str]) -> None:
    """Accounts someone made by hand: a break-glass admin (excluded) and a stale one (orphan)."""
    headers = {"Authorization": f"Bearer {environ['SLACK_SCIM_TOKEN']}"}
    with httpx.Client(base_url=environ["SLACK_SCIM_URL"], headers=headers) as client:
        for name in ("break-glass-admin@orion.example", "old.temp@orion.example"):
            response = client.post("/Users", json={"schemas": [SCIM_USER], "userName": name})
            response.raise_for_status()
    typer.echo("Added two accounts to slack by hand: a break-glass admin and a stale account.")


def _change_in_salesforce(environ: dict[str, str], email: str, changes: dict[str, Any]) -> None:
    """What an admin does in Setup, done through the emulator's admin endpoint."""
    users = yaml.safe_load(SEED.read_text(encoding="utf-8"))["users"]
    user_id = next(user["Id"] for user in users if user["Email"] == email)
    url = f"{environ['SALESFORCE_INSTANCE_URL']}/_emulator/users/{user_id}"
    httpx.post(url, json=changes).raise_for_status()


async def _converge(policy_dir: Path, environ: dict[str, str], *, when: datetime.datetime) -> Cycle:
    """Plan and apply once, printing both; then plan again and insist it is empty."""
    policy = load_policy(policy_dir, registry=REGISTRY, environ=environ)
    async with Engine(policy, registry=REGISTRY, environ=environ, clock=lambda: when) as engine:
        cycle = await engine.plan()
        typer.echo(render.plan_text(cycle))
        if cycle.failed:
            raise DemoFailed("the plan failed; see the errors above")
        applied = await engine.apply(
            cycle, on_outcome=lambda outcome: typer.echo(render.outcome_line(outcome))
        )
        for app in applied.apps:
            if app.report is not None:
                typer.echo(render.report_summary(app.report))
        if applied.failed:
            raise DemoFailed("some operations failed; see above")
        again = await engine.plan()
        if not again.in_sync:
            typer.echo(render.plan_text(again))
            raise DemoFailed("the plan after apply is not empty")
        typer.echo("The next plan is empty: every app is in sync.")
        return applied


def _kinds(cycle: Cycle, app: str) -> list[OpKind]:
    return [op.kind for a in cycle.apps if a.app == app for op in a.plan.operations]


def _expect(condition: bool, message: str) -> None:
    if not condition:
        raise DemoFailed(message)


async def _stories(policy_dir: Path, environ: dict[str, str]) -> None:
    today = datetime.datetime(2026, 11, 28, 9, 0, tzinfo=datetime.UTC)
    _say("1. First sync: everyone the policy grants gets their accounts and groups")
    first = await _converge(policy_dir, environ, when=today)
    _expect(_kinds(first, "slack").count(OpKind.CREATE) > 0, "nobody was provisioned")

    _say("2. Leaver (Orion Tech): Grace Hopper is deactivated in Salesforce")
    _change_in_salesforce(environ, "grace.hopper@orion.example", {"IsActive": False})
    leaver = await _converge(policy_dir, environ, when=today)
    _expect(_kinds(leaver, "slack") == [OpKind.SUSPEND], "the leaver was not exactly suspended")

    _say("3. Mover (Beacon Health): Mary Seacole is promoted from Floor Nurse to Charge Nurse")
    _change_in_salesforce(environ, "mary.seacole@orion.example", {"UserRole.Name": "Charge Nurse"})
    mover = await _converge(policy_dir, environ, when=today)
    _expect(OpKind.ADD_MEMBER in _kinds(mover, "carepoint"), "the mover gained no admin group")

    _say("4. Time-bound access (Stratos): months later, Dorothy Vaughan's contract end date passes")
    later = datetime.datetime(2027, 4, 1, 9, 0, tzinfo=datetime.UTC)
    contract = await _converge(policy_dir, environ, when=later)
    _expect(_kinds(contract, "slack") == [OpKind.SUSPEND], "the contractor was not suspended")


def _serve(policy_dir: Path, scratch: Path, environ: dict[str, str], port: int) -> int:
    """Keep the controller running on the emulators until Ctrl+C, telling where to look."""
    settings = LoopSettings(
        policy_dir=policy_dir,
        state_dir=scratch / "state",
        interval_seconds=60,
        jitter_seconds=5,
        change_interval_seconds=5,
        port=port,
    )
    salesforce = environ["SALESFORCE_INSTANCE_URL"]
    _say("The controller now runs on the emulators; Ctrl+C stops it")
    typer.echo(
        f"  metrics:   http://127.0.0.1:{port}/metrics   (/healthz, /readyz)\n"
        f"  reconcile: kill -USR1 {os.getpid()}    reload policy: kill -HUP {os.getpid()}\n"
        f"  a leaver:  curl -XPOST {salesforce}/_emulator/users/005Hs0000U8JZpDIQW "
        "-d '{\"IsActive\": false}'   (seen within seconds)\n"
    )
    return service.run(settings, json_logs=False, environ=environ)


def run(policy_dir: Path = Path("desired-state"), *, serve: int | None = None) -> int:
    """Tell the stories; 0 when every step converged as expected, 1 otherwise.

    With `serve` (a port), keep the controller running on the emulators afterwards.
    """
    with (
        tempfile.TemporaryDirectory(prefix="provisioner-demo-") as scratch,
        _salesforce(Path(scratch)) as salesforce,
        _stand_in_apps() as apps,
    ):
        environ = {**os.environ, **salesforce, **apps}
        _seed_accounts_behind_our_back(environ)
        try:
            asyncio.run(_stories(policy_dir, environ))
        except DemoFailed as failure:
            typer.secho(f"\nDemo failed: {failure}", fg="red", err=True)
            return 1
        if serve is not None:
            return _serve(policy_dir, Path(scratch), environ, serve)
    typer.secho("\nDemo finished: provisioned, converged, and every story held.", fg="green")
    return 0
