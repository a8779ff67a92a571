"""The only code that talks HTTP to Zendesk's Support API (`https://{subdomain}.zendesk.com/api/v2`).

It sends through an `ApiSession` (OAuth bearer token, the app's throttle, retries), pages
listings completely with cursor pagination, and maps failures to `controller.errors` in one
function, `error_for`: 422 with a `DuplicateValue` detail is a conflict, other 422s and 400s are
bad requests, 429 and 5xx are transient (with Retry-After), 401 and 403 stall the app.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from controller import errors
from reconcilers.base import AppConnection
from reconcilers.http import ApiSession, RetryPolicy, Sleep, exception_error, status_error
from reconcilers.zendesk import mapping

MAX_PAGE_SIZE = 100


def error_for(method: str, path: str, failure: httpx.Response | Exception) -> errors.AppError:
    """The controller error for a failed request: a response with a bad status, or an exception."""
    if isinstance(failure, Exception):
        unreadable = f"the response is not Zendesk's JSON: {failure}"
        return exception_error(method, path, failure, unreadable)
    status = failure.status_code
    try:
        body = failure.json()
    except ValueError:  # Zendesk sends API-level 4xx as text/plain
        body = None
    said = mapping.describe_error(body)
    message = f"{method} {path}: HTTP {status}" + (f": {said}" if said else "")
    # Zendesk says a value is taken with 422 and a DuplicateValue detail, not 409.
    return status_error(message, failure, conflict=status == 422 and mapping.is_duplicate(body))


class ZendeskClient:
    """Requests to one Zendesk account, with complete cursor paging."""

    def __init__(
        self,
        connection: AppConnection,
        *,
        retry: RetryPolicy | None = None,
        sleep: Sleep = asyncio.sleep,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.session = ApiSession(
            connection,
            error_for=error_for,
            headers={"Accept": "application/json", "Content-Type": "application/json"},
            retry=retry,
            sleep=sleep,
            transport=transport,
            one_write_per_object=True,  # Zendesk limits updates per user; never race them
        )
        self._page_size = max(1, min(connection.page_size, MAX_PAGE_SIZE))

    async def aclose(self) -> None:
        await self.session.aclose()

    async def send(self, method: str, path: str, body: Any = None) -> Any:
        """One request; the decoded JSON body, or None for an empty one (204)."""
        response = await self.session.request(method, path, json=body)
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError as exc:
            raise self.session.error(method, path, exc) from None

    async def list_all(self, path: str, key: str) -> list[dict[str, Any]]:
        """Every record at `path` under `key`, page by page; a listing that stops early raises.

        The cursor is taken from `meta.after_cursor` and sent to `path` itself, never by following
        `links.next`, so the token only ever goes to the endpoint policy names.
        """
        found: list[dict[str, Any]] = []
        seen: set[Any] = set()
        params: dict[str, Any] = {"page[size]": self._page_size}
        while True:
            where = f"GET {path} after {len(found)} records"
            response = await self.session.request("GET", path, params=params)
            try:
                body = response.json()
            except ValueError as exc:
                raise self.session.error("GET", path, exc) from None
            records, meta = body.get(key), body.get("meta")
            if not isinstance(records, list) or not isinstance(meta, dict):
                raise errors.IncompleteListingError(f"{where}: no {key!r} list or no meta")
            for record in records:
                record_id = record.get("id") if isinstance(record, dict) else None
                if record_id is None or record_id in seen:
                    raise errors.IncompleteListingError(
                        f"{where}: record {record_id!r} listed twice or without an id"
                    )
                seen.add(record_id)
                found.append(record)
            if not meta.get("has_more"):
                return found
            cursor = meta.get("after_cursor")
            if not cursor:
                raise errors.IncompleteListingError(f"{where}: has_more but no after_cursor")
            params = {"page[size]": self._page_size, "page[after]": cursor}
