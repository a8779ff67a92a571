"""How one emulated Slack org treats its clients: the token, the rate limits, the channels.

Kept apart from the org's data so a test can serve the same behaviour with tiny limits (to
provoke 429s), with a write latency (to make Slack's one-write-per-object lock observable) or
with extra channels (whose names users may not take).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from emulators.limits import Limit

# Slack's table (req/min, burst), https://docs.slack.dev/reference/scim-api/rate-limits
_ORG_WRITES = Limit(600, 180)
_ORG_READS = Limit(1000, 1000)
_GET_USER = Limit(300, 300)
_POST_USERS = Limit(180, 20)
_WRITE_USER = Limit(180, 20)
_DELETE_USER = Limit(180, 20)
_GET_GROUP = Limit(300, 300)
_POST_GROUPS = Limit(180, 20)
_WRITE_GROUP = Limit(180, 80)
_DELETE_GROUP = Limit(180, 20)


@dataclass(frozen=True)
class SlackLimits:
    """Slack's published SCIM rate limits (reference B1); None means unlimited.

    Every request takes one token from the org-wide reads or writes bucket and, for the
    endpoints in the table, one from that endpoint's bucket. List calls only count org-wide.
    """

    org_writes: Limit | None = _ORG_WRITES
    org_reads: Limit | None = _ORG_READS
    get_user: Limit | None = _GET_USER
    post_users: Limit | None = _POST_USERS
    write_user: Limit | None = _WRITE_USER
    """PUT and PATCH /Users/{id}."""
    delete_user: Limit | None = _DELETE_USER
    get_group: Limit | None = _GET_GROUP
    post_groups: Limit | None = _POST_GROUPS
    write_group: Limit | None = _WRITE_GROUP
    """PUT and PATCH /Groups/{id}."""
    delete_group: Limit | None = _DELETE_GROUP

    @classmethod
    def unlimited(cls) -> SlackLimits:
        """No rate limit at all: for tests that are not about rate limits."""
        return cls(**{field.name: None for field in fields(cls)})


@dataclass(frozen=True)
class SlackSettings:
    token: str
    """The bearer token (Slack's `xoxp-...` admin-scoped OAuth token) every request needs."""
    limits: SlackLimits = SlackLimits()
    write_latency: float = 0.0
    """Seconds a write holds its user or group before acting, to make overlapping writes
    (429 resource_locked) observable."""
    channels: frozenset[str] = frozenset({"general", "random"})
    """Channel names: usernames share their namespace (409 username_taken)."""
