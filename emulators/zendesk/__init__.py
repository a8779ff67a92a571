"""A local, faithful emulator of Zendesk's Support Users API (not SCIM; reference B3 and B6).

Users, their email identities, groups, group memberships and custom roles under /api/v2, with
Zendesk's wire format and quirks: API-token (Basic `{email}/token:{token}`) or OAuth Bearer
auth, `{error, description, details}` error bodies, cursor pagination (`page[size]` <= 100)
and offset pagination capped at 100 pages, create_or_update keyed by external_id (matched
case-insensitively) or email, Search Users by email or external_id (`search`), PUT email
that only adds a secondary identity, `suspended` distinct from DELETE's soft delete
(`active: false`), memberships for agents only, and the plan's account-wide rate limit plus
5 updates a minute per user, answered 429 + Retry-After.
`make_zendesk_app(ZendeskSettings(token=...))` builds the ASGI app; `emulators.serving.serve`
runs it; `python -m emulators.zendesk` serves one.
"""

from emulators.zendesk.app import ZendeskApp, make_zendesk_app
from emulators.zendesk.errors import ZendeskError
from emulators.zendesk.settings import PLAN_LIMITS, ZendeskSettings

__all__ = ["PLAN_LIMITS", "ZendeskApp", "ZendeskError", "ZendeskSettings", "make_zendesk_app"]
