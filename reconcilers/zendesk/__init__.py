"""Zendesk Support's Users API (not SCIM; reference/target-apps.md B3).

`mapping` (pure) translates flat attributes to Zendesk's user JSON, `client` is the only HTTP
code (cursor paging, `{error, description, details}` errors), and `reconciler` sequences the
calls. Zendesk's rate limit is per account and per plan (200 to 2,500 requests a minute); the
default write rate is the smallest current plan's, and policy's `rateLimit` raises it.
"""

from __future__ import annotations

from controller.model import USER_NAME
from reconcilers.base import ReconcilerKind
from reconcilers.throttle import WriteRate
from reconcilers.zendesk.mapping import DISPLAY_NAME, SUPPORTED_ATTRIBUTES
from reconcilers.zendesk.reconciler import ZendeskReconciler

KIND = ReconcilerKind(
    factory=ZendeskReconciler,
    supported_attributes=SUPPORTED_ATTRIBUTES,
    required_attributes=frozenset({USER_NAME, DISPLAY_NAME}),
    write_rate=WriteRate(per_minute=200, burst=20),
    max_page_size=100,
)

__all__ = ["KIND", "ZendeskReconciler"]
