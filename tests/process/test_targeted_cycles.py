"""A change at the source reaches the apps through a targeted cycle that touches nobody else.

Issue 16's Done-when, shown from the servers' side: a real `provisioner run` on the example
world (tests/process/example_run.py), the full reconcile an hour away, so only the change check
can act on a change. Between the change and its outcome, each app's request log must show no
listing of the app and no group write naming anyone but the changed user; a burst of leavers
over the per-run limit is held as a full cycle holds it; a change made while a full cycle runs
is acted on right after it, by a targeted cycle.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from emulators.requests_log import Entry
from tests.process.conftest import wait_for
from tests.process.example_run import (
    APPS,
    ExampleRun,
    edited_policy,
    foreign_writes,
    full_source_reads,
    listings,
    members_named,
    running,
)

GRACE = "grace.hopper@orion.example"
ALAN = "alan.kay@orion.example"
ENGINEERS = ("ada.lovelace@orion.example", GRACE, "linus.berg@orion.example")
FRANCES = "frances.allen@orion.example"


@pytest.fixture
def example(tmp_path: Path) -> Iterator[ExampleRun]:
    with running(tmp_path) as run:
        yield run


def targeted(started: dict[str, Any]) -> int | None:
    """How many users a cycle was for, by its "cycle started" line; None: a full cycle."""
    if started.get("triggers") == ["change"] and started.get("targeted") is True:
        return int(started["users"])
    return None


def listed(asked: dict[str, list[Entry]]) -> dict[str, list[str]]:
    """The listings each app was asked for, by app; only apps that were."""
    found = {app: listings(app, asked[app]) for app in APPS}
    return {app: requests for app, requests in found.items() if requests}


def foreign(
    run: ExampleRun, asked: dict[str, list[Entry]], email: str, memberships: dict[str, str]
) -> dict[str, list[str]]:
    """The writes, by app, that concern anyone but the user `email`; only apps with some."""
    ids = {app: str(account["id"]) for app, account in run.accounts(email).items()}
    names = (run.world.salesforce_id(email), email)
    found = {app: foreign_writes(app, asked[app], ids.get(app), names, memberships) for app in APPS}
    return {app: writes for app, writes in found.items() if writes}


def zendesk_memberships(run: ExampleRun) -> dict[str, str]:
    """Zendesk membership id -> user id: what a DELETE /group_memberships/{id} is about."""
    return {str(m["id"]): str(m["user_id"]) for m in run.world.zendesk.memberships()}


def cycles_after(run: ExampleRun, cycle: int) -> list[dict[str, Any]]:
    return [started for number, started in sorted(run.cycles().items()) if number > cycle]


def test_a_leaver_is_suspended_without_listing_any_app(example: ExampleRun) -> None:
    assert set(example.accounts(ALAN)) == {"slack", "jira", "zendesk"}
    memberships = zendesk_memberships(example)
    last = max(example.cycles())
    since = example.marks()

    example.world.change_in_salesforce(ALAN, {"IsActive": False})
    wait_for(lambda: example.suspended(ALAN), "the leaver's accounts suspended")
    example.wait_settled("the cycle that suspended them")

    asked = example.requests(since)
    assert listed(asked) == {}
    assert full_source_reads(asked["salesforce"]) == []
    assert foreign(example, asked, ALAN, memberships) == {}
    assert [targeted(started) for started in cycles_after(example, last)] == [1]


@pytest.mark.parametrize(
    ("mover", "change", "apps"),
    [
        ("linus.berg@orion.example", {"Department": "Support"}, {"slack", "jira", "zendesk"}),
        ("mary.seacole@orion.example", {"UserRole.Name": "Charge Nurse"}, {"carepoint"}),
    ],
    ids=["engineer-to-support", "nurse-promoted"],
)
def test_a_mover_changes_only_their_own_group_memberships(
    example: ExampleRun, mover: str, change: dict[str, Any], apps: set[str]
) -> None:
    before = example.memberships()
    memberships = zendesk_memberships(example)
    last = max(example.cycles())
    since = example.marks()

    example.world.change_in_salesforce(mover, change)
    wait_for(lambda: example.memberships() != before, "the mover's groups changed")
    example.wait_settled("the cycle that moved them")

    ids = {app: str(account["id"]) for app, account in example.accounts(mover).items()}
    assert apps <= set(ids)
    after = example.memberships()
    assert {(app, account) for app, _, account in before ^ after} == {
        (app, ids[app]) for app in apps
    }
    asked = example.requests(since)
    assert foreign(example, asked, mover, memberships) == {}
    assert {
        app for app in APPS if any(members_named(app, entry, memberships) for entry in asked[app])
    } == apps
    assert listed(asked) == {}
    assert [targeted(started) for started in cycles_after(example, last)] == [1]


def _hold_engineers(document: dict[str, Any]) -> None:
    """At most 2 deprovisions a run in Slack and Jira; the source may drop by half (so that
    rule 1 trusts a read three leavers short, and only the per-run limit holds them)."""
    spec = document["spec"]
    if document["kind"] == "ConnectedApp" and document["metadata"]["name"] in ("slack", "jira"):
        spec["safety"] = {**spec.get("safety", {}), "maxDeprovisionsPerRun": 2}
    if document["kind"] == "Source":
        spec["maxActiveDropPercent"] = 50


def test_a_burst_of_leavers_over_the_per_run_limit_is_held_as_a_full_cycle_holds_it(
    tmp_path: Path,
) -> None:
    policy = edited_policy(tmp_path / "policy", _hold_engineers)
    with running(tmp_path, policy) as run:
        last = max(run.cycles())
        since = run.marks()
        # One change check must see all three: its queries wait while they are deactivated.
        with run.world.requests("salesforce").hold(lambda e: e.path.startswith("/services/")):
            for email in ENGINEERS:
                run.world.change_in_salesforce(email, {"IsActive": False})
        wait_for(lambda: cycles_after(run, last), "a cycle for the leavers")
        run.wait_settled("the cycle for the leavers")
        held = [e for e in run.events("app reconciled") if e["cycle"] > last]

        (change,) = cycles_after(run, last)
        assert targeted(change) == 3
        for app in ("slack", "jira"):
            assert run.metric("provisioner_safety_blocked", app=app) == 1.0
        assert all(not run.suspended(email) for email in ENGINEERS)
        leavers = {str(a["id"]) for email in ENGINEERS for a in run.accounts(email).values()}
        asked = run.requests(since)
        assert [
            str(entry)
            for app in APPS
            for entry in asked[app]
            if entry.method != "GET" and entry.path.rsplit("/", 1)[-1] in leavers
        ] == []

        run.process.send_signal(signal.SIGUSR1)  # a full cycle over the same world
        wait_for(lambda: len(cycles_after(run, last)) == 2, "a full cycle")
        run.wait_settled("the full cycle")
        full = [e for e in run.events("app reconciled") if e["cycle"] > change["cycle"]]

        def holds(lines: list[dict[str, Any]]) -> dict[str, tuple[Any, ...]]:
            return {
                e["app"]: (e["blocked"], e["blocked_reason"], e["operations"], e["failed"])
                for e in lines
                if e["app"] in ("slack", "jira")
            }

        assert holds(held) == holds(full)
        assert holds(full)["slack"][:1] == (3,)
        assert "3 deprovisions exceed maxDeprovisionsPerRun 2" in holds(full)["slack"][1]
        assert all(not run.suspended(email) for email in ENGINEERS)
        assert run.stop() == 0


def test_a_change_during_a_full_cycle_is_acted_on_right_after_it(example: ExampleRun) -> None:
    world = example.world
    agent = world.zendesk.user_by_email(FRANCES)
    assert agent is not None
    world.zendesk.edit_user(agent["id"], name="Renamed By Hand")  # drift a full cycle repairs
    zendesk = world.requests("zendesk")

    with zendesk.hold(lambda entry: entry.method != "GET"):
        example.process.send_signal(signal.SIGUSR1)
        wait_for(lambda: zendesk.waiting, "the full cycle's repair, held")  # it is applying
        (full,) = [c for c in example.cycles().values() if c.get("triggers") == ["signal"]]
        world.change_in_salesforce(GRACE, {"IsActive": False})
        assert full["cycle"] not in example.cycles("cycle finished")
    wait_for(lambda: example.suspended(GRACE), "the leaver's accounts suspended")
    example.wait_settled("the cycle that suspended them")

    finished = example.cycles("cycle finished")
    assert full["cycle"] in finished
    assert [targeted(started) for started in cycles_after(example, full["cycle"])] == [1]
    suspensions = {
        event["cycle"]
        for event in example.events("operation")
        if event.get("operation") == "suspend" and event["cycle"] >= full["cycle"]
    }
    assert suspensions == {full["cycle"] + 1}
    repaired = world.zendesk.user_by_email(FRANCES)
    assert repaired is not None and repaired["name"] == "Frances Allen"


def test_the_wire_checks_catch_what_they_look_for() -> None:
    """The checks above cannot pass vacuously: each sees a listing or a stranger's write."""

    def entry(method: str, path: str, query: str = "", body: str = "") -> Entry:
        return Entry(1, method, path, query, body)

    scim = [
        entry("GET", "/v2/Users", "startIndex=1&count=100"),
        entry("GET", "/v2/Users", "filter=externalId+eq+%22005x%22"),
        entry("GET", "/v2/Groups", "excludedAttributes=members"),
    ]
    assert listings("carepoint", scim) == [str(scim[0]), str(scim[2])]
    zendesk = [
        entry("GET", "/api/v2/users.json", "page[size]=100"),
        entry("GET", "/api/v2/users", "external_id=005x"),
        entry("GET", "/api/v2/group_memberships"),
        entry("GET", "/api/v2/users/7/group_memberships"),
    ]
    assert listings("zendesk", zendesk) == [str(zendesk[0]), str(zendesk[2])]
    queries = [
        "SELECT Id, (SELECT PermissionSet.Name FROM PermissionSetAssignments) FROM User",
        "SELECT Id, Email FROM User WHERE Id IN ('005x') ORDER BY Id",
        "SELECT Id, SystemModstamp FROM User WHERE SystemModstamp > 2026-01-01T00:00:00Z",
        "SELECT UserId, IsFrozen FROM UserLogin WHERE LastModifiedDate > 2026-01-01T00:00:00Z",
        "SELECT UserId FROM UserLogin WHERE IsFrozen = true ORDER BY UserId",
        "SELECT UserId FROM UserLogin WHERE IsFrozen = true AND UserId IN ('005x')",
    ]
    soql = [entry("GET", "/services/data/v62.0/query", urlencode({"q": q})) for q in queries]
    assert full_source_reads(soql) == [queries[0], queries[4]]

    remove = '{"Operations": [{"op": "remove", "path": "members[value eq \\"u2\\"]"}]}'
    add = '{"Operations": [{"op": "add", "path": "members", "value": [{"value": "u1"}]}]}'
    writes = [
        entry("PATCH", "/v2/Users/u1", body='{"Operations": []}'),
        entry("PATCH", "/v2/Groups/g", body=add),
        entry("PATCH", "/v2/Groups/g", body=remove),
        entry("PATCH", "/v2/Users/u2"),
        entry("POST", "/v2/Users", body='{"externalId": "005x"}'),
        entry("POST", "/v2/Users", body='{"externalId": "005y"}'),
    ]
    assert foreign_writes("slack", writes, "u1", ("005x",), {}) == [
        f"{writes[2]} naming ['u2']",
        str(writes[3]),
        str(writes[5]),
    ]
    memberships = [
        entry("POST", "/api/v2/group_memberships", body='{"group_membership": {"user_id": 7}}'),
        entry("DELETE", "/api/v2/group_memberships/99"),
    ]
    assert foreign_writes("zendesk", memberships, "7", (), {"99": "8"}) == [
        f"{memberships[1]} naming ['8']"
    ]
