"""Slack's SCIM v2 API: SCIM with Slack's rules (reference/target-apps.md B1).

What differs from plain SCIM, and where it is handled:
- userName: at most 21 characters, lower case, other characters become `_`: `naming.shape`
  derives valid, unique names before planning and notes collisions.
- DELETE only deactivates, so policy may not ask to delete (`can_delete=False`); suspension is
  `active=false` by PATCH, as for any SCIM app, and a returning user is reactivated.
- Emails are unique across active and deactivated users: the example policy matches on email,
  so a returning person's deactivated account is linked and reactivated, never re-created.
- `count` at most 1000; JSON as `application/json`; one write per user or group at a time
  (`members` batches a group's membership changes into one PATCH); per-endpoint limits of 180
  writes a minute in bursts of 20, with 429 and Retry-After.
"""

from __future__ import annotations

from collections.abc import Sequence

from scim2_models import Group, PatchOp

from controller import errors
from controller.model import USER_NAME
from controller.operations import Applied, Operation, OpKind
from reconcilers.base import AppConnection, ReconcilerKind
from reconcilers.scim import ScimReconciler, mapping
from reconcilers.scim.client import ScimClient
from reconcilers.scim.mapping import EMAIL, SUPPORTED_ATTRIBUTES
from reconcilers.slack import naming
from reconcilers.slack.members import MemberBatches
from reconcilers.throttle import WriteRate

MEDIA_TYPE = "application/json"


class SlackReconciler(ScimReconciler):
    """The SCIM reconciler speaking Slack's dialect: JSON, one write per object at a time, and
    concurrent membership changes of a group sent in one PATCH."""

    def __init__(self, connection: AppConnection) -> None:
        client = ScimClient(connection, media_type=MEDIA_TYPE, one_write_per_object=True)
        super().__init__(connection, client=client)
        self._client = client
        self.members = MemberBatches(self._patch_members)

    async def apply(self, operation: Operation) -> Applied:
        kind, group_id, account = operation.kind, operation.group_id, operation.account_id
        if kind in (OpKind.ADD_MEMBER, OpKind.REMOVE_MEMBER) and group_id and account:
            await self.members.change(group_id, account, add=kind is OpKind.ADD_MEMBER)
            return Applied()
        return await super().apply(operation)

    async def _patch_members(self, group_id: str, add: bool, accounts: Sequence[str]) -> None:
        try:
            if add:
                changes = mapping.add_members(accounts)
            else:
                changes = [c for account in accounts for c in mapping.remove_member(account)]
            patch = PatchOp[Group](operations=changes)
        except ValueError as error:
            raise errors.BadRequestError(f"PATCH /Groups/{group_id}: {error}") from None
        await self._client.patch(f"/Groups/{group_id}", patch)


KIND = ReconcilerKind(
    factory=SlackReconciler,
    supported_attributes=SUPPORTED_ATTRIBUTES - {"role", "userType", "locale", "timezone"},
    required_attributes=frozenset({USER_NAME, EMAIL}),
    write_rate=WriteRate(per_minute=180, burst=20),
    max_page_size=1000,
    shape=naming.shape,
    can_delete=False,
)

__all__ = ["KIND", "SlackReconciler"]
