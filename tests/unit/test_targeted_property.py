"""For any world and any set of changed users, a targeted cycle plans exactly what a full cycle
plans for those users (issue 16): the same creates, links, updates, activations, memberships,
suspensions and holds, and nothing for anyone else.

The world is a source read before and after the changes, and two apps' accounts and groups: a
SCIM app that prunes, matching by userName, and a Slack app (whose unique-name shaping needs
every user's desired name) matching by email. The baseline is the full cycle over the world
before; the targeted cycle looks accounts up through an in-memory app that answers `accounts_where`
from the same accounts the full cycle lists. Names are unique per person, as Salesforce
usernames are; an unlinked account answers to one person's names.
"""

from __future__ import annotations

import asyncio
import datetime
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings, target
from hypothesis import strategies as st

from controller import targeted
from controller.connections import load_policy
from controller.engine import Engine
from controller.journal import Facts
from controller.model import (
    AccountId,
    AppName,
    ObservedAccount,
    ObservedApp,
    ObservedGroup,
    SourceRead,
    SourceUser,
    SourceUserId,
)
from controller.operations import Operation, OpKind
from controller.sources.base import user_from_fields
from reconcilers import REGISTRY

NOW = datetime.datetime(2026, 12, 2, 12, 0, tzinfo=datetime.UTC)
POLICY = """\
apiVersion: provisioner/v1
kind: Source
metadata: {name: org}
spec:
  file: {path: users.yaml}
  accessEndsField: End__c
---
apiVersion: provisioner/v1
kind: ConnectedApp
metadata: {name: care}
spec:
  type: scim
  endpoint: http://127.0.0.1:9/care
  match: [externalId, userName]
  prune: true
  attributes: {userName: "{{ user.Username | lower }}", title: "{{ user.Title }}"}
  safety: {maxDeprovisionsPerRun: 1000, maxDeprovisionsPercent: 100}
---
apiVersion: provisioner/v1
kind: ConnectedApp
metadata: {name: chat}
spec:
  type: slack
  endpoint: http://127.0.0.1:9/chat
  match: [externalId, email]
  attributes:
    userName: "{{ user.Email }}"
    emails.work: "{{ user.Email | lower }}"
    title: "{{ user.Title }}"
  exclude: [keep-*]
  deprovision: {action: suspend}
  safety: {maxDeprovisionsPerRun: 1000, maxDeprovisionsPercent: 100}
---
apiVersion: provisioner/v1
kind: AccessRule
metadata: {name: engineering}
spec:
  when: {department: [Engineering]}
  grant: [{app: care, groups: [eng]}, {app: chat, groups: [eng, all]}]
---
apiVersion: provisioner/v1
kind: AccessRule
metadata: {name: support}
spec:
  when: {department: [Support]}
  grant: [{app: chat, groups: [support, all]}]
"""
DEPARTMENTS = ("Engineering", "Support", "Sales")
LOCALS = ("ada", "grace", "keep-me", "a-very-long-name-for-slack-to-cut")
DOMAINS = ("orion.example", "stratos.example", "beacon.example")


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    directory = tmp_path_factory.mktemp("policy")
    (directory / "policy.yaml").write_text(POLICY)
    (directory / "users.yaml").write_text("users: []\n")
    policy = load_policy(Path(directory), registry=REGISTRY, environ={})
    yield Engine(policy, registry=REGISTRY, environ={}, clock=lambda: NOW)


class InMemoryApp:
    """An app answering lookups from the accounts a full listing shows, as the port says."""

    def __init__(self, observed: ObservedApp) -> None:
        self.observed = observed

    async def observe(self) -> ObservedApp:
        return self.observed

    async def accounts_where(self, attribute: str, value: str) -> tuple[ObservedAccount, ...]:
        def answers(account: ObservedAccount) -> bool:
            if attribute == "externalId":
                return account.external_id == value
            have = (
                account.user_name if attribute == "userName" else account.attributes.get(attribute)
            )
            return isinstance(have, str) and have.casefold() == value.casefold()

        return tuple(account for account in self.observed.accounts if answers(account))


@st.composite
def people(draw: st.DrawFn) -> list[SourceUser]:
    count = draw(st.integers(1, 9))
    names = draw(
        st.lists(st.tuples(st.sampled_from(LOCALS), st.sampled_from(DOMAINS)), min_size=count,
                 max_size=count, unique=True)
    )  # fmt: skip
    return [person(draw, n, f"{local}@{domain}") for n, (local, domain) in enumerate(names)]


