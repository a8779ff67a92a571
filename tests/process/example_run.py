"""`provisioner run` on the example world, watched from the servers' side of the wire.

The targeted-cycle tests (issue 16) run the real controller as its own process against every
emulator of the example world (emulators/world.py) with `desired-state/` or a test policy made
from it, the full reconcile an hour away (`--interval 3600`) so only the change check
(`--change-interval 1`) can find a change. They read the controller's JSON log, scrape its
/metrics, look at accounts behind the apps' backs, and read what each app was asked from its
request log (emulators/requests_log.py). This module holds those means; the tests say what
must hold.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from emulators.requests_log import Entry
from emulators.serving import free_port
from emulators.world import World, example_world
from tests.process.conftest import scrape, wait_for

POLICY = Path(__file__).resolve().parents[2] / "desired-state"
APPS = ("slack", "jira", "zendesk", "carepoint")
SCIM_APPS = ("slack", "jira", "carepoint")
_MEMBER_FILTER = re.compile(r'members\[value eq "([^"]+)"\]')
_FROM_USER = re.compile(r"\bFROM User\b")
_ZENDESK_LOOKUPS = ("external_id", "email", "query", "ids")


def edited_policy(folder: Path, edit: Callable[[dict[str, Any]], None]) -> Path:
    """`desired-state/` copied to `folder`, each YAML document passed to `edit` first."""
    folder.mkdir()
    for path in sorted(POLICY.glob("*.yaml")):
        documents = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
        for document in documents:
            edit(document)
        (folder / path.name).write_text(yaml.safe_dump_all(documents, sort_keys=False))
    return folder


@dataclass
class ExampleRun:
    world: World
    process: subprocess.Popen[bytes]
    log_path: Path
    metrics_url: str

    # --- the controller's side ----------------------------------------------------------------

    def events(self, name: str | None = None) -> list[dict[str, Any]]:
        found = []
        for line in self.log_path.read_text().splitlines():
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if isinstance(event, dict) and (name is None or event.get("event") == name):
                found.append(event)
        return found

    def cycles(self, name: str = "cycle started") -> dict[int, dict[str, Any]]:
        """The cycles' "cycle started" (or another per-cycle line), by cycle number."""
        return {event["cycle"]: event for event in self.events(name) if "cycle" in event}

    def settled(self) -> bool:
        """Every cycle started has finished (or failed), and at least one has."""
        started = self.cycles()
        ended = set(self.cycles("cycle finished")) | set(self.cycles("cycle failed"))
        return bool(started) and set(started) <= ended

    def wait_settled(self, what: str) -> None:
        wait_for(self.settled, what)

    def metric(self, name: str, **labels: str) -> float | None:
        return scrape(self.metrics_url, name, **labels)

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.terminate()
        return self.process.wait(timeout=60)

    # --- the apps' side -----------------------------------------------------------------------

    def marks(self) -> dict[str, int]:
        """Where each app's request log stands now (the source's too)."""
        return {name: self.world.requests(name).mark() for name in (*APPS, "salesforce")}

    def requests(self, since: dict[str, int]) -> dict[str, list[Entry]]:
        """What each app (and the source) was asked after `since` (from `marks`)."""
        return {name: self.world.requests(name).entries(mark) for name, mark in since.items()}

    def accounts(self, email: str) -> dict[str, dict[str, Any]]:
        """The accounts of a Salesforce user, by app, found by the externalId they carry."""
        user_id = self.world.salesforce_id(email)
        world = self.world
        found: dict[str, dict[str, Any]] = {}
        for name, users in (("slack", world.slack.users()), ("jira", world.jira.users())):
            for user in users:
                if user.get("externalId") == user_id:
                    found[name] = user
        agent = world.zendesk.user_by_external_id(user_id)
        if agent is not None:
            found["zendesk"] = agent
        for resource in world.carepoint.memory.resources:
            dumped = resource.model_dump()
            if dumped.get("externalId") == user_id:
                found["carepoint"] = dumped
        return found

    def suspended(self, email: str) -> bool:
        """Every account the user has is suspended (and they have some)."""
        accounts = self.accounts(email)
        return bool(accounts) and all(
            account["suspended"] if app == "zendesk" else account["active"] is False
            for app, account in accounts.items()
        )

    def memberships(self) -> set[tuple[str, str, str]]:
        """(app, group id, account id) of every group membership in every app."""
        world = self.world
        found = set()
        for app, groups in (("slack", world.slack.groups()), ("jira", world.jira.groups())):
            found |= {(app, g["id"], m["value"]) for g in groups for m in g.get("members") or ()}
        for resource in world.carepoint.memory.resources:
            group = resource.model_dump()
            for member in group.get("members") or ():
                found.add(("carepoint", str(group["id"]), str(member["value"])))
        for membership in world.zendesk.memberships():
            found.add(("zendesk", str(membership["group_id"]), str(membership["user_id"])))
        return found


