"""The ways reading Salesforce fails, as `SourceError` kinds, and the scrubbing every message gets.

Each kind says what the loop can do about it: a limit means wait (`RequestLimitError`), an
incomplete query means the answer cannot be trusted (`IncompleteQueryError`), an OAuth refusal
means the credentials or the app setup are wrong (`SalesforceAuthError`). Messages carry what
Salesforce said (its errorCode, or `error: error_description`), never a token, secret,
assertion or key: `scrub` is the belt-and-braces pass over every message that leaves the package.
"""

from __future__ import annotations

from collections.abc import Iterable

from controller.errors import SourceError


class SalesforceError(SourceError):
    """Base of every failure of the Salesforce source; `str()` is the operator-facing message."""


class SalesforceConfigError(SalesforceError):
    """Local configuration is unusable: a missing key file or environment variable, a bad field."""


class SalesforceAuthError(SalesforceError):
    """The token endpoint refused or failed; `error` is the OAuth error code when it gave one."""

    def __init__(self, message: str, *, error: str | None = None, status: int | None = None):
        super().__init__(message)
        self.error = error
        self.status = status


class SalesforceApiError(SalesforceError):
    """The REST API answered with an error array `[{"message", "errorCode"}]` (or no body)."""

    def __init__(self, error_code: str, message: str, status: int, *, where: str = "") -> None:
        prefix = f"{where}: " if where else ""
        super().__init__(f"{prefix}HTTP {status} {error_code}: {message}")
        self.error_code = error_code
        self.message = message
        self.status = status
        self.where = where


class RequestLimitError(SalesforceApiError):
    """REQUEST_LIMIT_EXCEEDED: the org's API budget is spent; calling again only makes it worse."""


class BackingOffError(SalesforceError):
    """Not sent: the source is waiting out a REQUEST_LIMIT_EXCEEDED before calling again."""


class TransientSalesforceError(SalesforceError):
    """Network failure, 429 or 5xx: the same request may succeed later."""


class TlsError(SalesforceError):
    """The TLS handshake failed (a CA nobody trusts, another host's certificate): not retried."""


class IncompleteQueryError(SalesforceError):
    """Paging did not add up (stopped early, short, duplicated): the records are not the org's."""


class InvalidRecordError(SalesforceError):
    """A record lacks what every user has (Id, Username, Email) or has an unreadable value."""


def scrub(message: str, secrets: Iterable[str | None]) -> str:
    """`message` with every secret replaced by `***`; short strings are left alone (noise)."""
    for secret in secrets:
        if secret and len(secret) >= 8 and secret in message:
            message = message.replace(secret, "***")
    return message
