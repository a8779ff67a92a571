"""PURE: the one diff. Desired and observed state of one app in, an ordered Plan out.

Level-based: the plan compares what should be with what the app reports now, never with what the
controller last wrote, so changes made behind its back are found and undone. Attribute
differences come from deepdiff over the owned attributes only (those the policy sets); userName
and email compare case-insensitively, as the apps do. Nothing destructive (suspend, delete,
remove_member) is planned when the source read was incomplete, and nothing at all when the app's
own listing failed, nor for the accounts of quarantined source users. Operations come out in
`OpKind` order, so that each can succeed. Groups are tracked by id: a managed group the app
holds twice under one name is a conflict (`Plan.conflicts`), and no membership of any copy is
changed, nor a third copy created. Likewise a user whose externalId two or more accounts
carry (`matching.Links.doubled`) is a conflict: nothing is planned for that user, nor done to
any of those accounts, until a person deletes or unlinks the duplicates.
"""

from __future__ import annotations

import datetime
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from deepdiff import DeepDiff

from controller import lifecycle, matching, quarantine
from controller.model import (
    CASE_INSENSITIVE_ATTRIBUTES,
    AccountId,
    DesiredAccount,
    DesiredApp,
    ObservedAccount,
    ObservedApp,
    ObservedGroup,
    SourceUserId,
)
from controller.operations import ORDER, Change, DriftKind, Operation, OpKind, Orphan, Plan
from controller.policy.schema import DeprovisionSpec

REMOVALS = frozenset({OpKind.SUSPEND, OpKind.DELETE, OpKind.REMOVE_MEMBER})
SOURCE_UNTRUSTED = "the source read cannot be trusted to remove anyone this cycle"


def _comparable(name: str, value: Any) -> Any:
    if value == "":
        value = None
    if name in CASE_INSENSITIVE_ATTRIBUTES and isinstance(value, str):
        return value.casefold()
    return value


def attribute_changes(wanted: Mapping[str, Any], current: Mapping[str, Any]) -> tuple[Change, ...]:
    """The owned attributes whose observed value differs from the desired one.

    Plain equality first: most accounts are in sync, and deepdiff costs about 30 times more
    (bench/RESULTS.md); it runs only on the accounts that differ, to say where.
    """
    after = {name: _comparable(name, value) for name, value in wanted.items()}
    before = {name: _comparable(name, current.get(name)) for name in wanted}
    if before == after:
        return ()
    return _deepdiff_changes(wanted, current, before, after)


def attribute_changes_deepdiff_always(
    wanted: Mapping[str, Any], current: Mapping[str, Any]
) -> tuple[Change, ...]:
    """`attribute_changes` without the equality check: kept for bench/planning.py's comparison."""
    after = {name: _comparable(name, value) for name, value in wanted.items()}
    before = {name: _comparable(name, current.get(name)) for name in wanted}
    return _deepdiff_changes(wanted, current, before, after)


def _deepdiff_changes(
    wanted: Mapping[str, Any],
    current: Mapping[str, Any],
    before: Mapping[str, Any],
    after: Mapping[str, Any],
) -> tuple[Change, ...]:
    diff = DeepDiff(before, after)
    changed = sorted(str(key) for key in diff.affected_root_keys)
    return tuple(Change(name, current.get(name), wanted[name]) for name in changed)


