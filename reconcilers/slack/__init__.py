"""Slack's SCIM v2 API: SCIM with Slack's rules (reference/target-apps.md B1).

What differs from plain SCIM, and where it is handled:
- userName: at most 21 characters, lower case, other characters become `_`: `naming.shape`
  derives valid, unique names before planning and notes collisions.
- DELETE only deactivates, so policy may not ask to delete (`can_delete=False`); suspension is
  `active=false` by PATCH, as for any SCIM app, and a returning user is reactivated.
- Emails are unique across active and deactivated users: the example policy matches on email,
  so a returning person's deactivated account is linked and reactivated, never re-created.
- Lookups use one `eq` filter on userName, externalId or emails.value, as identity providers
  send them (Slack leaves its v2 filters undocumented, reference B1). A userName is looked
  up as given and matched ignoring case; the account holds the shaped name (`naming`).
- `count` at most 1000; JSON as `application/json`; one write per user or group at a time
  (`members` batches a group's membership changes into one PATCH); per-endpoint limits of 180
  writes a minute in bursts of 20, with 429 and Retry-After.
"""

from __future__ import annotations

from controller.model import USER_NAME
from reconcilers.base import AppConnection, ReconcilerKind
from reconcilers.scim import ScimReconciler
from reconcilers.scim.client import ScimClient
from reconcilers.scim.mapping import EMAIL, SUPPORTED_ATTRIBUTES
from reconcilers.slack import naming
from reconcilers.throttle import WriteRate

MEDIA_TYPE = "application/json"


class SlackReconciler(ScimReconciler):
    """The SCIM reconciler speaking Slack's dialect: JSON, and one write per object at a time
    (membership changes are batched per group by every SCIM reconciler)."""

    def __init__(self, connection: AppConnection, *, client: ScimClient | None = None) -> None:
        if client is None:
            client = ScimClient(connection, media_type=MEDIA_TYPE, one_write_per_object=True)
        super().__init__(connection, client=client)


KIND = ReconcilerKind(
    factory=SlackReconciler,
    supported_attributes=SUPPORTED_ATTRIBUTES - {"role", "userType", "locale", "timezone"},
    required_attributes=frozenset({USER_NAME, EMAIL}),
    write_rate=WriteRate(per_minute=180, burst=20),
    max_page_size=1000,
    shape=naming.shape,
    can_delete=False,
    batches_members=True,
)

__all__ = ["KIND", "SlackReconciler"]
