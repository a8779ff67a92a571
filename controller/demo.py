"""`provisioner demo`: the whole pipeline on local emulators, telling the three stories.

It starts the example world (`emulators.world`: the Salesforce emulator with the example org,
Slack, Jira and Zendesk emulators, and a scim2-server for Beacon's care platform) and points
the example policy at it. Then it provisions everyone and shows the next plan is empty, and
tells each story as Salesforce changes: a joiner appears in Slack, Jira and Zendesk; a leaver is
deactivated in all three (Zendesk suspends, never deletes); a nurse is promoted and gains the
care platform's admin group; a contractor's end date passes. After each step it looks in the
apps themselves, and exits 1 if they do not show what the story says.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer

from controller import render, service
from controller.connections import load_policy
from controller.cycle import Cycle
from controller.engine import Engine
from controller.settings import LoopSettings
from emulators.world import World, example_world
from reconcilers import REGISTRY

SCIM_USER = "urn:ietf:params:scim:schemas:core:2.0:User"


class DemoFailed(Exception):
    """A step did not end as the story says: the demo exits 1 with this message."""


def _say(text: str) -> None:
    typer.secho(f"\n== {text}", bold=True)


def _saw(text: str) -> None:
    typer.secho(f"   seen in the app: {text}", fg="cyan")


def _expect(condition: bool, message: str) -> None:
    if not condition:
        raise DemoFailed(message)


def _seed_accounts_behind_our_back(world: World) -> None:
    """Accounts someone made by hand: a break-glass admin (excluded) and a stale one (orphan)."""
    world.slack.add_user("break-glass-admin", "break-glass-admin@orion.example")
    world.slack.add_user("old.temp", "old.temp@orion.example")
    typer.echo("Added two accounts to Slack by hand: a break-glass admin and a stale account.")


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


def _found(user: dict[str, Any] | None, app: str, name: str) -> dict[str, Any]:
    if user is None:
        raise DemoFailed(f"{app} has no account {name!r}")
    return user


def _slack(world: World, name: str) -> dict[str, Any]:
    return _found(world.slack.user_by_name(name), "Slack", name)


def _jira(world: World, name: str) -> dict[str, Any]:
    return _found(world.jira.user_by_name(name), "Jira", name)


def _zendesk(world: World, email: str) -> dict[str, Any]:
    return _found(world.zendesk.user_by_email(email), "Zendesk", email)


def _groups(user: dict[str, Any]) -> list[str]:
    return sorted(str(group.get("display")) for group in user.get("groups") or ())


def _joiner(world: World) -> None:
    slack = _slack(world, "barbara.liskov")
    _expect(slack["active"] and "support" in _groups(slack), "Slack did not get the joiner")
    _saw(f"Slack @barbara.liskov active, groups {', '.join(_groups(slack))}")
    jira = _jira(world, "barbara.liskov@orion.example")
    _expect(jira["active"], "Jira did not get the joiner")
    _saw("Jira barbara.liskov@orion.example active")
    agent = _zendesk(world, "barbara.liskov@orion.example")
    groups = sorted(world.zendesk.group_names_of(agent["id"]))
    _expect(agent["role"] == "agent" and groups == ["Tier 1"], "Zendesk did not get the agent")
    _saw(f"Zendesk agent Barbara Liskov in {', '.join(groups)}")


def _leaver(world: World) -> None:
    _expect(not _slack(world, "alan.kay")["active"], "Slack kept the leaver active")
    _saw("Slack @alan.kay deactivated (kept, so a return reactivates it)")
    _expect(not _jira(world, "alan.kay@orion.example")["active"], "Jira kept the leaver active")
    _saw("Jira alan.kay@orion.example deactivated")
    agent = _zendesk(world, "alan.kay@orion.example")
    _expect(agent["suspended"] and agent["active"], "Zendesk did not suspend (or deleted)")
    _saw("Zendesk Alan Kay suspended, not deleted: his tickets and history stay")


def _mover(world: World) -> None:
    nurse, groups = world.care_account("mary.seacole@orion.example")
    roles = [role.get("value") for role in nurse.get("roles") or ()]
    _expect(roles == ["charge-nurse"] and "ward-admins" in groups, "the mover was not promoted")
    _saw(f"care platform: mary.seacole role charge-nurse, groups {', '.join(sorted(groups))}")


def _contractor(world: World) -> None:
    _expect(not _slack(world, "dorothy.vaughan")["active"], "Slack kept the contractor")
    _expect(not _jira(world, "dorothy.vaughan@orion.example")["active"], "Jira kept them")
    _saw("Slack and Jira: dorothy.vaughan deactivated on the day her contract ended")


Step = tuple[str, Callable[[World], None], dict[str, dict[str, Any]], datetime.datetime]


async def _stories(policy_dir: Path, world: World) -> None:
    today = datetime.datetime(2026, 11, 28, 9, 0, tzinfo=datetime.UTC)
    later = datetime.datetime(2027, 4, 1, 9, 0, tzinfo=datetime.UTC)
    _say("1. First sync: everyone the policy grants gets their accounts, groups and roles")
    await _converge(policy_dir, world.environ, when=today)
    steps: list[Step] = [
        (
            "2. Joiner (Orion Tech): Barbara Liskov joins Support; she is activated in Salesforce",
            _joiner,
            {"barbara.liskov@orion.example": {"IsActive": True}},
            today,
        ),
        (
            "3. Leaver (Orion Tech): Alan Kay leaves; he is deactivated in Salesforce",
            _leaver,
            {"alan.kay@orion.example": {"IsActive": False}},
            today,
        ),
        (
            "4. Mover (Beacon Health): Mary Seacole is promoted from Floor Nurse to Charge Nurse",
            _mover,
            {"mary.seacole@orion.example": {"UserRole.Name": "Charge Nurse"}},
            today,
        ),
        (
            "5. Time-bound access (Stratos): months later, Dorothy Vaughan's contract ends",
            _contractor,
            {},
            later,
        ),
    ]
    for title, check, changes, when in steps:
        _say(title)
        for email, change in changes.items():
            world.change_in_salesforce(email, change)
        await _converge(policy_dir, world.environ, when=when)
        check(world)


def _serve(policy_dir: Path, scratch: Path, environ: dict[str, str], port: int) -> int:
    """Keep the controller running on the emulators until Ctrl+C, telling where to look."""
    settings = LoopSettings(
        policy_dir=policy_dir,
        state_dir=scratch / "state",
        interval_seconds=60,
        jitter_seconds=5,
        change_interval_seconds=5,
        port=port,
        log_format="text",
    )
    salesforce = environ["SALESFORCE_INSTANCE_URL"]
    _say("The controller now runs on the emulators; Ctrl+C stops it")
    typer.echo(
        f"  metrics:   http://127.0.0.1:{port}/metrics   (/healthz, /readyz)\n"
        f"  reconcile: kill -USR1 {os.getpid()}    reload policy: kill -HUP {os.getpid()}\n"
        f"  a leaver:  curl -XPOST {salesforce}/_emulator/users/005Hs0000U8JZpDIQW "
        "-d '{\"IsActive\": false}'   (seen within seconds)\n"
    )
    return service.run(settings, environ=environ)


def run(policy_dir: Path = Path("desired-state"), *, serve: int | None = None) -> int:
    """Tell the stories; 0 when every step converged as expected, 1 otherwise.

    With `serve` (a port), keep the controller running on the emulators afterwards.
    """
    with (
        tempfile.TemporaryDirectory(prefix="provisioner-demo-") as scratch,
        example_world(Path(scratch)) as world,
    ):
        typer.echo(
            "Started on 127.0.0.1: the Salesforce emulator with the example org, Slack, Jira"
            " (Atlassian) and Zendesk emulators, and a SCIM care platform (scim2-server)."
        )
        environ = {**os.environ, **world.environ}
        _seed_accounts_behind_our_back(world)
        try:
            asyncio.run(_stories(policy_dir, dataclasses.replace(world, environ=environ)))
        except DemoFailed as failure:
            typer.secho(f"\nDemo failed: {failure}", fg="red", err=True)
            return 1
        if serve is not None:
            return _serve(policy_dir, Path(scratch), environ, serve)
    typer.secho("\nDemo finished: provisioned, converged, and every story held.", fg="green")
    return 0
