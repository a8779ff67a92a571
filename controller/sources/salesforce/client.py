"""The one place that talks HTTP to the Salesforce REST API: SOQL queries, paged to the end.

Every response's `Sforce-Limit-Info` header updates `api_usage`; every failure becomes one of
the `errors` kinds in `error_for`, naming Salesforce's errorCode; a 401 INVALID_SESSION_ID gets
one new token and one retry (but not the "not valid for use with the REST API" variant, which no
new token cures); network failures, 5xx, 429 and a page cut short or not JSON are retried
with jittered back-off (`retries`). A query returns
all of its records or raises: a page missing, a `done: false` with nowhere to go next, or fewer
records than `totalSize` is an `IncompleteQueryError`, never a shorter list. The bearer token
only ever goes to the instance_url of the token response, and only to /services/data/ paths.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

import httpx

from controller import http_bodies
from controller.sources.salesforce import retries
from controller.sources.salesforce.auth import Token, TokenProvider
from controller.sources.salesforce.bounded_http import BoundedHttp
from controller.sources.salesforce.errors import (
    IncompleteQueryError,
    RequestLimitError,
    SalesforceApiError,
    SalesforceError,
    TransientSalesforceError,
)
from controller.sources.salesforce.records import QueryResult, query_result
from controller.sources.salesforce.retries import RetryPolicy, UnreadableResponseError

LIMIT_INFO = re.compile(r"api-usage=(\d+)/(\d+)")
DATA_PREFIX = "/services/data/"
NOT_FOR_REST = "not valid for use with the REST API"
"""The INVALID_SESSION_ID variant a new token does not cure (high-assurance or API-blocked)."""
MAX_PAGES_PER_QUERY = 1000
"""The hard cap on pages of one query (child subqueries included): 2,000 users a page makes
it two million users, past any org this controller serves; a bound on what totalSize claims."""
Record = Mapping[str, Any]


def parse_limit_info(header: str | None) -> tuple[int, int] | None:
    """`api-usage=18/5000; api-bursts=1/750` -> (18, 5000); None when absent or unreadable."""
    found = LIMIT_INFO.search(header or "")
    return (int(found[1]), int(found[2])) if found else None


def _error_array(response: httpx.Response) -> tuple[str, str] | None:
    """(errorCode, message) from Salesforce's `[{"message", "errorCode"}, ...]` body."""
    try:
        body = http_bodies.parse_json(response.content)
    except ValueError:
        return None
    if not isinstance(body, list) or not body or not all(isinstance(e, dict) for e in body):
        return None
    codes = [str(error.get("errorCode", "")) for error in body]
    messages = [str(error.get("message", "")).strip() for error in body]
    return codes[0] or "UNKNOWN_ERROR", "; ".join(m for m in messages if m)


def error_for(where: str, failure: httpx.Response | Exception) -> SalesforceError:
    """The error for a failed request: a response with a bad status, or a network exception."""
    if isinstance(failure, Exception):
        return retries.network_error(where, failure)
    status = failure.status_code
    said = _error_array(failure)
    if said is None:
        if status == 429 or status >= 500:
            return TransientSalesforceError(f"{where}: HTTP {status}")
        return SalesforceApiError(
            "UNKNOWN_ERROR", "no error array in the response", status, where=where
        )
    code, message = said
    if code == "REQUEST_LIMIT_EXCEEDED":
        return RequestLimitError(code, message, status, where=where)
    if status == 429 or status >= 500:
        return TransientSalesforceError(f"{where}: HTTP {status} {code}: {message}")
    return SalesforceApiError(code, message, status, where=where)


def _refreshable(error: SalesforceError) -> bool:
    return (
        isinstance(error, SalesforceApiError)
        and error.status == 401
        and error.error_code == "INVALID_SESSION_ID"
        and NOT_FOR_REST not in error.message
    )


def _allowed_pages(first: QueryResult) -> int:
    """How many pages a query may take: twice what its totalSize needs at the first page's
    size (later pages may be a little smaller), never more than `MAX_PAGES_PER_QUERY`."""
    if not first.records:
        return 1
    return min(MAX_PAGES_PER_QUERY, 2 * math.ceil(first.total_size / len(first.records)))


