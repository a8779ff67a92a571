"""One thin adapter per API family; `REGISTRY` maps a ConnectedApp's `type` to its adapter."""

from __future__ import annotations

from reconcilers.base import AppConnection, AppReconciler, ReconcilerKind, Registry

REGISTRY: Registry = {}

__all__ = ["REGISTRY", "AppConnection", "AppReconciler", "ReconcilerKind", "Registry"]
