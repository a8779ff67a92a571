"""What an emulated Atlassian directory is configured with: its id, domains, org groups, limit."""

from __future__ import annotations

from dataclasses import dataclass

from emulators.limits import Limit


@dataclass(frozen=True)
class AtlassianSettings:
    """One directory: its API key and id, the org's verified domains and org-level groups."""

    token: str
    """The directory API key, sent as a bearer token."""
    directory_id: str = "2f4b6c1e-8d3a-4e5f-9a7b-1c2d3e4f5a6b"
    verified_domains: frozenset[str] = frozenset({"orion.example"})
    """Users can only be created with an email on one of these domains."""
    org_groups: frozenset[str] = frozenset({"org-admins", "site-admins"})
    """Groups of the organisation outside this directory: syncing one of these names is a 409."""
    limit: Limit | None = None
    """Atlassian publishes no number for SCIM; set one to see 429s with Retry-After."""


def scim_base(root: str, settings: AtlassianSettings) -> str:
    """The directory's SCIM base URL under the emulator's root URL."""
    return f"{root}/scim/directory/{settings.directory_id}"
