"""An in-memory app for tests of the pure core: applies operations the way a SCIM app would.

It is a test double for the property tests (apply a plan, re-plan, expect nothing left), not a
stand-in for the real servers the adapter and end-to-end tests use.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Mapping
from typing import Any

from controller.errors import BadRequestError
from controller.model import (
    AccountId,
    AppName,
    DesiredAccount,
    DesiredApp,
    ObservedAccount,
    ObservedApp,
    ObservedGroup,
    SourceUserId,
)
from controller.operations import Applied, Operation, OpKind, Plan

_ids = itertools.count(1)


def desired_account(
    source_id: str,
    user_name: str,
    *,
    active: bool = True,
    groups: frozenset[str] = frozenset(),
    email: str | None = None,
    **attributes: Any,
) -> DesiredAccount:
    return DesiredAccount(
        source_id=SourceUserId(source_id),
        user_name=user_name,
        email=email or user_name,
        active=active,
        attributes={"userName": user_name, **attributes},
        groups=groups,
        reason="test",
    )


def desired_app(
    *accounts: DesiredAccount,
    known: tuple[str, ...] = (),
    groups: frozenset[str] | None = None,
    **kwargs: Any,
) -> DesiredApp:
    managed = groups if groups is not None else frozenset(g for a in accounts for g in a.groups)
    return DesiredApp(
        app=AppName("app"),
        accounts={a.source_id: a for a in accounts},
        managed_groups=managed,
        known_source_ids=frozenset(SourceUserId(i) for i in known)
        | {a.source_id for a in accounts},
        **kwargs,
    )


def observed(
    *accounts: ObservedAccount, groups: Mapping[str, set[str]] | None = None
) -> ObservedApp:
    group_values = tuple(
        ObservedGroup(f"g-{name}", name, frozenset(AccountId(m) for m in members))
        for name, members in (groups or {}).items()
    )
    return ObservedApp(AppName("app"), accounts, group_values)


def account(
    account_id: str,
    user_name: str,
    *,
    external_id: str | None = None,
    active: bool = True,
    **attrs: Any,
) -> ObservedAccount:
    return ObservedAccount(
        AccountId(account_id), user_name, active, external_id, {"userName": user_name, **attrs}
    )


def apply_plan(state: ObservedApp, plan: Plan) -> ObservedApp:
    """The state an app would report after carrying out every operation of `plan`."""
    accounts = {a.id: a for a in state.accounts}
    groups = {g.name: g for g in state.groups}
    created: dict[SourceUserId | None, AccountId] = {}
    for op in plan.operations:
        target = op.account_id or created.get(op.source_id)
        if op.kind is OpKind.CREATE_GROUP:
            assert op.group is not None
            groups[op.group] = ObservedGroup(f"g-{op.group}", op.group, frozenset())
        elif op.kind is OpKind.CREATE:
            new_id = AccountId(f"new-{next(_ids)}")
            created[op.source_id] = new_id
            attrs = {k: v for k, v in op.attributes.items() if v is not None}
            accounts[new_id] = ObservedAccount(
                new_id, str(op.attributes["userName"]), True, op.source_id, attrs
            )
        elif op.kind in (OpKind.ADD_MEMBER, OpKind.REMOVE_MEMBER):
            assert op.group is not None and target is not None
            group = groups[op.group]
            members = set(group.members)
            if op.kind is OpKind.ADD_MEMBER:
                members.add(target)
            else:
                members.discard(target)
            groups[op.group] = dataclasses.replace(group, members=frozenset(members))
        else:
            assert target is not None
            current = accounts[target]
            if op.kind is OpKind.DELETE:
                del accounts[target]
            elif op.kind is OpKind.LINK:
                accounts[target] = dataclasses.replace(current, external_id=op.source_id)
            elif op.kind is OpKind.UPDATE:
                attrs = dict(current.attributes)
                for name, value in op.attributes.items():
                    if value is None:
                        attrs.pop(name, None)
                    else:
                        attrs[name] = value
                user_name = str(attrs.get("userName", current.user_name))
                accounts[target] = dataclasses.replace(
                    current, attributes=attrs, user_name=user_name
                )
            else:
                active = op.kind is OpKind.ACTIVATE
                accounts[target] = dataclasses.replace(current, active=active)
    return ObservedApp(state.app, tuple(accounts.values()), tuple(groups.values()))


class FakeReconciler:
    """An AppReconciler over an in-memory ObservedApp, for executor tests."""

    def __init__(self, state: ObservedApp, *, fail: set[OpKind] | None = None) -> None:
        self.app = state.app
        self.state = state
        self.fail = fail or set()
        self.applied: list[Operation] = []

    async def observe(self) -> ObservedApp:
        return self.state

    async def apply(self, operation: Operation) -> Applied:
        if operation.kind in self.fail:
            raise BadRequestError(f"refused {operation.kind}", status=400)
        self.applied.append(operation)
        return Applied(resource_id=f"id-{operation.source_id or operation.group}")

    async def aclose(self) -> None:
        return None
