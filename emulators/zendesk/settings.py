"""How one emulated Zendesk account treats its clients: the API token, rate limits, custom roles.

Kept apart from the account's data so a test can serve the same behaviour with a tiny plan
limit (to provoke 429 storms) or other custom roles. The plan limits are Zendesk's published
account-wide requests a minute (reference/target-apps.md B3); Zendesk lets a whole minute's
allowance go at once, so each burst is the per-minute figure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from emulators.limits import Limit

PLAN_LIMITS: Mapping[str, Limit] = MappingProxyType(
    {
        "team": Limit(200, 200),
        "growth": Limit(400, 400),
        "professional": Limit(400, 400),
        "enterprise": Limit(700, 700),
        "high-volume": Limit(2500, 2500),
    }
)
"""Account-wide requests a minute by plan; "high-volume" is the High Volume API add-on (and
Enterprise Plus), which raises the limit to 2,500 rather than adding to it."""

PER_USER_LIMIT = Limit(5, 5)
"""Update User and Create or Update User: 5 requests a minute per user profile."""


def _default_custom_roles() -> Mapping[int, str]:
    return MappingProxyType({360000001: "Team Lead", 360000002: "Billing Agent"})


@dataclass(frozen=True)
class ZendeskSettings:
    token: str
    """The API token (Basic `{email}/token:{token}`) or OAuth access token (Bearer)."""
    plan_limit: Limit | None = PLAN_LIMITS["enterprise"]
    """Every request takes a token from this account-wide bucket; None means unlimited."""
    per_user_limit: Limit | None = PER_USER_LIMIT
    """PUT /users/{id} and create_or_update take a token from the user's own bucket."""
    custom_roles: Mapping[int, str] = field(default_factory=_default_custom_roles)
    """custom_role_id -> name: the Enterprise agent roles GET /custom_roles lists."""
