"""What moving the policy from one revision to another would change in live accounts.

Both revisions are planned over the same look at the source and the apps; an account is affected
when the operations planned for it differ (including operations a guard would hold). Drift the
apps already have shows in both plans alike and so cancels out: what remains is the effect of
the policy change alone, which is what a reviewer of a policy pull request is asked to approve.
Pure: cycles in, differences out.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from controller.cycle import AppCycle, Cycle
from controller.operations import Operation
from controller.render_markdown import affected

Signature = tuple[str, str | None, tuple[tuple[str, str], ...], bool]


@dataclass(frozen=True)
class AccountDiff:
    account: str
    base: tuple[Operation, ...]
    """What the base revision plans for the account (empty: nothing)."""
    head: tuple[Operation, ...]


ADDED = "new at head: the policy starts managing this app"
REMOVED = "removed at head: its accounts are no longer managed (nothing is deprovisioned)"


@dataclass(frozen=True)
class AppDiff:
    app: str
    accounts: tuple[AccountDiff, ...]
    scope: str | None = None
    """ADDED or REMOVED when the app is in one revision only."""
    error: str | None = None
    """Why the app could not be read: then nothing is known about its accounts."""

    @property
    def changed(self) -> bool:
        return bool(self.accounts) or self.scope is not None


def _signature(operation: Operation, *, held: bool) -> Signature:
    """What an operation does, without its wording: same signature, same effect."""
    changes = tuple((c.attribute, repr(c.after)) for c in operation.changes)
    return operation.kind.value, operation.group, changes, held


def _planned(app: AppCycle | None) -> dict[str, tuple[list[Operation], set[Signature]]]:
    if app is None:
        return {}
    found: dict[str, tuple[list[Operation], set[Signature]]] = {}
    for held, operations in ((False, app.plan.operations), (True, app.plan.blocked)):
        for account, ops in affected(operations).items():
            entry = found.setdefault(account, ([], set()))
            entry[0].extend(ops)
            entry[1].update(_signature(op, held=held) for op in ops)
    return found


def compare_app(base: AppCycle | None, head: AppCycle | None) -> AppDiff:
    name = (head or base).app  # type: ignore[union-attr]
    at_base, at_head = _planned(base), _planned(head)
    accounts = tuple(
        AccountDiff(account, tuple(at_base.get(account, ([], set()))[0]), tuple(ops))
        for account, (ops, signatures) in at_head.items()
        if signatures != at_base.get(account, ([], set()))[1]
    )
    dropped = tuple(
        AccountDiff(account, tuple(ops), ())
        for account, (ops, _) in at_base.items()
        if account not in at_head
    )
    ordered = tuple(sorted(accounts + dropped, key=lambda diff: diff.account))
    scope = ADDED if base is None else REMOVED if head is None else None
    error = next((c.plan.error for c in (head, base) if c is not None and c.plan.error), None)
    return AppDiff(name, ordered, scope, error)


def compare(base: Cycle, head: Cycle) -> tuple[AppDiff, ...]:
    """Every app of either revision, in head's order then base's, with what differs."""
    at_base = {app.app: app for app in base.apps}
    at_head = {app.app: app for app in head.apps}
    names = list(at_head) + [name for name in at_base if name not in at_head]
    return tuple(compare_app(at_base.get(name), at_head.get(name)) for name in names)


def affected_accounts(diffs: Iterable[AppDiff]) -> int:
    return sum(len(diff.accounts) for diff in diffs)
