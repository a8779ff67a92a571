"""Carries out one app's plan through its reconciler, phase by phase, and reports every outcome.

Operations of one kind run concurrently (bounded); kinds run in plan order, so a group or account
exists before members are added. Ids the app assigns on create are handed to the operations that
need them; an operation whose prerequisite failed is skipped, not attempted. Every operation ends
as exactly one outcome (success, error or skipped), so nothing is lost from the report.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from controller import errors
from controller.model import AccountId, AppName, SourceUserId
from controller.operations import Operation, OpKind, Plan
from reconcilers.base import AppReconciler

SUCCESS, ERROR, SKIPPED = "success", "error", "skipped"


@dataclass(frozen=True)
class Outcome:
    operation: Operation
    result: str
    """success | error | skipped, as `provisioner_operations_total` labels it."""
    detail: str = ""


@dataclass(frozen=True)
class ApplyReport:
    app: AppName
    outcomes: tuple[Outcome, ...]

    @property
    def failed(self) -> bool:
        return any(outcome.result != SUCCESS for outcome in self.outcomes)

    def count(self, result: str) -> int:
        return sum(1 for outcome in self.outcomes if outcome.result == result)


class _Ids:
    """Ids learnt while applying: accounts and groups created earlier in the same plan."""

    def __init__(self) -> None:
        self.accounts: dict[SourceUserId, AccountId] = {}
        self.groups: dict[str, str] = {}

    def resolve(self, operation: Operation) -> Operation | str:
        """The operation with its ids filled in, or why it cannot run."""
        if operation.kind in (OpKind.CREATE, OpKind.CREATE_GROUP):
            return operation
        account_id = operation.account_id
        if account_id is None:
            account_id = self.accounts.get(operation.source_id or SourceUserId(""))
            if account_id is None:
                return "its account was not created"
        group_id = operation.group_id
        if operation.group is not None and group_id is None:
            group_id = self.groups.get(operation.group)
            if group_id is None:
                return f"group {operation.group} was not created"
        return dataclasses.replace(operation, account_id=account_id, group_id=group_id)

    def learn(self, operation: Operation, resource_id: str | None) -> None:
        if resource_id is None:
            return
        if operation.kind is OpKind.CREATE and operation.source_id is not None:
            self.accounts[operation.source_id] = AccountId(resource_id)
        elif operation.kind is OpKind.CREATE_GROUP and operation.group is not None:
            self.groups[operation.group] = resource_id


def _with_new_id(operation: Operation, resource_id: str | None) -> Operation:
    """A create's outcome names what it created: the app's id of the new account or group."""
    if resource_id is None:
        return operation
    if operation.kind is OpKind.CREATE:
        return dataclasses.replace(operation, account_id=AccountId(resource_id))
    if operation.kind is OpKind.CREATE_GROUP:
        return dataclasses.replace(operation, group_id=resource_id)
    return operation


class Witness(Protocol):
    """Who must know of each operation before it is sent and of its outcome after (the
    journal): `intend` returns a token that `finish` is later given with the outcome."""

    def intend(self, operation: Operation) -> int: ...

    def finish(self, token: int, outcome: Outcome) -> None: ...


MEMBERSHIP = frozenset({OpKind.ADD_MEMBER, OpKind.REMOVE_MEMBER})
MEMBERS_IN_FLIGHT = 1000
"""Membership changes handed at once to a reconciler that batches them: one PATCH's worth."""


async def execute(
    plan: Plan,
    reconciler: AppReconciler,
    *,
    concurrency: int = 8,
    batched_members: bool = False,
    on_outcome: Callable[[Outcome], None] | None = None,
    witness: Witness | None = None,
    deadline_seconds: float | None = None,
) -> ApplyReport:
    """Apply every operation of the plan; never raises for a failed operation.

    Past `deadline_seconds`, what is in flight is abandoned and every operation that has not
    finished is an error, journaled and reported like any other (the next cycle plans it
    again from what the app then shows).

    With a `witness`, every operation is recorded as intended before it is sent (a skipped one
    too) and its outcome is recorded after, before it is reported. With `batched_members`, the
    reconciler sends a group's waiting membership changes in one request, so up to
    MEMBERS_IN_FLIGHT of them are handed to it at once instead of `concurrency`.
    """
    ids = _Ids()
    writes = asyncio.Semaphore(concurrency)
    members = asyncio.Semaphore(MEMBERS_IN_FLIGHT if batched_members else concurrency)
    outcomes: dict[int, Outcome] = {}
    in_flight: dict[int, tuple[Operation, int | None]] = {}
    """Sent and not yet answered, with the journal's intent: what a deadline cuts short."""

    def settle(position: int, outcome: Outcome, token: int | None) -> None:
        if witness is not None and token is not None:
            witness.finish(token, outcome)
        outcomes[position] = outcome
        if on_outcome is not None:
            on_outcome(outcome)

    async def run(position: int, operation: Operation) -> None:
        resolved = ids.resolve(operation)
        if isinstance(resolved, str):
            token = witness.intend(operation) if witness else None
            outcome = Outcome(operation, SKIPPED, resolved)
        else:
            limit = members if operation.kind in MEMBERSHIP else writes
            async with limit:
                token = witness.intend(resolved) if witness else None
                in_flight[position] = (resolved, token)
                try:
                    applied = await reconciler.apply(resolved)
                except errors.AppError as error:
                    outcome = Outcome(resolved, ERROR, str(error))
                except Exception as error:  # an adapter's bug fails this operation, not the rest
                    outcome = Outcome(resolved, ERROR, f"{type(error).__name__}: {error}")
                else:
                    ids.learn(resolved, applied.resource_id)
                    outcome = Outcome(_with_new_id(resolved, applied.resource_id), SUCCESS)
                del in_flight[position]  # answered; a cancelled one stays for the deadline
        settle(position, outcome, token)

    numbered = list(enumerate(plan.operations))
    try:
        async with asyncio.timeout(deadline_seconds):
            for _, phase in itertools.groupby(numbered, key=lambda item: item[1].kind):
                async with asyncio.TaskGroup() as group:
                    for position, operation in phase:
                        group.create_task(run(position, operation))
    except TimeoutError:
        # Sent but unanswered: the journal says so (the app will tell what happened); never
        # sent: journaled as an error too, so the record of the cycle is whole.
        why = f"not applied within {deadline_seconds:g} s (limits.applySeconds)"
        for position, operation in numbered:
            if position in outcomes:
                continue
            sent, token = in_flight.pop(position, (operation, None))
            if token is None and witness is not None:
                token = witness.intend(sent)
            settle(position, Outcome(sent, ERROR, why), token)
    return ApplyReport(plan.app, tuple(outcomes[i] for i in sorted(outcomes)))
