"""Slack's v2 SCIM error: a Slack error code in `detail` and a numeric `status`.

Slack's documented example is `{"schemas":[...Error], "detail":"missing_schema_element",
"status":400}`: unlike RFC 7644, `status` is a number and there is no `scimType`. Which HTTP
status goes with each code is not documented; the emulator uses 400 for validation, 404 for
unknown objects, 409 for taken names and emails and 429 for rate limits and locks (inferred,
reference B1 "Error bodies").
"""

from __future__ import annotations

from typing import Any

ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"


class SlackError(Exception):
    """A refused request: the Slack code, its HTTP status, and Retry-After for 429s."""

    def __init__(self, status: int, detail: str, retry_after: int | None = None) -> None:
        super().__init__(f"{status} {detail}")
        self.status = status
        self.detail = detail
        self.retry_after = retry_after

    def body(self) -> dict[str, Any]:
        return {"schemas": [ERROR_SCHEMA], "detail": self.detail, "status": self.status}

    def headers(self) -> dict[str, str]:
        if self.retry_after is None:
            return {}
        return {"Retry-After": str(self.retry_after)}


def invalid(detail: str) -> SlackError:
    """A 400: the request breaks one of Slack's rules and changed nothing."""
    return SlackError(400, detail)


def conflict(detail: str) -> SlackError:
    """A 409: the name or email belongs to someone (or some channel) else."""
    return SlackError(409, detail)
