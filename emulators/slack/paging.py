"""Slack's list paging: startIndex from 1, 10 results by default and never more than 1000.

Since August 2019 a larger `count` is silently treated as 1000 (reference B1, `GET /Users`);
a startIndex below 1 is 1 and a negative count is 0 (RFC 7644 section 3.4.2.4). Results come
in creation order, so pages are stable.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from emulators.slack.errors import invalid

LIST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
DEFAULT_COUNT = 10
MAX_COUNT = 1000


def _number(text: str | None, default: int) -> int:
    if text is None or not text.strip():
        return default
    try:
        return int(text)
    except ValueError:
        raise invalid("invalid_pagination") from None


def page(resources: Sequence[Any], start: str | None, count: str | None) -> dict[str, Any]:
    """A ListResponse page: startIndex below 1 is 1, count is 10 by default and at most 1000."""
    first = max(1, _number(start, 1))
    size = min(MAX_COUNT, max(0, _number(count, DEFAULT_COUNT)))
    chosen = resources[first - 1 : first - 1 + size]
    return {
        "schemas": [LIST_SCHEMA],
        "totalResults": len(resources),
        "itemsPerPage": len(chosen),
        "startIndex": first,
        "Resources": list(chosen),
    }
