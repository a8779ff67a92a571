"""The SCIM 2.0 reconciler: observes /Users and /Groups and applies one operation at a time.

It sequences calls and nothing more: `mapping` builds and reads every payload, `client` sends
them and turns failures into `controller.errors`. Observation never raises; a listing that
failed or did not add up comes back as an `ObservedApp` with `error` set, so the planner holds
anything destructive. Any SCIM app with no quirks of its own is driven by this class directly.

A targeted cycle finds one person's accounts (`accounts_where`) with one `eq` filter on /Users
(`mapping.LOOKUP_PATHS`), paged and bounded like a listing and mapped as `observe` maps, then
narrowed by `account_matches`. A server that cannot filter says so (its ServiceProviderConfig,
a 400 or a 501), and the lookup raises `LookupUnsupportedError`: the caller lists instead.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import ClassVar

from scim2_models import Group, PatchOp

from controller import errors
from controller.model import AccountId, ObservedAccount, ObservedApp
from controller.operations import Applied, Operation, OpKind
from reconcilers.base import AppConnection, account_matches, check_lookup
from reconcilers.members import MemberBatches
from reconcilers.scim import mapping
from reconcilers.scim.client import ScimClient

USERS = "/Users"
GROUPS = "/Groups"


def _required(value: str | None, what: str, operation: Operation) -> str:
    if not value:
        raise errors.BadRequestError(f"{operation.kind} {operation.subject}: no {what} to act on")
    return value


class ScimReconciler:
    """An `AppReconciler` and `AccountLookup` for an app that speaks plain SCIM 2.0."""

    lookup_paths: ClassVar[Mapping[str, str]] = mapping.LOOKUP_PATHS
    """The SCIM attribute each lookup filters on; an app without one cannot look up by it."""

    def __init__(self, connection: AppConnection, *, client: ScimClient | None = None) -> None:
        self.app = connection.app
        self._client = client if client is not None else ScimClient(connection)
        self.members = MemberBatches(self._patch_members)

    async def _patch_members(self, group_id: str, add: bool, accounts: Sequence[str]) -> None:
        """One PATCH adding or removing `accounts` (MemberBatches sends these)."""
        try:
            if add:
                changes = mapping.add_members(accounts)
            else:
                changes = [c for account in accounts for c in mapping.remove_member(account)]
            patch = PatchOp[Group](operations=changes)
        except ValueError as error:
            raise errors.BadRequestError(f"PATCH {GROUPS}/{group_id}: {error}") from None
        await self._client.patch(f"{GROUPS}/{group_id}", patch)

    async def aclose(self) -> None:
        await self._client.aclose()

    async def observe(self) -> ObservedApp:
        """Every user and group; any failure is reported in `error`, never as a short list."""
        failure: Exception | None = None
        try:  # a TaskGroup, not gather: a failed listing must cancel the other, not orphan it
            async with asyncio.TaskGroup() as listings:
                users = listings.create_task(self._client.list_all(USERS, mapping.ScimUser))
                groups = listings.create_task(self._client.list_all(GROUPS, Group))
        except* errors.AppError as failed:
            failure = failed.exceptions[0]
        if failure is not None:
            return ObservedApp(self.app, (), (), error=str(failure))
        try:
            accounts = tuple(mapping.observed_account(user) for user in users.result())
            observed_groups = tuple(mapping.observed_group(group) for group in groups.result())
        except ValueError as error:
            message = f"GET {USERS}, {GROUPS}: {mapping.describe(error)}"
            return ObservedApp(self.app, (), (), error=message)
        return ObservedApp(self.app, accounts, observed_groups)

    async def accounts_where(self, attribute: str, value: str) -> tuple[ObservedAccount, ...]:
        """The accounts `observe` would list whose `attribute` is `value`: one filtered, paged
        GET /Users, mapped as `observe` maps, narrowed by `account_matches`."""
        path = self.lookup_paths.get(check_lookup(attribute))
        if path is None:
            raise errors.LookupUnsupportedError(f"{self.app} cannot filter users by {attribute}")
        if not value:
            return ()  # no account has an empty userName, externalId or email
        scim_filter = mapping.equals_filter(path, value)
        users = await self._client.search(USERS, mapping.ScimUser, scim_filter)
        try:
            accounts = [mapping.observed_account(user) for user in users]
        except ValueError as error:
            where = f"GET {USERS}?filter={scim_filter}"
            raise errors.StalledError(f"{where}: {mapping.describe(error)}") from None
        return tuple(account for account in accounts if account_matches(account, attribute, value))

    async def apply(self, operation: Operation) -> Applied:
        """Carry out one operation, or raise one of `controller.errors`."""
        try:
            return await self._apply(operation)
        except ValueError as error:  # a value the SCIM models refuse: a bad payload, not sent
            message = f"{operation.kind} {operation.subject}: {mapping.describe(error)}"
            raise errors.BadRequestError(message) from None

    async def _apply(self, operation: Operation) -> Applied:
        kind = operation.kind
        if kind is OpKind.CREATE:
            user = mapping.new_user(operation.attributes, external_id=operation.source_id)
            created = await self._client.create(USERS, user)
            return Applied(resource_id=created.id)
        if kind is OpKind.CREATE_GROUP:
            name = _required(operation.group, "group name", operation)
            group = await self._client.create(GROUPS, mapping.new_group(name))
            return Applied(resource_id=group.id)
        account = AccountId(_required(operation.account_id, "account id", operation))
        if kind in (OpKind.ADD_MEMBER, OpKind.REMOVE_MEMBER):
            group_id = _required(operation.group_id, "group id", operation)
            await self.members.change(group_id, account, add=kind is OpKind.ADD_MEMBER)
            return Applied()
        if kind is OpKind.DELETE:
            await self._client.delete(f"{USERS}/{account}")
            return Applied()
        if kind is OpKind.UPDATE:
            changes = mapping.attribute_patch(operation.attributes)
        elif kind is OpKind.LINK:
            changes = mapping.replace("externalId", _required(operation.source_id, "id", operation))
        elif kind in (OpKind.ACTIVATE, OpKind.SUSPEND):
            changes = mapping.replace("active", kind is OpKind.ACTIVATE)
        else:
            raise errors.BadRequestError(f"{kind} is not an operation SCIM apps support")
        if changes:
            await self._client.patch(
                f"{USERS}/{account}", PatchOp[mapping.ScimUser](operations=changes)
            )
        return Applied()
