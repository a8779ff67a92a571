"""Zendesk's error bodies: `{error, description}`, with field `details` for validation errors.

Business errors are JSON: 404 `RecordNotFound`, 422 `RecordInvalid` whose `details` map each
field to `[{description, error}]` (`BlankValue`, `InvalidValue`, `DuplicateValue`), 400 for
pagination parameters, 429 `APIRateLimitExceeded` with Retry-After. Real Zendesk sends some
API-level 4xx as text/plain; the emulator answers JSON throughout so that every refusal says
what it refuses (reference B3 "Error shapes").
"""

from __future__ import annotations

from typing import Any

FieldErrors = dict[str, list[dict[str, str]]]
"""`details` of a 422: field -> [{"description": ..., "error": code}]."""


class ZendeskError(Exception):
    """A refused request: its HTTP status and body, and Retry-After for 429s."""

    def __init__(
        self,
        status: int,
        error: str,
        description: str | None = None,
        *,
        details: FieldErrors | None = None,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(f"{status} {error}: {description or ''}".rstrip(": "))
        self.status = status
        self.error = error
        self.description = description
        self.details = details
        self.retry_after = retry_after

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.error}
        if self.description is not None:
            body["description"] = self.description
        if self.details is not None:
            body["details"] = self.details
        return body

    def headers(self) -> dict[str, str]:
        if self.retry_after is None:
            return {}
        return {"Retry-After": str(self.retry_after)}


def not_found() -> ZendeskError:
    return ZendeskError(404, "RecordNotFound", "Not found")


def no_endpoint() -> ZendeskError:
    """A path (or method on it) the API does not have."""
    return ZendeskError(404, "InvalidEndpoint", "Not found")


def unauthenticated() -> ZendeskError:
    return ZendeskError(401, "Couldn't authenticate you")


def rate_limited(retry_after: int) -> ZendeskError:
    return ZendeskError(
        429,
        "APIRateLimitExceeded",
        "Number of allowed API requests per minute exceeded",
        retry_after=retry_after,
    )


def bad_pagination(description: str) -> ZendeskError:
    return ZendeskError(400, "InvalidPaginationParameter", description)


def missing(parameter: str) -> ZendeskError:
    """The request has no `{"<parameter>": {...}}` root object (Rails' ParameterMissing)."""
    return ZendeskError(
        400, "ParameterMissing", f"param is missing or the value is empty: {parameter}"
    )


def add(details: FieldErrors, field: str, code: str, description: str) -> None:
    """Record one field's problem; a request may have several, all reported at once."""
    details.setdefault(field, []).append({"description": description, "error": code})


def invalid(details: FieldErrors) -> ZendeskError:
    return ZendeskError(422, "RecordInvalid", "Record validation errors", details=details)


def invalid_field(field: str, code: str, description: str) -> ZendeskError:
    details: FieldErrors = {}
    add(details, field, code, description)
    return invalid(details)
