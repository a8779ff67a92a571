"""PURE: a targeted cycle, for the users a change check reported, as safe as a full one.

A full cycle reads the whole org and lists every app; a leaver then waits for the size of the
org. A targeted cycle reads only the changed users (the check already did, by Id) and looks up
only their accounts, so it costs the same at 300 users or 100,000 (issue 16). What it cannot
see, it takes from the `Baseline`: the last full cycle's view, kept in memory by the running
controller and updated with every targeted cycle's outcome:
- rule 1 judges the read against the last trusted full read's active count, with the changed
  users' new states applied to that read's (a burst of leavers still trips the drop guard);
- the per-app deprovision limits count what targeted cycles applied since the last full cycle,
  against that cycle's account count;
- group memberships are the last full listing's, plus what was applied since: apps offer no
  faithful per-user membership read in common (Slack and Atlassian filter groups by name only);
- every other user's desired account is context for the app's shaping (Slack's unique names),
  never planned.
Nothing outside the changed users is touched: only their accounts are looked up, and an unlinked
account answering to their name is never pruned as an orphan (someone else may adopt it).
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from controller import executor, guard
from controller.cycle import AppCycle, Cycle
from controller.desired import Evaluation
from controller.model import (
    AccountId,
    AppName,
    DesiredAccount,
    DesiredApp,
    ObservedAccount,
    ObservedGroup,
    Quarantined,
    SourceRead,
    SourceUser,
    SourceUserId,
)
from controller.operations import Operation, OpKind
from controller.policy.schema import SourceSpec

MAX_USERS = 500
"""More changed users than this run a full cycle instead: past a few hundred, looking each
one up in every app costs more requests than listing the apps."""
EXTERNAL_ID, USER_NAME, EMAIL = "externalId", "userName", "emails.work"


@dataclass(frozen=True)
class Changes:
    """What change checks reported and a cycle has not taken yet: the users, re-read by Id."""

    users: Mapping[SourceUserId, SourceUser] = field(default_factory=dict)
    """The changed users the source read whole (and its `where` still selects)."""
    quarantined: Mapping[SourceUserId, Quarantined] = field(default_factory=dict)
    """Changed users whose record the source refused."""
    ids: frozenset[SourceUserId] = frozenset()
    """Every changed Id, found or not: one no longer selected is no longer a source user."""
    changed_at: Mapping[SourceUserId, datetime.datetime] = field(default_factory=dict)
    """When the source changed each user, as the check saw it (for the latency histogram)."""

    def __bool__(self) -> bool:
        return bool(self.ids)

    def merged(self, newer: Changes) -> Changes:
        """These changes with a later check's: its reading of a user replaces this one's."""
        users = {k: v for k, v in self.users.items() if k not in newer.ids}
        held = {k: v for k, v in self.quarantined.items() if k not in newer.ids}
        return Changes(
            {**users, **newer.users},
            {**held, **newer.quarantined},
            self.ids | newer.ids,
            {**self.changed_at, **newer.changed_at},
        )


@dataclass(frozen=True)
class AppBaseline:
    """One app as the last full cycle listed it, and what was applied to it since."""

    accounts: int
    """Accounts listed, plus those created since: what maxDeprovisionsPercent is taken of."""
    groups: tuple[ObservedGroup, ...]
    desired: Mapping[SourceUserId, DesiredAccount]
    """Every user's desired account (before the app's shaping): context for shaping."""
    deprovisioned: int = 0
    """Suspensions and deletions applied since the last full cycle."""


@dataclass(frozen=True)
class Baseline:
    """The last trusted full cycle, as targeted cycles since have changed it."""

    revision: str
    trusted_active: int
    """Active users at the last trusted full read: the drop guard's base."""
    active: Mapping[SourceUserId, bool]
    """Each user read whole: whether they should have access (now, after targeted cycles)."""
    records: frozenset[SourceUserId]
    """Every record's Id, valid or quarantined."""
    quarantined: tuple[Quarantined, ...]
    apps: Mapping[AppName, AppBaseline]

    @classmethod
    def of(cls, cycle: Cycle) -> Baseline | None:
        """The baseline an applied full cycle leaves; None when its read was not trusted."""
        if cycle.scope is not None or not cycle.source_complete:
            return None
        evaluation = cycle.evaluation
        records = {user.id for user in cycle.source.users}
        records.update(held.source_id for held in cycle.source.quarantined if held.source_id)
        apps = {
            app.app: AppBaseline(
                accounts=len(app.observed.accounts),
                groups=app.observed.groups,
                desired=evaluation.apps[app.app].accounts,
            )
            for app in cycle.apps
            if app.observed.ok and app.plan.error is None and app.observed.scope is None
        }
        baseline = cls(
            cycle.revision,
            evaluation.active_users,
            {user_id: state.active for user_id, state in evaluation.users.items()},
            frozenset(records),
            evaluation.quarantined,
            apps,
        )
        return baseline.applied(cycle.apps, counting=False)

    def after(self, cycle: Cycle, changes: Changes) -> Baseline:
        """This baseline once the targeted `cycle` for `changes` was applied."""
        scope = changes.ids
        active = {k: v for k, v in self.active.items() if k not in scope}
        active.update((k, state.active) for k, state in cycle.evaluation.users.items())
        records = (self.records - scope) | changes.users.keys() | changes.quarantined.keys()
        apps = {
            name: dataclasses.replace(
                app,
                desired={
                    **{k: v for k, v in app.desired.items() if k not in scope},
                    **cycle.evaluation.apps[name].accounts,
                },
            )
            for name, app in self.apps.items()
        }
        updated = dataclasses.replace(
            self,
            active=active,
            records=frozenset(records),
            quarantined=tuple(cycle.evaluation.quarantined),
            apps=apps,
        )
        return updated.applied(cycle.apps, counting=True)

    def applied(self, cycles: Iterable[AppCycle], *, counting: bool) -> Baseline:
        """Fold what succeeded into each app: accounts created, memberships, deprovisions."""
        apps = dict(self.apps)
        for app in cycles:
            known = apps.get(app.app)
            if known is None or app.report is None:
                continue
            done = [o.operation for o in app.report.outcomes if o.result == executor.SUCCESS]
            created = sum(1 for op in done if op.kind is OpKind.CREATE)
            removed = sum(1 for op in done if op.kind.destructive) if counting else 0
            apps[app.app] = dataclasses.replace(
                known,
                accounts=known.accounts + created,
                groups=_memberships(known.groups, done),
                deprovisioned=known.deprovisioned + removed,
            )
        return dataclasses.replace(self, apps=apps)


