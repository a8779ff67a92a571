"""PURE: which observed account belongs to which source user, and which belong to nobody.

An account is linked first by `externalId` (the Salesforce user Id the controller writes into every
account it creates or adopts), then by the app's `match` list (`userName`, `email`, compared
case-insensitively, as RFC 7643 says of userName). Only accounts with no externalId are adopted
by matching, and only for users who should be active: an account someone else owns, or one we
would merely adopt to suspend, is reported rather than taken. Excluded accounts are set apart
before anything else, and then the accounts of quarantined users (`quarantine.holds_account`),
so no later step can touch them; a user who would adopt a held account waits (`Links.waiting`)
rather than being given a second account beside it.

Two or more accounts carrying one user's externalId (`Links.doubled`) are a conflict only a
person can settle: which is the real one is not ours to guess. None of them is linked, adopted
for, suspended or pruned, and nothing is created for that user, until all but one are deleted
or unlinked in the app.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from controller import quarantine
from controller.model import (
    DesiredApp,
    ObservedAccount,
    ObservedApp,
    SourceUserId,
)

EMAIL = "emails.work"


@dataclass(frozen=True)
class Link:
    account: ObservedAccount
    by: str
    """externalId | userName | email: how the account was recognised."""


@dataclass(frozen=True)
class Links:
    linked: Mapping[SourceUserId, Link]
    unwanted: tuple[ObservedAccount, ...]
    """Managed accounts (linked to a known source user) that no rule grants any more."""
    orphans: tuple[ObservedAccount, ...]
    """Accounts no source user can be tied to."""
    excluded: tuple[ObservedAccount, ...]
    left_alone: tuple[ObservedAccount, ...]
    """Managed accounts of users whose desired state is unresolved: nothing is done to them."""
    held: tuple[ObservedAccount, ...] = ()
    """Accounts that may be a quarantined user's: nothing is done to them, nor are they orphans."""
    waiting: frozenset[SourceUserId] = frozenset()
    """Users with no linked account whose match answers to a held one: none is created."""
    doubled: Mapping[SourceUserId, tuple[ObservedAccount, ...]] = field(default_factory=dict)
    """Users whose externalId two or more accounts carry, with those accounts: nothing is
    done for the user nor to any of the accounts until a person resolves it in the app."""


def is_excluded(patterns: Sequence[str], *names: str | None) -> bool:
    """Whether any of the names (userName, email) matches an exclude glob, ignoring case."""
    return any(
        fnmatch.fnmatchcase(name.casefold(), pattern.casefold())
        for pattern in patterns
        for name in names
        if name
    )


def _email(account: ObservedAccount) -> str | None:
    value = account.attributes.get(EMAIL)
    return str(value) if value else None


def _adoption_index(candidates: Sequence[ObservedAccount]) -> dict[str, dict[str, ObservedAccount]]:
    """userName and email lookups over accounts with no externalId; the first account wins."""
    index: dict[str, dict[str, ObservedAccount]] = {"userName": {}, "email": {}}
    for account in candidates:
        if account.external_id:
            continue
        index["userName"].setdefault(account.user_name.casefold(), account)
        for name in (_email(account), account.user_name):
            if name:
                index["email"].setdefault(name.casefold(), account)
    return index


def _by_external_id(
    desired: DesiredApp, candidates: Sequence[ObservedAccount]
) -> dict[SourceUserId, Link]:
    linked: dict[SourceUserId, Link] = {}
    for account in candidates:
        source_id = SourceUserId(account.external_id or "")
        if source_id in desired.accounts and source_id not in linked:
            linked[source_id] = Link(account, "externalId")
    return linked


def _claimed_twice(
    desired: DesiredApp, candidates: Sequence[ObservedAccount]
) -> dict[SourceUserId, tuple[ObservedAccount, ...]]:
    """Known users whose externalId more than one account carries, with those accounts."""
    claims: dict[SourceUserId, list[ObservedAccount]] = {}
    for account in candidates:
        source_id = SourceUserId(account.external_id or "")
        if source_id in desired.accounts or source_id in desired.known_source_ids:
            claims.setdefault(source_id, []).append(account)
    return {
        source_id: tuple(sorted(accounts, key=lambda a: a.id))
        for source_id, accounts in claims.items()
        if len(accounts) > 1
    }


def link(desired: DesiredApp, observed: ObservedApp, match: Sequence[str]) -> Links:
    excluded = tuple(
        account
        for account in observed.accounts
        if is_excluded(desired.exclude, account.user_name, _email(account))
    )
    excluded_ids = {account.id for account in excluded}
    held = tuple(
        account
        for account in observed.accounts
        if account.id not in excluded_ids
        and quarantine.holds_account(desired, account, _email(account))
    )
    set_apart = excluded_ids | {account.id for account in held}
    candidates = [account for account in observed.accounts if account.id not in set_apart]
    doubled = _claimed_twice(desired, candidates)
    claimed = {account.id for accounts in doubled.values() for account in accounts}
    candidates = [account for account in candidates if account.id not in claimed]

    linked = _by_external_id(desired, candidates)
    taken = {found.account.id for found in linked.values()}
    index = _adoption_index(candidates)
    for source_id, wanted in sorted(desired.accounts.items()):
        if source_id in linked or source_id in doubled or not wanted.active:
            continue
        keys = {"userName": wanted.user_name.casefold(), "email": wanted.email.casefold()}
        for key in match:
            found = index.get(key, {}).get(keys.get(key, ""))
            if found is not None and found.id not in taken:
                linked[source_id] = Link(found, key)
                taken.add(found.id)
                break

    held_index = _adoption_index(held)
    waiting = frozenset(
        source_id
        for source_id, wanted in desired.accounts.items()
        if source_id not in linked
        and source_id not in doubled
        and wanted.active
        and any(
            name in held_index.get(key, {})
            for key, name in (
                ("userName", wanted.user_name.casefold()),
                ("email", wanted.email.casefold()),
            )
            if key in match
        )
    )

    unwanted: list[ObservedAccount] = []
    orphans: list[ObservedAccount] = []
    left_alone: list[ObservedAccount] = []
    for account in candidates:
        if account.id in taken:
            continue
        source_id = SourceUserId(account.external_id or "")
        if source_id in desired.unresolved:
            left_alone.append(account)
        elif source_id in desired.known_source_ids and source_id not in desired.accounts:
            unwanted.append(account)
        else:
            orphans.append(account)
    return Links(
        linked,
        tuple(unwanted),
        tuple(orphans),
        excluded,
        tuple(left_alone),
        held,
        waiting,
        doubled,
    )
