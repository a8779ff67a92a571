"""Atlassian user provisioning (Jira, Confluence): SCIM with Atlassian's rules (reference B2).

The directory at `https://api.atlassian.com/scim/directory/{directoryId}` speaks SCIM 2.0, so the
generic client and reconciler drive it. What differs, and how it is met:
- PUT clears every attribute it does not send: the reconciler only ever PATCHes.
- DELETE deactivates and then hides the user (every later request on it is a 404, while its
  name and email still clash with a create), so the account could never be reactivated through
  the API: policy may not ask to delete (`can_delete=False`); suspension is PATCH active=false.
- Pages hold at most 100 users, sorting is unsupported (the ServiceProviderConfig says so, and
  the client pages in the server's order), filters are a single `eq`: listings use none.
- That `eq` works on `externalId` and `userName` only, so a targeted cycle looks accounts up by
  those. By work email it cannot: no filter reaches emails, and userName is often the email
  but need not be, so any stand-in could miss an account the listing shows. A lookup by
  `emails.work` raises `LookupUnsupportedError`, and the caller lists the directory instead.
- displayName is required; users can only be created on verified email domains, and a name or
  email that exists is a 409, reported for that one operation.
- A group whose name clashes with an org group is a 409; renaming groups is unsupported.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from controller.model import USER_NAME
from reconcilers.base import ReconcilerKind
from reconcilers.scim import ScimReconciler
from reconcilers.scim.mapping import EMAIL, LOOKUP_PATHS

SUPPORTED_ATTRIBUTES = frozenset(
    {
        USER_NAME,
        EMAIL,
        "displayName",
        "name.givenName",
        "name.familyName",
        "title",
        "timezone",
        "preferredLanguage",
        "enterprise.department",
        "enterprise.organization",
    }
)
"""The profile attributes Atlassian's directory lets a provisioning client update."""


class AtlassianReconciler(ScimReconciler):
    """The SCIM reconciler, looking users up only by the two attributes Atlassian filters on."""

    lookup_paths: ClassVar[Mapping[str, str]] = {
        attribute: path for attribute, path in LOOKUP_PATHS.items() if attribute != EMAIL
    }


KIND = ReconcilerKind(
    factory=AtlassianReconciler,
    supported_attributes=SUPPORTED_ATTRIBUTES,
    required_attributes=frozenset({USER_NAME, EMAIL, "displayName"}),
    max_page_size=100,
    can_delete=False,
    batches_members=True,
)

__all__ = ["KIND", "SUPPORTED_ATTRIBUTES", "AtlassianReconciler"]