class _Builder:
    """Accumulates one app's operations and drift; the pieces of `compute` share it."""

    def __init__(self, desired: DesiredApp, observed: ObservedApp, lifecycle: Lifecycle) -> None:
        self.desired = desired
        self.lifecycle = lifecycle
        self.app = desired.app
        self.operations: list[Operation] = []
        self.drift: Counter[DriftKind] = Counter()
        copies: dict[str, list[ObservedGroup]] = {}
        for group in sorted(observed.groups, key=lambda g: g.id):
            copies.setdefault(group.name, []).append(group)
        self.groups = {name: found[0] for name, found in copies.items() if len(found) == 1}
        """Groups by name, where the name is the app's only group of that name."""
        self.conflicted = {
            name: tuple(found)
            for name, found in copies.items()
            if len(found) > 1 and name in desired.managed_groups
        }
        """Managed group names the app holds more than once (issue 15: two `ward-admins`, a
        demoted nurse removed from one and kept in the other): left alone, reported."""
        self.managed = desired.managed_groups - self.conflicted.keys()
        self.held: list[Operation] = []

    def add(self, operation: Operation) -> None:
        if operation.kind in REMOVALS and not self.desired.source_complete:
            self.held.append(operation)
            return
        self.operations.append(operation)

    def account(self, wanted: DesiredAccount, link: matching.Link | None) -> None:
        if link is None:
            if wanted.active:
                self.drift[DriftKind.MISSING] += 1
                self.add(self._op(OpKind.CREATE, wanted, None, attributes=wanted.attributes))
                self.memberships(wanted, None, set())
            return
        account = link.account
        if link.by != "externalId":
            reason = f"matched by {link.by}; recording the source user Id as externalId"
            self.add(self._op(OpKind.LINK, wanted, account.id, reason=reason))
        changes = attribute_changes(wanted.attributes, account.attributes)
        if changes:
            self.drift[DriftKind.ATTRIBUTES] += 1
            new_values = {change.attribute: change.after for change in changes}
            self.add(
                self._op(OpKind.UPDATE, wanted, account.id, changes=changes, attributes=new_values)
            )
        if wanted.active and not account.active:
            self.drift[DriftKind.MISSING] += 1
            self.add(self._op(OpKind.ACTIVATE, wanted, account.id))
        elif not wanted.active:
            self.deprovision(account, wanted.source_id, wanted.reason)
        current = {name for name, group in self.groups.items() if account.id in group.members}
        self.memberships(wanted, account.id, current)

    def memberships(
        self, wanted: DesiredAccount | None, account_id: AccountId | None, current: set[str]
    ) -> None:
        """Add and remove memberships of managed groups only; other groups are not ours."""
        want = set(wanted.groups) - self.conflicted.keys() if wanted is not None else set()
        have = current & self.managed
        if want != have and account_id is not None:
            self.drift[DriftKind.GROUPS] += 1
        for group in sorted(want - have):
            self.add(self._member(OpKind.ADD_MEMBER, wanted, account_id, group))
        for group in sorted(have - want):
            self.add(self._member(OpKind.REMOVE_MEMBER, wanted, account_id, group))

    def unwanted(self, account: ObservedAccount) -> None:
        """A managed account whose user no rule grants this app any more."""
        name = account.user_name
        source_id = SourceUserId(account.external_id or "")
        self.deprovision(account, source_id, "no access rule grants this app any more")
        groups = sorted(
            name
            for name, group in self.groups.items()
            if account.id in group.members and name in self.managed
        )
        if groups:
            self.drift[DriftKind.GROUPS] += 1  # drift counts accounts, not memberships
        for group in groups:
            self.add(
                Operation(
                    OpKind.REMOVE_MEMBER,
                    self.app,
                    user_name=name,
                    account_id=account.id,
                    group=group,
                    group_id=self.groups[group].id,
                    reason="no access rule grants this group any more",
                )
            )

    def deprovision(
        self, account: ObservedAccount, source_id: SourceUserId | None, reason: str
    ) -> None:
        """Suspend an active account; delete a suspended one once its grace period has run."""
        life = self.lifecycle
        since = life.suspended_since.get(account.id)
        if life.now is None:
            kind = OpKind.SUSPEND if account.active else None
        else:
            kind = lifecycle.next_step(
                active=account.active, suspended_since=since, now=life.now, spec=life.spec
            )
        if kind is None:
            return
        if kind is OpKind.SUSPEND:
            self.drift[DriftKind.UNEXPECTED] += 1
        else:
            reason = f"{reason}; suspended since {since:%Y-%m-%d %H:%M} UTC, grace period over"
        self.add(
            Operation(
                kind,
                self.app,
                user_name=account.user_name,
                source_id=source_id,
                account_id=account.id,
                reason=reason,
            )
        )

    def _op(
        self,
        kind: OpKind,
        wanted: DesiredAccount,
        account_id: AccountId | None,
        *,
        changes: tuple[Change, ...] = (),
        attributes: Mapping[str, Any] | None = None,
        reason: str | None = None,
    ) -> Operation:
        if changes == () and kind is OpKind.CREATE:
            changes = tuple(Change(k, None, v) for k, v in sorted(wanted.attributes.items()))
        return Operation(
            kind,
            self.app,
            user_name=wanted.user_name,
            source_id=wanted.source_id,
            account_id=account_id,
            changes=changes,
            attributes=attributes or {},
            reason=reason or wanted.reason,
        )

    def _member(
        self, kind: OpKind, wanted: DesiredAccount | None, account_id: AccountId | None, group: str
    ) -> Operation:
        assert wanted is not None or kind is OpKind.REMOVE_MEMBER
        verb = "granted" if kind is OpKind.ADD_MEMBER else "no longer granted"
        return Operation(
            kind,
            self.app,
            user_name=wanted.user_name if wanted else None,
            source_id=wanted.source_id if wanted else None,
            account_id=account_id,
            group=group,
            group_id=self.groups[group].id if group in self.groups else None,
            reason=f"{verb} by {wanted.reason}" if wanted else verb,
        )

    def missing_groups(self) -> None:
        needed = {op.group for op in self.operations if op.kind is OpKind.ADD_MEMBER}
        exist = self.groups.keys() | self.conflicted.keys()  # never a third copy
        for group in sorted(name for name in needed if name and name not in exist):
            self.operations.append(
                Operation(OpKind.CREATE_GROUP, self.app, group=group, reason="granted by policy")
            )