class SalesforceClient:
    """SOQL over the REST API for one org, with one token provider and one HTTP client."""

    def __init__(
        self,
        http: BoundedHttp,
        tokens: TokenProvider,
        *,
        api_version: str,
        batch_size: int,
        retry: RetryPolicy | None = None,
    ) -> None:
        self._http = http
        self._tokens = tokens
        self._query_path = f"{DATA_PREFIX}{api_version}/query"
        self._headers = {
            "Sforce-Query-Options": f"batchSize={batch_size}",
            "Accept": "application/json",
        }
        self._retry = retry or RetryPolicy()
        self.api_usage: tuple[int, int] | None = None
        """(used, max) of the org's daily API requests, from the last response that said."""

    async def query(self, soql: str, *, what: str) -> list[Record]:
        """Every record `soql` selects, all pages followed; `what` names it in errors."""
        first = await self.first_page(soql, what=what)
        return await self.rest_of(first, what=what)

    async def first_page(self, soql: str, *, what: str) -> QueryResult:
        return self._page(await self._get(self._query_path, {"q": soql}, what=what), what)

    async def rest_of(self, first: QueryResult, *, what: str) -> list[Record]:
        """`first`'s records and every later page's, checked to add up to its totalSize.

        Works for child subquery results too, which page the same way.
        """
        records = list(first.records)
        page, pages = first, 1
        allowed = _allowed_pages(first)
        while not page.done:
            where = f"{what}: after {len(records)} of {first.total_size} records"
            if page.next_records_url is None:
                raise IncompleteQueryError(f"{where}, done is false but there is no nextRecordsUrl")
            if not page.records:
                raise IncompleteQueryError(f"{where}, an empty page that is not the last")
            if pages >= allowed:
                raise IncompleteQueryError(
                    f"{where}, still not done after {pages} pages: at most {allowed} are read"
                    f" (twice what totalSize needs at the first page's size, and never more"
                    f" than {MAX_PAGES_PER_QUERY}): Salesforce, or what answers for it,"
                    " pages without end"
                )
            pages += 1
            page = self._page(await self._get(page.next_records_url, None, what=what), what)
            if page.total_size != first.total_size:
                raise IncompleteQueryError(
                    f"{where}, totalSize changed from {first.total_size} to {page.total_size}"
                )
            records.extend(page.records)
            if len(records) > first.total_size:
                raise IncompleteQueryError(
                    f"{what}: {len(records)} records returned but totalSize is {first.total_size}"
                )
        if len(records) != first.total_size:
            raise IncompleteQueryError(
                f"{what}: the query ended after {len(records)} of {first.total_size} records"
            )
        return records

    @staticmethod
    def _page(body: Any, what: str) -> QueryResult:
        try:
            return query_result(body, what=what)
        except ValueError as error:
            raise IncompleteQueryError(str(error)) from None

    async def _get(self, path: str, params: Mapping[str, str] | None, *, what: str) -> Any:
        """GET one REST path with the token; one new token on a refreshable 401."""
        if not path.startswith(DATA_PREFIX):
            raise IncompleteQueryError(f"{what}: refusing to follow {path!r} outside {DATA_PREFIX}")
        where = f"{what}: GET {path.split('?', 1)[0]}"
        for refresh in (True, False):
            token = await self._tokens.token()
            try:
                return await self._send(token, path, params, where)
            except SalesforceApiError as error:
                if refresh and _refreshable(error):
                    self._tokens.invalidate(token)
                    continue
                raise
        raise AssertionError("unreachable: the second attempt returns or raises")

    async def _send(
        self, token: Token, path: str, params: Mapping[str, str] | None, where: str
    ) -> Any:
        """One GET's JSON body, retried (`retries`) on network failures, 5xx/429 and a body
        cut short or not JSON; the last failure is raised as a SalesforceError."""
        try:
            async for attempt in retries.attempts(self._retry):
                with attempt:
                    return await self._send_once(token, path, params, where)
        except (httpx.RequestError, http_bodies.BodyError) as failure:  # late, cut, too large
            raise error_for(where, failure) from None
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def _send_once(
        self, token: Token, path: str, params: Mapping[str, str] | None, where: str
    ) -> Any:
        headers = {**self._headers, "Authorization": f"Bearer {token.access_token}"}
        response = await self._http.send(
            "GET", f"{token.instance_url}{path}", params=params, headers=headers
        )
        usage = parse_limit_info(response.headers.get("Sforce-Limit-Info"))
        if usage is not None:
            self.api_usage = usage
        if not response.is_success:
            raise error_for(where, response)
        try:
            return http_bodies.parse_json(response.content)
        except http_bodies.UnfitJsonError as unfit:  # too deep, too dense: so it would stay
            raise IncompleteQueryError(f"{where}: {unfit}") from None
        except ValueError as unreadable:  # cut short, or not JSON: perhaps in passing
            raise UnreadableResponseError(f"{where}: {unreadable}") from None
