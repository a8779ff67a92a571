"""PURE: what deprovisioning does next to one account, from policy, time and what was recorded.

Suspend first, always. Delete only when the app's policy says so (`action: delete`, or
`deleteAfter` with `action: suspend`), only after the grace period has run from the moment the
account was first seen suspended, and never on that first sight (DESIGN.md section 6, rule 5):
an account someone suspended by hand an hour ago is not deleted just because we noticed it now.
"""

from __future__ import annotations

import datetime

from controller.operations import OpKind
from controller.policy.schema import DeprovisionSpec, duration_seconds


def grace_period(spec: DeprovisionSpec) -> datetime.timedelta | None:
    """How long an account stays suspended before deletion; None when it is never deleted."""
    if spec.delete_after is not None:
        return datetime.timedelta(seconds=duration_seconds(spec.delete_after))
    if spec.action == "delete":
        return datetime.timedelta(0)
    return None


def next_step(
    *,
    active: bool,
    suspended_since: datetime.datetime | None,
    now: datetime.datetime,
    spec: DeprovisionSpec,
) -> OpKind | None:
    """SUSPEND for an active account; DELETE once a suspended one's grace has run; else None."""
    if active:
        return OpKind.SUSPEND
    grace = grace_period(spec)
    if grace is None or suspended_since is None or suspended_since >= now:
        return None
    return OpKind.DELETE if now - suspended_since >= grace else None
