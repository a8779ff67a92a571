"""The Zendesk reconciler: observes users, groups and memberships; applies one operation at a time.

Creating goes through `create_or_update` keyed by external_id (the Salesforce user Id), so a
create retried after a crash updates the account it already made instead of making a second.
Suspension sets `suspended`, never deletes. Group memberships are only for agents and admins;
Zendesk names a membership by its own id, learnt while observing, so removing one needs no
extra lookup in the usual case (and otherwise a complete, bounded listing of the user's).

One person's accounts are looked up (`accounts_where`) with Zendesk's documented means:
- externalId: List Users' own `external_id` filter, the listing `observe` reads, cursor-paged.
- userName, which is the primary email (lower-cased): Search Users, `query=email:"..."`, on
  one page of 100 (more is not a lookup: `LookupUnsupportedError`). Zendesk indexes users
  for search and documents that a new or changed one can take "up to a few minutes" to be
  found; until then a lookup may miss it. Only an account nobody linked is found this way
  (linked ones go by externalId), and a create for its email is `create_or_update`, which
  updates that account rather than adding a second. An email the search syntax cannot quote
  raises `LookupUnsupportedError`. A user without email is `zendesk-user-<id>`: read by id.
- emails.work: no Zendesk account has one (its email is its userName), so that lookup is
  always empty; `match: email` also compares the email with userName (`controller.matching`).
Results map exactly as `observe` maps them, then `account_matches` narrows them: Zendesk
compares external ids ignoring case, the controller does not. A custom role the cached names
do not know is read afresh; a renamed one shows its old name until the next `observe`.
"""

from __future__ import annotations

import asyncio
from typing import Any

from controller import errors
from controller.model import USER_NAME, AccountId, ObservedAccount, ObservedApp, ObservedGroup
from controller.operations import Applied, Operation, OpKind
from reconcilers.base import EXTERNAL_ID, AppConnection, account_matches, check_lookup
from reconcilers.zendesk import mapping
from reconcilers.zendesk.client import ZendeskClient


def _required(value: str | None, what: str, operation: Operation) -> str:
    if not value:
        raise errors.BadRequestError(f"{operation.kind} {operation.subject}: no {what} to act on")
    return value