def person(draw: st.DrawFn, n: int, email: str) -> SourceUser:
    return user_from_fields(
        {
            "Id": f"005{n:015d}",
            "Username": f"u{n}.{email}",
            "Email": email,
            "IsActive": draw(st.sampled_from([True, True, True, False])),
            "Department": draw(st.sampled_from(DEPARTMENTS[:2] * 3 + DEPARTMENTS[2:])),
            "Title": draw(st.sampled_from(["Engineer", "Lead", ""])),
            "End__c": draw(st.sampled_from([None, None, None, "2026-01-01", "2027-01-01"])),
        }
    )


def edited(user: SourceUser, **fields: Any) -> SourceUser:
    """`user` as the source reads them after `fields` changed."""
    return user_from_fields({**user.fields, **fields})


@st.composite
def app_state(draw: st.DrawFn, app: str, users: list[SourceUser]) -> ObservedApp:
    accounts: list[ObservedAccount] = []
    for user in users + [person(draw, 90 + n, f"gone{n}@orion.example") for n in range(2)]:
        how = draw(st.sampled_from(["none", "linked", "unlinked", "foreign"]))
        if how == "none":
            continue
        name = user.username.lower() if app == "care" else user.email.split("@")[0]
        external = {"linked": user.id, "unlinked": None, "foreign": "005OTHER"}[how]
        name = name if draw(st.booleans()) else f"old-{name}"
        accounts.append(
            ObservedAccount(
                AccountId(f"{app}-{len(accounts)}"),
                name,
                active=draw(st.booleans()),
                external_id=external,
                attributes={
                    "userName": name,
                    "emails.work": user.email.lower(),
                    "title": draw(st.sampled_from(["Engineer", None])),
                },
            )
        )
    groups = [
        ObservedGroup(
            f"{app}-g-{name}",
            name,
            frozenset(a.id for a in accounts if draw(st.booleans())),
        )
        for name in draw(st.lists(st.sampled_from(["eng", "all", "support", "other"]), unique=True))
    ]
    return ObservedApp(AppName(app), tuple(accounts), tuple(groups))


@st.composite
def worlds(draw: st.DrawFn) -> dict[str, Any]:
    before = draw(people())
    apps = {name: draw(app_state(name, before)) for name in ("care", "chat")}
    changed = draw(st.sets(st.sampled_from([u.id for u in before]), min_size=1))
    after: list[SourceUser] = []
    for user in before:
        if user.id not in changed:
            after.append(user)
            continue
        change = draw(st.sampled_from(["leave", "return", "move", "retitle", "gone"]))
        if change == "gone":  # no longer selected by the source's `where`
            continue
        if change in ("leave", "return"):
            after.append(edited(user, IsActive=change == "return"))
        elif change == "move":
            after.append(edited(user, Department=draw(st.sampled_from(DEPARTMENTS))))
        else:
            after.append(edited(user, Title="Director"))
    if draw(st.booleans()):  # a joiner
        joiner = person(draw, 50, "newcomer@orion.example")
        after.append(edited(joiner, IsActive=True))
        changed = changed | {joiner.id}
    return {"before": before, "after": after, "apps": apps, "changed": frozenset(changed)}


def _key(op: Operation) -> tuple[Any, ...]:
    attributes = tuple(sorted((k, str(v)) for k, v in op.attributes.items()))
    return (op.app, op.kind, op.source_id, op.account_id, op.group, op.user_name, attributes)


def restricted(
    operations: tuple[Operation, ...], scope: frozenset[str], mine: set[str]
) -> set[tuple[Any, ...]]:
    return {
        _key(op)
        for op in operations
        if op.kind is not OpKind.CREATE_GROUP and (op.source_id in scope or op.account_id in mine)
    }


