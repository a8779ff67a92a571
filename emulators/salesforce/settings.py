"""How one emulated org behaves toward its clients: credentials, limits, paging quirks, seed.

Kept apart from the org's data so the same org can be served under different settings (a
test that needs a tiny API budget, another that needs client credentials).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EmulatorSettings:
    client_id: str = "3MVG9-emulator-client-id"
    """The External Client App's consumer key: the `iss` of assertions, client_credentials' id."""
    certificate_pem: bytes | None = None
    """X.509 PEM whose public key verifies jwt-bearer assertions; None refuses that flow."""
    client_secret: str | None = None
    """Enables client_credentials when set."""
    approved_usernames: frozenset[str] | None = None
    """jwt-bearer: users who pre-authorised the app; None means every active user."""
    daily_api_limit: int = 15000
    """The org's daily API budget (a Developer Edition's 15,000 by default)."""
    token_lifetime_seconds: int = 7200
    """A session ends after this long without use (Salesforce's default 2 hours)."""
    api_version: str = "62.0"
    """The newest version served; /services/data/vNN.N above it is NOT_FOUND."""
    irregular_batches: bool = True
    """Sometimes return fewer records than the batch size asks (the docs: "not guaranteed")."""
    seed: int = 0
    """Seeds the irregular batch sizes, query locators and tokens: runs repeat."""
