"""The values that flow through a cycle: source users, desired and observed accounts.

Everything here is a frozen dataclass with no behaviour beyond small derived properties, so the
pure planning core (`desired`, `matching`, `plan`) can pass these around without copying or
guarding against mutation. Sources build `SourceUser`s, `desired` turns them into
`DesiredApp`s, reconcilers report `ObservedApp`s, and `plan` compares the two.

Account attributes are a flat mapping of attribute names (``userName``, ``displayName``,
``name.givenName``, ``emails.work``, ``title``, ``role`` ...) to plain values; each reconciler's
mapping module translates between that and its wire format, and says which names it supports.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NewType

AppName = NewType("AppName", str)
SourceUserId = NewType("SourceUserId", str)
"""The Salesforce User Id (18 characters); carried in each app as the account's externalId."""
AccountId = NewType("AccountId", str)
"""The id an app gives its own account (SCIM ``id``, Slack ``U…``)."""

USER_NAME = "userName"
"""The one attribute every account has; apps compare it case-insensitively (RFC 7643 4.1.1)."""
CASE_INSENSITIVE_ATTRIBUTES = frozenset({USER_NAME, "emails.work"})


@dataclass(frozen=True)
class SourceUser:
    """A person as the source of truth (Salesforce, or a file using its field names) has them."""

    id: SourceUserId
    username: str
    email: str
    first_name: str = ""
    last_name: str = ""
    is_active: bool = True
    frozen: bool = False
    profile: str | None = None
    role: str | None = None
    department: str | None = None
    permission_sets: frozenset[str] = frozenset()
    fields: Mapping[str, Any] = field(default_factory=dict)
    """Every field read, by its Salesforce name (``Title``, ``Profile.Name``, custom ``X__c``)."""


@dataclass(frozen=True)
class Quarantined:
    """A source record that could not become a valid user, set aside (DESIGN.md rule 7).

    Nothing of that person's is created, changed or deprovisioned in any app until the record
    is fixed. Whatever identifies them is kept, where the record has it, so that their accounts
    can be recognised and left alone; it goes to logs and output, never to a metric label.
    """

    field: str
    """The field at fault (`Email`, `IsActive`, `Contractor_End_Date__c`...)."""
    message: str
    """What is wrong, naming the field: `missing required field(s): Email`."""
    source_id: SourceUserId | None = None
    username: str | None = None
    email: str | None = None
    where: str | None = None
    """Where the record is, when an Id cannot say it: `users.yaml:12` for a file."""

    @property
    def who(self) -> str:
        """The user in words: `User 005A... (ada@org.example)`, or the record's place."""
        parts = [f"User {self.source_id}" if self.source_id else "a user with no Id"]
        if self.username:
            parts.append(f"({self.username})")
        if self.where:
            parts.append(f"at {self.where}")
        return " ".join(parts)


@dataclass(frozen=True)
class SourceRead:
    """The outcome of reading one source completely, or the reason it could not be read."""

    source: str
    users: tuple[SourceUser, ...]
    read_at: datetime.datetime
    error: str | None = None
    """Set when the read failed or stopped early: then `users` must not be trusted as complete."""
    quarantined: tuple[Quarantined, ...] = ()
    """Records read but set aside as invalid; `users` holds every other record."""

    @property
    def records(self) -> int:
        """Every record read, valid or quarantined: what the quarantine share is taken of."""
        return len(self.users) + len(self.quarantined)

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class DesiredAccount:
    """What one source user should have in one app."""

    source_id: SourceUserId
    user_name: str
    email: str
    """The source user's email: a second way to recognise an existing account (`match: email`)."""
    active: bool
    attributes: Mapping[str, Any]
    """The owned attributes, including userName; only these are compared and written."""
    groups: frozenset[str]
    reason: str
    """Why the account has this state: the rules that granted it, or why it is inactive."""


@dataclass(frozen=True)
class DesiredApp:
    """The desired accounts of one app, plus what the planner needs to know about ownership."""

    app: AppName
    accounts: Mapping[SourceUserId, DesiredAccount]
    managed_groups: frozenset[str]
    """Every group some rule grants in this app: membership of other groups is left alone."""
    known_source_ids: frozenset[SourceUserId]
    """Every source user read, granted or not: an account linked to one of these is managed."""
    unresolved: frozenset[SourceUserId] = frozenset()
    """Source users whose desired account could not be computed (a template failed for them):
    their accounts are left exactly as they are."""
    exclude: tuple[str, ...] = ()
    """userName or email glob patterns that are never touched."""
    held_source_ids: frozenset[SourceUserId] = frozenset()
    """Ids of quarantined source records: accounts linked to them are left exactly as they are."""
    held_names: frozenset[str] = frozenset()
    """Casefolded usernames and emails of quarantined records: an account, or a desired
    account, answering to one of them may be that person's, and is left as it is."""
    held_unidentified: bool = False
    """A quarantined record has no Id: any account not linked by externalId to a user read
    whole may be that person's, so every such account is left as it is."""
    source_complete: bool = True
    """False when a source read failed: nothing may then be deprovisioned."""


@dataclass(frozen=True)
class ObservedAccount:
    """An account as the app reports it, attributes normalised by the reconciler's mapping."""

    id: AccountId
    user_name: str
    active: bool
    external_id: str | None = None
    attributes: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ObservedGroup:
    id: str
    name: str
    members: frozenset[AccountId]


@dataclass(frozen=True)
class ObservedApp:
    """Everything one listing of an app returned, and whether that listing can be trusted."""

    app: AppName
    accounts: tuple[ObservedAccount, ...]
    groups: tuple[ObservedGroup, ...]
    error: str | None = None
    """Set when the listing failed or was cut short: then nothing destructive is planned."""
    scope: frozenset[SourceUserId] | None = None
    """Set by a targeted cycle: only the accounts that may be these users' were looked up (and
    `groups` are remembered, not listed). None: the app was listed whole."""

    @property
    def ok(self) -> bool:
        return self.error is None