def test_a_changed_user_keeps_the_slack_name_a_namesake_made_unique(engine: Engine) -> None:
    """Two people derive the Slack name `ada`; the later one by Id has a unique one. Only they
    changed: their name must not be planned back to `ada` (shaping sees everyone)."""
    first, second = (
        user_from_fields({"Id": f"005{n:015d}", "Username": f"u{n}@x", "Email": email,
                          "Department": "Engineering", "Title": ""})
        for n, email in enumerate(("ada@orion.example", "ada@stratos.example"))
    )  # fmt: skip
    chat = AppName("chat")
    before = engine.plan_observed(SourceRead("org", (first, second), NOW), _empty())
    shape = engine.kinds[chat].shape
    assert shape is not None
    shaped, _ = shape(before.evaluation.apps[chat])
    accounts = tuple(
        ObservedAccount(
            AccountId(f"chat-{n}"),
            shaped.accounts[user.id].user_name,
            active=True,
            external_id=user.id,
            attributes={
                "userName": shaped.accounts[user.id].user_name,
                "emails.work": user.email,
                "title": None,
            },
        )
        for n, user in enumerate((first, second))
    )
    moved = edited(second, Title="Director")
    world = {
        "before": [first, second],
        "after": [first, moved],
        "apps": {**_empty(), chat: ObservedApp(chat, accounts, ())},
        "changed": frozenset({second.id}),
    }
    compare(engine, world)
    operations = _targeted(engine, world).apps[1].plan.operations
    (update,) = (op for op in operations if op.kind is OpKind.UPDATE)
    assert dict(update.attributes) == {"title": "Director"}


def _empty() -> dict[AppName, ObservedApp]:
    return {AppName(name): ObservedApp(AppName(name), (), ()) for name in ("care", "chat")}


def _targeted(engine: Engine, world: dict[str, Any]) -> Any:
    source = engine.policy.sources[0].name
    first = engine.plan_observed(SourceRead(source, tuple(world["before"]), NOW), world["apps"])
    baseline = targeted.Baseline.of(first)
    assert baseline is not None
    scope = world["changed"]
    changes = targeted.Changes({u.id: u for u in world["after"] if u.id in scope}, {}, scope, {})
    engine.reconcilers = {k: InMemoryApp(v) for k, v in world["apps"].items()}  # type: ignore[misc]
    return asyncio.run(engine.plan_changed(changes, baseline))


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(world=worlds())
def test_a_targeted_cycle_plans_what_a_full_cycle_plans_for_its_users(
    engine: Engine, world: dict[str, Any]
) -> None:
    planned = compare(engine, world)
    event(f"targeted operations: {min(3, planned)}")
    target(float(planned))  # steer towards worlds where the targeted cycle has much to do


def compare(engine: Engine, world: dict[str, Any]) -> int:
    """Assert the targeted plan is the full plan restricted; how many operations it has."""
    source = engine.policy.sources[0].name
    read = SourceRead(source, tuple(world["before"]), NOW)
    apps: dict[AppName, ObservedApp] = world["apps"]
    engine.remembered = Facts()
    first = engine.plan_observed(read, apps)
    baseline = targeted.Baseline.of(first)
    if baseline is None:  # an untrusted read: changes run full cycles, nothing to compare
        return 0
    engine.remembered = Facts({source: first.evaluation.active_users})
    full = engine.plan_observed(SourceRead(source, tuple(world["after"]), NOW), apps)
    scope: frozenset[SourceUserId] = world["changed"]
    changes = targeted.Changes({u.id: u for u in world["after"] if u.id in scope}, {}, scope, {})
    engine.reconcilers = {name: InMemoryApp(seen) for name, seen in apps.items()}  # type: ignore[misc]
    scoped = asyncio.run(engine.plan_changed(changes, baseline))

    assert scoped.verdict.trusted == full.verdict.trusted
    for wide, narrow in zip(full.apps, scoped.apps, strict=True):
        mine = {a.id for a in apps[wide.app].accounts if a.external_id in scope}
        touched = {op.account_id for op in narrow.plan.operations + narrow.plan.blocked}
        assert touched - {None} <= mine | {a.id for a in narrow.observed.accounts}
        for field in ("operations", "blocked"):
            want = restricted(getattr(wide.plan, field), scope, mine)
            got = restricted(getattr(narrow.plan, field), scope, mine)
            assert got == want, (wide.app, field)
            assert all(
                op.source_id in scope or op.account_id in mine or op.kind is OpKind.CREATE_GROUP
                for op in getattr(narrow.plan, field)
            ), (wide.app, field)
        needed = {
            op.group
            for op in narrow.plan.operations
            if op.kind is OpKind.ADD_MEMBER and op.group_id is None
        }
        created = {op.group for op in narrow.plan.operations if op.kind is OpKind.CREATE_GROUP}
        assert created == needed
        assert created <= {
            op.group for op in wide.plan.operations if op.kind is OpKind.CREATE_GROUP
        }
    return sum(len(app.plan.operations) + len(app.plan.blocked) for app in scoped.apps)