def listings(app: str, entries: list[Entry]) -> list[str]:
    """The requests that list an app's users or groups rather than look one up."""
    found = []
    for entry in entries:
        path = entry.path.rstrip("/").removesuffix(".json")
        if entry.method != "GET":
            continue
        if app in SCIM_APPS and path.endswith(("/Users", "/Groups")):
            if "filter" not in entry.params:
                found.append(str(entry))
        elif app == "zendesk" and path.endswith("/api/v2/users"):
            if not any(key in entry.params for key in _ZENDESK_LOOKUPS):
                found.append(str(entry))
        elif app == "zendesk" and path.endswith(("/api/v2/groups", "/api/v2/group_memberships")):
            found.append(str(entry))
    return found


def full_source_reads(entries: list[Entry]) -> list[str]:
    """The Salesforce queries that read every user, or every frozen login: not the change
    check's, not those by Id."""
    found = []
    for entry in entries:
        soql = " ".join(entry.params.get("q", []))
        users = _FROM_USER.search(soql) and "SystemModstamp >" not in soql
        frozen = "FROM UserLogin WHERE IsFrozen" in soql
        if (users or frozen) and "Id IN" not in soql:
            found.append(soql)
    return found


def members_named(app: str, entry: Entry, memberships: dict[str, str]) -> set[str] | None:
    """The accounts a membership write names; None when `entry` is no membership write.

    `memberships` maps a Zendesk membership id to its user id (a DELETE names only the id)."""
    path = entry.path.rstrip("/").removesuffix(".json")
    body = entry.json()
    if app in SCIM_APPS and "/Groups/" in path and entry.method in ("PATCH", "PUT"):
        named: set[str] = set()
        if entry.method == "PUT":
            return {str(m["value"]) for m in (body or {}).get("members") or ()}
        for operation in (body or {}).get("Operations") or ():
            named |= set(_MEMBER_FILTER.findall(str(operation.get("path") or "")))
            value = operation.get("value")
            values = value if isinstance(value, list) else [value]
            named |= {str(v["value"]) for v in values if isinstance(v, dict) and "value" in v}
        return named
    if app == "zendesk" and "group_memberships" in path:
        if entry.method == "POST":
            return {str((body or {}).get("group_membership", {}).get("user_id"))}
        if entry.method == "DELETE":
            return {memberships.get(path.rsplit("/", 1)[-1], f"membership {path}")}
    return None


def foreign_writes(
    app: str,
    entries: list[Entry],
    own: str | None,
    names: tuple[str, ...],
    memberships: dict[str, str],
) -> list[str]:
    """The writes to `app` that concern anyone but one user: whose account there is `own`
    (None: none yet), created with a body naming one of `names` (their Salesforce Id, email)."""
    found = []
    for entry in entries:
        if entry.method in ("GET", "HEAD"):
            continue
        named = members_named(app, entry, memberships)
        if named is not None:
            if named != {own}:
                found.append(f"{entry} naming {sorted(named)}")
            continue
        tail = entry.path.rstrip("/").removesuffix(".json").rsplit("/", 1)[-1]
        creating = entry.method == "POST" and tail in ("Users", "users", "create_or_update")
        if creating and any(name.lower() in entry.body.lower() for name in names):
            continue
        if tail != own:
            found.append(str(entry))
    return found


@contextlib.contextmanager
def running(
    scratch: Path, policy: Path = POLICY, extra: tuple[str, ...] = ()
) -> Iterator[ExampleRun]:
    """The example world and `provisioner run` on it, its startup (full) cycle finished."""
    with example_world(scratch) as world:
        port = free_port()
        log_path = scratch / "controller.log"
        command = [
            sys.executable, "-m", "controller", "run", "--policy", str(policy),
            "--state-dir", str(scratch / "state"), "--port", str(port),
            "--interval", "3600", "--change-interval", "1", "--log-format", "json", *extra,
        ]  # fmt: skip
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                command, env={**os.environ, **world.environ}, stdout=log, stderr=log
            )
        run = ExampleRun(world, process, log_path, f"http://127.0.0.1:{port}/metrics")
        try:
            run.wait_settled("the startup cycle")
            yield run
        except BaseException:
            print("".join(log_path.read_text().splitlines(keepends=True)[-80:]))  # for pytest
            raise
        finally:
            if process.poll() is None:
                process.kill()
            process.wait()
