"""The generic SCIM 2.0 adapter: apps that speak plain RFC 7643/7644 use it as it is.

`mapping` (pure) translates flat attributes to SCIM resources, `client` is the only HTTP code,
and `reconciler` puts the two together behind the `AppReconciler` protocol.
"""

from __future__ import annotations

from reconcilers.scim.mapping import SUPPORTED_ATTRIBUTES
from reconcilers.scim.reconciler import ScimReconciler

__all__ = ["SUPPORTED_ATTRIBUTES", "ScimReconciler"]
