"""One thin adapter per API family; `REGISTRY` maps a ConnectedApp's `type` to its adapter."""

from __future__ import annotations

from reconcilers import atlassian, slack, zendesk
from reconcilers.base import AppConnection, AppReconciler, ReconcilerKind, Registry
from reconcilers.scim import SUPPORTED_ATTRIBUTES, ScimReconciler

REGISTRY: Registry = {
    "scim": ReconcilerKind(
        factory=ScimReconciler, supported_attributes=SUPPORTED_ATTRIBUTES, batches_members=True
    ),
    "slack": slack.KIND,
    "atlassian": atlassian.KIND,
    "zendesk": zendesk.KIND,
}

__all__ = ["REGISTRY", "AppConnection", "AppReconciler", "ReconcilerKind", "Registry"]