@dataclass(frozen=True)
class Lifecycle:
    """What deprovisioning needs beyond the two states: policy, recorded times, and now."""

    spec: DeprovisionSpec = field(default_factory=DeprovisionSpec)
    suspended_since: Mapping[AccountId, datetime.datetime] = field(default_factory=dict)
    now: datetime.datetime | None = None
    """None plans no deletions at all (suspensions only)."""


def compute(
    desired: DesiredApp,
    observed: ObservedApp,
    *,
    match: Sequence[str],
    prune: bool = False,
    lifecycle: Lifecycle | None = None,
    prune_unlinked: bool = True,
) -> Plan:
    """The plan that converges one app. Pure: same inputs, same plan.

    With `prune`, orphans are deprovisioned too; otherwise they are only reported. Without
    `prune_unlinked` (a targeted cycle, which sees only some users) an orphan with no
    externalId is never pruned: a user it did not look at may yet adopt it.
    """
    if not observed.ok:
        return Plan(desired.app, (), {}, error=f"could not observe the app: {observed.error}")
    desired = quarantine.without_held_accounts(desired)
    builder = _Builder(desired, observed, lifecycle or Lifecycle())
    links = matching.link(desired, observed, match)
    for source_id, wanted in sorted(desired.accounts.items(), key=lambda i: i[1].user_name):
        if matching.is_excluded(desired.exclude, wanted.user_name, wanted.email):
            continue
        if source_id in links.waiting or source_id in links.doubled:
            continue
        builder.account(wanted, links.linked.get(source_id))
    for account in sorted(links.unwanted, key=lambda a: a.user_name):
        builder.unwanted(account)
    if prune:
        for orphan in sorted(links.orphans, key=lambda a: a.user_name):
            if prune_unlinked or orphan.external_id:
                builder.deprovision(orphan, None, "orphan: no source user, and the app prunes")
    builder.missing_groups()
    builder.drift[DriftKind.ORPHANED] = len(links.orphans)
    notes: list[str] = []
    if links.excluded:
        notes.append(f"{len(links.excluded)} excluded account(s) left untouched")
    if links.left_alone:
        notes.append(f"{len(links.left_alone)} account(s) left as they are: unresolved users")
    if links.held:
        notes.append(quarantine.held_note(len(links.held), desired))
    if links.waiting:
        notes.append(
            f"{len(links.waiting)} user(s) given no account this cycle: an account answering to"
            " their name is held for a quarantined source record"
        )
    operations = sorted(builder.operations, key=lambda op: ORDER[op.kind])
    orphans = tuple(
        Orphan(account.id, account.user_name, account.active)
        for account in sorted(links.orphans, key=lambda a: a.user_name)
    )
    conflicts = tuple(
        group_conflict(name, copies) for name, copies in sorted(builder.conflicted.items())
    ) + tuple(
        account_conflict(desired.app, source_id, accounts)
        for source_id, accounts in sorted(links.doubled.items())
    )
    drift = {kind: builder.drift.get(kind, 0) for kind in DriftKind}
    return Plan(
        desired.app,
        tuple(operations),
        drift,
        orphans=orphans,
        notes=tuple(notes),
        blocked=tuple(sorted(builder.held, key=lambda op: ORDER[op.kind])),
        blocked_reason=SOURCE_UNTRUSTED if builder.held else None,
        conflicts=conflicts,
    )


def group_conflict(name: str, copies: Sequence[ObservedGroup]) -> str:
    """A managed group held more than once under one name, in words for the operator."""
    each = ", ".join(f"id {group.id}: {len(group.members)} members" for group in copies)
    return (
        f"group {name}: {len(copies)} groups in the app have this name ({each}); no membership "
        "of any of them is changed until a person deletes or renames all but one in the app"
    )


def account_conflict(app: str, source_id: str, accounts: Sequence[ObservedAccount]) -> str:
    """A user whose externalId several accounts carry, in words for the operator: by account
    id, never by userName or email, which may be personal data."""
    ids = ", ".join(account.id for account in accounts)
    return (
        f"user {source_id}: {len(accounts)} accounts in {app} carry this externalId (account"
        f" ids {ids}); nothing is changed for this user in {app}, nor any of these accounts"
        " suspended or removed, until a person deletes the duplicate account in the app or"
        " clears its externalId to unlink it"
    )