def _memberships(
    groups: Sequence[ObservedGroup], done: Sequence[Operation]
) -> tuple[ObservedGroup, ...]:
    members = {group.id: set(group.members) for group in groups}
    names = {group.id: group.name for group in groups}
    for op in done:
        if op.kind not in executor.MEMBERSHIP or op.group_id is None or op.account_id is None:
            continue
        names.setdefault(op.group_id, op.group or op.group_id)
        found = members.setdefault(op.group_id, set())
        if op.kind is OpKind.ADD_MEMBER:
            found.add(op.account_id)
        else:
            found.discard(op.account_id)
    return tuple(ObservedGroup(gid, names[gid], frozenset(found)) for gid, found in members.items())


@dataclass(frozen=True)
class Scoped:
    """What one app's plan needs to be limited to a targeted cycle's users."""

    users: frozenset[SourceUserId]
    context: Mapping[SourceUserId, DesiredAccount]
    """Every other user's desired account in the app: shaping sees them, planning does not."""
    accounts: int
    """The app's accounts, for maxDeprovisionsPercent."""
    already: int
    """Deprovisions targeted cycles applied since the last full cycle."""


def scoped_read(
    source: str, changes: Changes, baseline: Baseline, now: datetime.datetime
) -> SourceRead:
    """The changed users as a read; every quarantined record the baseline holds stays held."""
    held = [q for q in baseline.quarantined if q.source_id not in changes.ids]
    held.extend(changes.quarantined.values())
    return SourceRead(source, tuple(changes.users.values()), now, quarantined=tuple(held))


def judge(
    baseline: Baseline,
    changes: Changes,
    evaluation: Evaluation,
    spec: SourceSpec,
    *,
    accept_drop: bool,
) -> guard.SourceVerdict:
    """Rule 1 for a targeted read: the org as the baseline has it, with the changed users'
    new states, judged against the last trusted full read's active count."""
    active = {k: v for k, v in baseline.active.items() if k not in changes.ids}
    active.update((k, state.active) for k, state in evaluation.users.items())
    records = (baseline.records - changes.ids) | changes.users.keys() | changes.quarantined.keys()
    unidentified = sum(1 for q in evaluation.quarantined if not q.source_id)
    return guard.judge_source(
        error=None,
        active=sum(active.values()),
        last_good_active=baseline.trusted_active,
        max_drop_percent=spec.max_active_drop_percent,
        accept_drop=accept_drop,
        records=len(records) + unidentified,
        quarantined=len(evaluation.quarantined),
        max_quarantined_percent=spec.max_quarantined_percent,
    )


def in_context(
    want: DesiredApp, context: Mapping[SourceUserId, DesiredAccount], scope: frozenset[SourceUserId]
) -> DesiredApp:
    """`want` with every other user's desired account beside the changed users' (for shaping)."""
    others = {k: v for k, v in context.items() if k not in scope}
    return dataclasses.replace(want, accounts={**others, **want.accounts})


def only(want: DesiredApp, scope: frozenset[SourceUserId]) -> DesiredApp:
    """`want` planned for the changed users only."""
    return dataclasses.replace(
        want, accounts={k: v for k, v in want.accounts.items() if k in scope}
    )


def names_to_look_up(
    want: DesiredApp, match: Sequence[str], linked: Iterable[str]
) -> list[tuple[str, str]]:
    """The (attribute, value) lookups that find an unlinked account `match` would adopt for a
    changed user with no account linked by externalId (`matching.link` adopts for active users
    only; its email key also answers to an account whose userName is the email)."""
    have = set(linked)
    wanted: list[tuple[str, str]] = []
    for account in want.accounts.values():
        if account.source_id in have or not account.active:
            continue
        if USER_NAME in match:
            wanted.append((USER_NAME, account.user_name))
        if "email" in match and account.email:
            wanted += [(EMAIL, account.email), (USER_NAME, account.email)]
    return list(dict.fromkeys(wanted))


def belonging(
    accounts: Iterable[ObservedAccount], scope: frozenset[SourceUserId], names: Iterable[str]
) -> tuple[ObservedAccount, ...]:
    """The accounts that may be the changed users': linked to one by externalId, or unlinked
    and answering to one of their names. Each once, in the order given."""
    folded = {name.casefold() for name in names}
    found: dict[AccountId, ObservedAccount] = {}
    for account in accounts:
        if account.external_id:
            if account.external_id in scope:
                found.setdefault(account.id, account)
            continue
        email = account.attributes.get(EMAIL)
        if account.user_name.casefold() in folded or (email and str(email).casefold() in folded):
            found.setdefault(account.id, account)
    return tuple(found.values())
