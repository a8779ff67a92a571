"""A plan is data: the operations it is made of, and the drift it was computed from.

The planner (`controller.plan`) builds these, the guards and the renderers read them, and each
reconciler's `apply` carries out one `Operation` at a time. Keeping them in their own module lets
reconcilers depend on the shape of an operation without depending on how plans are made.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from controller.model import AccountId, AppName, SourceUserId


class OpKind(enum.StrEnum):
    """Operation kinds, declared in the order a plan applies them.

    Groups and accounts exist before members are added; members are removed before an account is
    suspended or deleted, so that nothing refers to an account that is gone.
    """

    CREATE_GROUP = "create_group"
    CREATE = "create"
    LINK = "link"
    UPDATE = "update"
    ACTIVATE = "activate"
    ADD_MEMBER = "add_member"
    REMOVE_MEMBER = "remove_member"
    SUSPEND = "suspend"
    DELETE = "delete"

    @property
    def destructive(self) -> bool:
        """Deprovisions: the operations the safety guards count and may hold."""
        return self in (OpKind.SUSPEND, OpKind.DELETE)


ORDER = {kind: position for position, kind in enumerate(OpKind)}


@dataclass(frozen=True)
class Change:
    """One attribute's value before and after; `before` is None for a create."""

    attribute: str
    before: Any
    after: Any


@dataclass(frozen=True)
class Operation:
    """One write to one app.

    Accounts are named by the source user (`source_id`) and, once they exist, by the app's own id
    (`account_id`). An operation planned against an account that a `create` earlier in the same
    plan makes has no `account_id` yet; the executor fills it in from the create's result.
    Likewise `group_id` is None for a group created in the same plan.
    """

    kind: OpKind
    app: AppName
    user_name: str | None = None
    source_id: SourceUserId | None = None
    account_id: AccountId | None = None
    group: str | None = None
    group_id: str | None = None
    changes: tuple[Change, ...] = ()
    attributes: Mapping[str, Any] = field(default_factory=dict)
    """For create: every owned attribute. For update/link: the new values of the changed ones."""
    reason: str = ""

    @property
    def subject(self) -> str:
        """How the operation is named to a person: the group, the account, or both."""
        if self.kind is OpKind.CREATE_GROUP:
            return f"group {self.group}"
        if self.group is not None:
            return f"{self.user_name} in group {self.group}"
        return self.user_name or str(self.account_id)


class DriftKind(enum.StrEnum):
    """Kinds of difference between desired and observed, as `provisioner_drift_accounts` labels."""

    MISSING = "missing"
    UNEXPECTED = "unexpected"
    ATTRIBUTES = "attributes"
    GROUPS = "groups"
    ORPHANED = "orphaned"


@dataclass(frozen=True)
class Orphan:
    """An account with no source user: reported, never touched unless the app prunes."""

    account_id: AccountId
    user_name: str
    active: bool


@dataclass(frozen=True)
class Plan:
    """The ordered operations that converge one app, and the drift they answer."""

    app: AppName
    operations: tuple[Operation, ...]
    drift: Mapping[DriftKind, int]
    orphans: tuple[Orphan, ...] = ()
    notes: tuple[str, ...] = ()
    """Why something was not planned (a failed read, an excluded account), for the reader."""
    error: str | None = None
    """Set when the app could not be observed: the plan is then empty and must not be applied."""
    blocked: tuple[Operation, ...] = ()
    """Operations a safety guard holds this run: shown, counted, never applied."""
    blocked_reason: str | None = None
    """Why `blocked` is held, and how to release it, in words for the operator."""
    released_by: str | None = None
    """Who let deprovisions over the per-run limits through once (an operator's approval, or
    --allow-deprovisions); None when no override was used."""
    conflicts: tuple[str, ...] = ()
    """Managed groups the app holds more than once under one name, in words: no membership of
    either copy is changed until a person removes or renames one (never half-managed)."""

    @property
    def in_sync(self) -> bool:
        return (
            not self.operations and not self.blocked and self.error is None and not self.conflicts
        )


@dataclass(frozen=True)
class Applied:
    """What an app answered to one operation: the id of anything it created."""

    resource_id: str | None = None
