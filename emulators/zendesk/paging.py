"""Zendesk's two ways of paging a list: cursor (recommended) and offset (capped at 100 pages).

Any `page[size]`, `page[after]` or `page[before]` parameter asks for cursor pagination:
`page[size]` is 1..100 (anything else is a 400 InvalidPaginationParameter) and the response
carries `meta {has_more, after_cursor, before_cursor}` and `links {next, prev}`. A cursor is
the id of the record it stands after (or before), opaquely encoded, and records are listed in
id order, so records created while a client pages show up at the end and none is skipped or
listed twice. Without those parameters the list pages by `page` and `per_page` (at most 100;
larger values are taken as 100) with `next_page`, `previous_page` and `count`; pages past the
100th (the 10,000-record offset cap) are a 400.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from typing import Any

from starlette.datastructures import URL

from emulators.zendesk.errors import bad_pagination

MAX_PAGE_SIZE = 100
MAX_OFFSET_PAGE = 100
_SIZE, _AFTER, _BEFORE = "page[size]", "page[after]", "page[before]"
_CURSOR_PREFIX = "zd1:"

Record = Mapping[str, Any]


def encode_cursor(record_id: int) -> str:
    raw = f"{_CURSOR_PREFIX}{record_id}".encode()
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_cursor(cursor: str) -> int:
    """The record id a cursor stands for; 400 InvalidPaginationParameter if it is not ours."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raw = ""
    digits = raw.removeprefix(_CURSOR_PREFIX)
    if not raw.startswith(_CURSOR_PREFIX) or not digits.isdigit():
        raise bad_pagination(f"page cursor {cursor!r} is invalid")
    return int(digits)


def _integer(query: Mapping[str, str], name: str, default: int) -> int:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise bad_pagination(f"{name} must be an integer, not {raw!r}") from None


def page(url: URL, query: Mapping[str, str], records: Sequence[Record], key: str) -> dict[str, Any]:
    """The page of `records` (in id order) the query asks for, as a response body."""
    if any(name in query for name in (_SIZE, _AFTER, _BEFORE)):
        return _cursor_page(url, query, records, key)
    return offset_page(url, query, records, key)


def _cursor_page(
    url: URL, query: Mapping[str, str], records: Sequence[Record], key: str
) -> dict[str, Any]:
    size = _integer(query, _SIZE, MAX_PAGE_SIZE)
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise bad_pagination(f"page[size] must be between 1 and {MAX_PAGE_SIZE}, not {size}")
    after, before = query.get(_AFTER), query.get(_BEFORE)
    if after and before:
        raise bad_pagination("page[after] and page[before] cannot be used together")
    if before:
        edge = decode_cursor(before)
        candidates = [record for record in records if record["id"] < edge]
        items = candidates[-size:]
    else:
        start = decode_cursor(after) if after else None
        candidates = [record for record in records if start is None or record["id"] > start]
        items = candidates[:size]
    first = items[0]["id"] if items else None
    last = items[-1]["id"] if items else None
    later = last is not None and any(record["id"] > last for record in records)
    earlier = first is not None and any(record["id"] < first for record in records)
    base = url.remove_query_params([_AFTER, _BEFORE]).include_query_params(**{_SIZE: size})
    after_cursor = encode_cursor(last) if last is not None else None
    before_cursor = encode_cursor(first) if first is not None else None
    return {
        key: list(items),
        "meta": {
            "has_more": len(candidates) > size,
            "after_cursor": after_cursor,
            "before_cursor": before_cursor,
        },
        "links": {
            "next": str(base.include_query_params(**{_AFTER: after_cursor})) if later else None,
            "prev": str(base.include_query_params(**{_BEFORE: before_cursor})) if earlier else None,
        },
    }


def offset_page(
    url: URL, query: Mapping[str, str], records: Sequence[Record], key: str
) -> dict[str, Any]:
    number = max(1, _integer(query, "page", 1))
    if number > MAX_OFFSET_PAGE:
        raise bad_pagination(
            f"offset pagination is limited to the first {MAX_OFFSET_PAGE} pages"
            f" ({MAX_OFFSET_PAGE * MAX_PAGE_SIZE} records); use cursor pagination"
        )
    per_page = min(MAX_PAGE_SIZE, max(1, _integer(query, "per_page", MAX_PAGE_SIZE)))
    start = (number - 1) * per_page
    more = start + per_page < len(records) and number < MAX_OFFSET_PAGE
    return {
        key: list(records[start : start + per_page]),
        "next_page": str(url.include_query_params(page=number + 1)) if more else None,
        "previous_page": str(url.include_query_params(page=number - 1)) if number > 1 else None,
        "count": len(records),
    }
