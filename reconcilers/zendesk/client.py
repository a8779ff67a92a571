"""The only code that talks HTTP to Zendesk's Support API (`https://{subdomain}.zendesk.com/api/v2`).

It sends through an `ApiSession` (OAuth bearer token, the app's throttle, retries), pages
listings completely with cursor pagination, and maps failures to `controller.errors` in one
function, `error_for`: 422 with a `DuplicateValue` detail is a conflict, other 422s and 400s are
bad requests, 429 and 5xx are transient (with Retry-After), 401 and 403 stall the app.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Mapping
from typing import Any

import httpx

from controller import errors
from controller.http_bodies import parse_json
from reconcilers.base import AppConnection
from reconcilers.http import (
    ApiSession,
    Parse,
    RetryPolicy,
    Sleep,
    T,
    exception_error,
    status_error,
)
from reconcilers.zendesk import mapping

MAX_PAGE_SIZE = 100


def error_for(method: str, path: str, failure: httpx.Response | Exception) -> errors.AppError:
    """The controller error for a failed request: a response with a bad status, or an exception."""
    if isinstance(failure, Exception):
        unreadable = f"the response is not Zendesk's JSON: {failure}"
        return exception_error(method, path, failure, unreadable)
    status = failure.status_code
    try:
        body = parse_json(failure.content)
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
        self._max_pages = connection.max_pages

    async def aclose(self) -> None:
        await self.session.aclose()

    async def send(self, method: str, path: str, body: Any = None) -> Any:
        """One request; the decoded JSON body, or None for an empty one (204)."""
        return await self.session.fetch(method, path, _as_is, json=body)

    async def read(self, path: str, parse: Parse[T]) -> T:
        """GET one object and `parse` it; a wrong shape (ValueError) is the app's error."""
        return await self.session.fetch("GET", path, parse)

    async def list_all(
        self, path: str, key: str, *, filters: Mapping[str, str] | None = None
    ) -> list[dict[str, Any]]:
        """Every record at `path` under `key`, page by page; a listing that stops early raises.

        The cursor is taken from `meta.after_cursor` and sent to `path` itself, never by following
        `links.next`, so the token only ever goes to the endpoint policy names. Cursor paging
        gives no total, so a listing reads at most `max_pages` pages of `page_size` records: an
        app that says `has_more` for ever costs that much and no more. `filters` holds the
        list's documented filters (`external_id` for /users), sent with every page.
        """
        found: list[dict[str, Any]] = []
        seen: set[int | str] = set()
        params: dict[str, Any] = {**(filters or {}), "page[size]": self._page_size}
        for _ in range(self._max_pages):
            where = f"GET {path} after {len(found)} records"
            records, meta = await self.session.fetch(
                "GET", path, functools.partial(_page, key, self._page_size), params=params
            )
            for record in records:
                if record["id"] in seen:
                    raise errors.IncompleteListingError(
                        f"{where}: record {record['id']!r} listed twice"
                    )
                seen.add(record["id"])
                found.append(record)
            if not meta.get("has_more"):
                return found
            cursor = meta.get("after_cursor")
            if not cursor or not isinstance(cursor, str):
                raise errors.IncompleteListingError(f"{where}: has_more but no after_cursor")
            params = {**(filters or {}), "page[size]": self._page_size, "page[after]": cursor}
        raise errors.IncompleteListingError(
            f"GET {path}: still has_more after {self._max_pages} pages of up to"
            f" {self._page_size} records: the app pages without end (or, if it really is that"
            " large, raise limits.maxPages)"
        )

    async def search(self, path: str, key: str, params: Mapping[str, str]) -> list[dict[str, Any]]:
        """What an offset-paged search (Search Users) finds, when it fits one page of 100.

        A lookup finds one person's few records; a search that finds more than a page holds
        is not one, and raises `LookupUnsupportedError` (the caller lists instead) rather than
        paging by offset, which skips a record whenever one before it goes meanwhile.
        """
        query = {**params, "per_page": MAX_PAGE_SIZE}
        parse = functools.partial(_offset_page, key, MAX_PAGE_SIZE)
        records, more = await self.session.fetch("GET", path, parse, params=query)
        if more:
            raise errors.LookupUnsupportedError(
                f"GET {path}: more than {MAX_PAGE_SIZE} {key} found: too many to look up"
            )
        return records


def _as_is(body: Any) -> Any:
    return body


def _page(key: str, size: int, body: Any) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """One page of a cursor listing: its records, each with an id, and its `meta`."""
    records = _records(key, size, body)
    meta = body.get("meta")
    if not isinstance(meta, dict):
        raise ValueError("no meta object")
    return records, meta


def _offset_page(key: str, size: int, body: Any) -> tuple[list[dict[str, Any]], bool]:
    """One page of an offset listing: its records, each with an id, and whether more follow."""
    records = _records(key, size, body)
    following, count = body.get("next_page"), body.get("count")
    if following is not None and not isinstance(following, str):
        raise ValueError(f"next_page is a JSON {type(following).__name__}, not a URL or null")
    counted = count if isinstance(count, int) and not isinstance(count, bool) else len(records)
    return records, following is not None or counted > len(records)


def _records(key: str, size: int, body: Any) -> list[dict[str, Any]]:
    """The records of one page under `key`, at most `size`, each with a numeric id."""
    if not isinstance(body, dict):
        raise ValueError(f"a JSON {type(body).__name__} where an object with {key!r} belongs")
    records = body.get(key)
    if not isinstance(records, list):
        raise ValueError(f"no {key!r} list")
    if len(records) > size:
        raise ValueError(f"{len(records)} {key} on a page when {size} were asked for")
    for record in records:
        if not isinstance(record, dict) or not mapping.is_id(record.get("id")):
            record_id = record.get("id") if isinstance(record, dict) else record
            raise ValueError(f"a record in {key!r} without a numeric id: {str(record_id)[:40]!r}")
    return records
