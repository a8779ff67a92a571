"""The journal's records as plain values: what is written, and what a query gives back.

Kept apart from the store so that the engine, the CLI and a future PostgreSQL store share
them without importing SQL.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass, field

from controller.operations import Change  # the planner's own before/after, journaled as is

INTENDED, SUCCESS, ERROR, SKIPPED = "intended", "success", "error", "skipped"


def naive_utc(moment: datetime.datetime) -> datetime.datetime:
    """How the journal stores a time: naive UTC (SQLite keeps no zone)."""
    return moment.astimezone(datetime.UTC).replace(tzinfo=None)


def aware_utc(moment: datetime.datetime | None) -> datetime.datetime | None:
    """A stored time read back as aware UTC."""
    return None if moment is None else moment.replace(tzinfo=datetime.UTC)


@dataclass(frozen=True)
class OperationRecord:
    """One operation as the journal keeps it."""

    app: str
    kind: str
    reason: str
    source_id: str | None = None
    account_id: str | None = None
    user_name: str | None = None
    group_name: str | None = None
    changes: tuple[Change, ...] = ()
    source_changed_at: datetime.datetime | None = None
    """For a deprovision: when the source took the access away, where it says."""


@dataclass(frozen=True)
class AppResult:
    """One app's part of a cycle."""

    result: str
    planned: int = 0
    succeeded: int = 0
    failed: int = 0
    blocked: int = 0
    held_by_limit: int = 0
    """Of `blocked`, the deprovisions the per-run limit held: what `approve` can release."""


@dataclass(frozen=True)
class Entry:
    """An operation read back: the record, its outcome, and when."""

    id: int
    cycle_id: int
    record: OperationRecord
    status: str
    intended_at: datetime.datetime
    finished_at: datetime.datetime | None = None
    duration_seconds: float | None = None
    error: str | None = None


@dataclass(frozen=True)
class HistoryQuery:
    """Which entries to read: every given condition must hold; newest first."""

    user: str | None = None
    """A source user Id, or a userName / email (case-insensitive)."""
    app: str | None = None
    since: datetime.datetime | None = None
    limit: int | None = None
    statuses: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True)
class Facts:
    """What later runs need and cannot observe again (state.json held these before issue 15).

    Read, it is everything the journal knows; written, it replaces what was known of each source
    and app it names, and leaves the others alone.
    """

    trusted_active: Mapping[str, int] = field(default_factory=dict)
    """Active users at each source's last trusted read, by source name: the drop guard's base."""
    suspended_since: Mapping[str, Mapping[str, datetime.datetime]] = field(default_factory=dict)
    """By app, when each managed account was first seen (or made) suspended, by account id."""

    def merged(self, newer: Facts) -> Facts:
        """These facts with every source and app that `newer` names replaced by its own."""
        return Facts(
            {**self.trusted_active, **newer.trusted_active},
            {**self.suspended_since, **newer.suspended_since},
        )