def _number(value: str, what: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise errors.BadRequestError(f"{what} {value!r} is not a Zendesk id") from None


class ZendeskReconciler:
    """An `AppReconciler` for the Zendesk Support Users API."""

    def __init__(self, connection: AppConnection, *, client: ZendeskClient | None = None) -> None:
        self.app = connection.app
        self._client = client if client is not None else ZendeskClient(connection)
        self._custom_roles: dict[int, str] | None = None
        self._memberships: dict[tuple[int, int], int] = {}
        """(user id, group id) -> membership id, as last observed or created."""

    async def aclose(self) -> None:
        await self._client.aclose()

    async def _roles(self) -> dict[int, str]:
        if self._custom_roles is None:
            self._custom_roles = await self._client.read("/custom_roles", mapping.custom_roles)
        return self._custom_roles

    async def observe(self) -> ObservedApp:
        """Every user, group and membership; any failure is reported in `error`."""
        self._custom_roles = None  # read afresh each cycle: an admin may have added one
        failure: Exception | None = None
        try:
            async with asyncio.TaskGroup() as listings:
                users = listings.create_task(self._client.list_all("/users", "users"))
                groups = listings.create_task(self._client.list_all("/groups", "groups"))
                members = listings.create_task(
                    self._client.list_all("/group_memberships", "group_memberships")
                )
                roles = listings.create_task(self._roles())
        except* errors.AppError as failed:
            failure = failed.exceptions[0]
        if failure is not None:
            return ObservedApp(self.app, (), (), error=str(failure))
        try:
            accounts = tuple(mapping.observed_account(u, roles.result()) for u in users.result())
        except ValueError as error:
            return ObservedApp(self.app, (), (), error=f"GET /users: {error}")
        try:
            self._memberships = mapping.memberships(members.result())
        except ValueError as error:
            return ObservedApp(self.app, (), (), error=f"GET /group_memberships: {error}")
        by_group: dict[int, set[AccountId]] = {}
        for user_id, group_id in self._memberships:
            by_group.setdefault(group_id, set()).add(AccountId(str(user_id)))
        observed_groups = tuple(
            ObservedGroup(str(g["id"]), str(g.get("name")), frozenset(by_group.get(g["id"], ())))
            for g in groups.result()
            if not g.get("deleted")
        )
        return ObservedApp(self.app, accounts, observed_groups)

    async def accounts_where(self, attribute: str, value: str) -> tuple[ObservedAccount, ...]:
        """The accounts `observe` would list whose `attribute` is `value`, in id order."""
        if check_lookup(attribute) not in (EXTERNAL_ID, USER_NAME) or not value:
            return ()  # emails.work: see the module docstring
        if attribute == EXTERNAL_ID:
            users = await self._client.list_all("/users", "users", filters={"external_id": value})
        else:
            users = await self._named(value)
        if not users:
            return ()
        roles = await self._roles()
        if any(u.get("custom_role_id") not in (None, *roles) for u in users):
            self._custom_roles = None  # one made since the names were read
            roles = await self._roles()
        try:
            accounts = [mapping.observed_account(user, roles) for user in users]
        except ValueError as error:
            raise errors.StalledError(f"GET /users: {error}") from None
        found = [a for a in accounts if account_matches(a, attribute, value)]
        return tuple(sorted(found, key=lambda account: int(account.id)))

    async def _named(self, user_name: str) -> list[dict[str, Any]]:
        """The users that may have `user_name`: searched by email, or read by id for one
        without; soft-deleted ones left out, as List Users (and so `observe`) leaves them."""
        user_id = mapping.no_email_user_id(user_name)
        if user_id is not None:
            try:
                users = [await self._client.read(f"/users/{user_id}", mapping.user_record)]
            except errors.NotFoundError:
                return []
        else:
            query = mapping.email_query(user_name)
            if query is None:
                raise errors.LookupUnsupportedError(
                    f"{self.app}: Zendesk's search syntax cannot quote this userName"
                    " (it holds a double quote, a space or a control character)"
                )
            users = await self._client.search("/users/search", "users", {"query": query})
        return [user for user in users if user.get("active", True) is not False]

    async def apply(self, operation: Operation) -> Applied:
        """Carry out one operation, or raise one of `controller.errors`."""
        try:
            return await self._apply(operation)
        except ValueError as error:  # a role or value policy gives that Zendesk cannot take
            raise errors.BadRequestError(f"{operation.kind} {operation.subject}: {error}") from None

    async def _apply(self, operation: Operation) -> Applied:
        kind = operation.kind
        if kind is OpKind.CREATE:
            body = mapping.new_user(
                operation.attributes,
                external_id=operation.source_id,
                custom_roles=await self._roles(),
            )
            created = await self._client.send("POST", "/users/create_or_update", body)
            return Applied(resource_id=str(self._record(created, "user")["id"]))
        if kind is OpKind.CREATE_GROUP:
            name = _required(operation.group, "group name", operation)
            created = await self._client.send("POST", "/groups", {"group": {"name": name}})
            return Applied(resource_id=str(self._record(created, "group")["id"]))
        account = _required(operation.account_id, "account id", operation)
        user_id = _number(account, "account id")
        if kind is OpKind.ADD_MEMBER:
            group_id = _number(_required(operation.group_id, "group id", operation), "group id")
            membership = {"group_membership": {"user_id": user_id, "group_id": group_id}}
            created = await self._client.send("POST", "/group_memberships", membership)
            self._memberships[user_id, group_id] = self._record(created, "group_membership")["id"]
            return Applied()
        if kind is OpKind.REMOVE_MEMBER:
            group_id = _number(_required(operation.group_id, "group id", operation), "group id")
            await self._remove_membership(user_id, group_id)
            return Applied()
        if kind is OpKind.DELETE:
            await self._client.send("DELETE", f"/users/{user_id}")
            return Applied()
        update: dict[str, Any]
        if kind is OpKind.UPDATE:
            update = mapping.user_update(operation.attributes, await self._roles())
        elif kind is OpKind.LINK:
            update = {"user": {"external_id": _required(operation.source_id, "id", operation)}}
        elif kind in (OpKind.ACTIVATE, OpKind.SUSPEND):
            update = {"user": {"suspended": kind is OpKind.SUSPEND}}
        else:
            raise errors.BadRequestError(f"{kind} is not an operation Zendesk supports")
        if update["user"]:
            await self._client.send("PUT", f"/users/{user_id}", update)
        return Applied()

    async def _remove_membership(self, user_id: int, group_id: int) -> None:
        membership = self._memberships.get((user_id, group_id))
        if membership is None:  # not seen while observing: list all this user's memberships
            listed = await self._client.list_all(  # a listing cut short raises, never "gone"
                f"/users/{user_id}/group_memberships", "group_memberships"
            )
            membership = mapping.membership_of(listed, group_id)
        if membership is None:
            return  # already gone: the plan's end state holds
        await self._client.send("DELETE", f"/group_memberships/{membership}")
        self._memberships.pop((user_id, group_id), None)

    @staticmethod
    def _record(body: Any, key: str) -> dict[str, Any]:
        record = body.get(key) if isinstance(body, dict) else None
        if not isinstance(record, dict) or "id" not in record:
            raise errors.StalledError(f"Zendesk answered without a {key} id: not its API?")
        return record
