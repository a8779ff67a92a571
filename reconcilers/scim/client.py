"""The only code that talks HTTP to a SCIM 2.0 service provider.

It sends scim2-models payloads over one `httpx.AsyncClient` (scim2-client no longer speaks
httpx), bounds concurrency, retries transient failures within a small budget, pages listings
completely, and turns every failure into a `controller.errors` kind in one function,
`error_for`. Messages name the method, path, status and what the server said, never the token.
"""

from __future__ import annotations

import asyncio
import functools
import ssl
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
from scim2_models import Context, Error, ListResponse, PatchOp, Resource, ServiceProviderConfig

from controller import errors
from reconcilers.base import AppConnection
from reconcilers.scim import mapping

MEDIA_TYPE = "application/scim+json"
ResourceT = TypeVar("ResourceT", bound=Resource[Any])
T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]
Parse = Callable[[Any], T]


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try before a transient failure is reported (the loop retries later)."""

    attempts: int = 3
    max_wait_seconds: float = 10.0
    """Total sleeping allowed across retries; a longer Retry-After is reported, not waited."""
    backoff_seconds: float = 0.5
    """First delay when the server gives no Retry-After; doubles on each retry."""


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """httpx loads every CA certificate for each new client (~45 ms); one context serves all."""
    return httpx.create_ssl_context()


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return max(0.0, float(response.headers["Retry-After"]))
    except (KeyError, ValueError):
        return None  # absent, or an HTTP date: fall back to our own backoff


def _scim_error(response: httpx.Response) -> str:
    try:
        error = Error.model_validate(response.json())
    except ValueError:
        return ""
    said = ": ".join(part for part in (error.scim_type, error.detail) if part)
    return f": {said}" if said else ""


_BY_STATUS: dict[int, type[errors.AppError]] = {
    400: errors.BadRequestError,
    401: errors.StalledError,
    403: errors.StalledError,
    404: errors.NotFoundError,
    409: errors.ConflictError,
}


def error_for(method: str, path: str, failure: httpx.Response | Exception) -> errors.AppError:
    """The controller error for a failed request: a response with a bad status, or an exception.

    Other 4xx statuses refuse this one request (BadRequestError); a redirect or any other
    unexpected status means the endpoint is not the SCIM base URL we were given (StalledError).
    """
    if isinstance(failure, Exception):
        what = f"{method} {path}: {type(failure).__name__}"
        if isinstance(failure, httpx.UnsupportedProtocol | httpx.InvalidURL):
            return errors.StalledError(f"{what}: the endpoint is not an http(s) URL")
        if isinstance(failure, httpx.TransportError):
            return errors.TransientError(f"{what}: {failure}" if str(failure) else what)
        return errors.StalledError(
            f"{what}: the response is not valid SCIM: {mapping.describe(failure)}"
        )
    status = failure.status_code
    message = f"{method} {path}: HTTP {status}{_scim_error(failure)}"
    if status == 429 or status >= 500:
        retry_after = _retry_after(failure)
        return errors.TransientError(message, status=status, retry_after=retry_after)
    default = errors.BadRequestError if 400 <= status < 500 else errors.StalledError
    return _BY_STATUS.get(status, default)(message, status=status)


def _may_retry(method: str, failure: httpx.Response | Exception) -> bool:
    """A POST is retried only when the server cannot have acted on it, lest it create twice."""
    if method != "POST":
        return True
    if isinstance(failure, httpx.Response):
        return failure.status_code in (429, 503)
    return isinstance(failure, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)


def _scrub(error: errors.AppError, secret: str | None) -> errors.AppError:
    """Belt and braces: a server that echoes the token must not get it into a message."""
    if secret and secret in str(error):
        error.args = (str(error).replace(secret, "***"),)
    return error


class ScimClient:
    """SCIM requests to one app, with auth, limits, retries and complete paging."""

    def __init__(
        self,
        connection: AppConnection,
        *,
        retry: RetryPolicy = RetryPolicy(),
        sleep: Sleep = asyncio.sleep,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        headers = {"Accept": MEDIA_TYPE, "Content-Type": MEDIA_TYPE}
        if connection.token:
            headers["Authorization"] = f"Bearer {connection.token}"
        hooks = connection.event_hooks or {}
        self._http = httpx.AsyncClient(
            base_url=connection.endpoint.rstrip("/"),
            headers=headers,
            timeout=httpx.Timeout(connection.timeout_seconds),
            verify=_tls_context(),
            transport=transport,
            event_hooks={key: list(hooks.get(key, ())) for key in ("request", "response")},
        )
        self._on_error = list(hooks.get("error", ()))
        """Called with each exception that left a request without a response (metrics)."""
        self._token = connection.token
        self._limit = asyncio.Semaphore(connection.concurrency)
        self._page_size = connection.page_size
        self._retry = retry
        self._sleep = sleep
        self._config: ServiceProviderConfig | None = None
        self._config_lock = asyncio.Lock()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Send one request, retrying transient failures within the retry policy."""
        waited = 0.0
        for attempt in range(1, self._retry.attempts + 1):
            failure: httpx.Response | Exception
            async with self._limit:
                try:
                    failure = await self._http.request(method, path, **kwargs)
                except (httpx.RequestError, httpx.InvalidURL) as exc:
                    failure = exc
                    for hook in self._on_error:
                        hook(exc)
            if isinstance(failure, httpx.Response) and failure.is_success:
                return failure
            error = _scrub(error_for(method, path, failure), self._token)
            if not isinstance(error, errors.TransientError) or not _may_retry(method, failure):
                raise error
            delay = error.retry_after
            if delay is None:
                delay = self._retry.backoff_seconds * 2 ** (attempt - 1)
            if attempt == self._retry.attempts or waited + delay > self._retry.max_wait_seconds:
                raise error
            waited += delay
            await self._sleep(delay)
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _parse(self, method: str, path: str, response: httpx.Response, parse: Parse[T]) -> T:
        try:
            return parse(response.json())
        except ValueError as exc:  # JSON decoding and pydantic validation errors alike
            raise _scrub(error_for(method, path, exc), self._token) from None

    async def get_config(self) -> ServiceProviderConfig:
        """The service provider configuration, read once; a server without one gets defaults."""
        async with self._config_lock:  # users and groups are listed concurrently
            if self._config is None:
                try:
                    response = await self.request("GET", "/ServiceProviderConfig")
                except errors.NotFoundError:
                    self._config = ServiceProviderConfig()
                else:
                    parse = ServiceProviderConfig.model_validate
                    self._config = self._parse("GET", "/ServiceProviderConfig", response, parse)
            return self._config

    async def create(self, path: str, resource: ResourceT) -> ResourceT:
        """POST a new resource and return it as the server stored it."""
        payload = resource.model_dump(scim_ctx=Context.RESOURCE_CREATION_REQUEST)
        response = await self.request("POST", path, json=payload)
        model = type(resource)

        def parse(body: Any) -> ResourceT:
            return model.model_validate(body, scim_ctx=Context.RESOURCE_CREATION_RESPONSE)

        return self._parse("POST", path, response, parse)

    async def patch(self, path: str, patch: PatchOp[Any]) -> None:
        """PATCH a resource; 204 without a body and 200 with the resource are both success."""
        payload = patch.model_dump(scim_ctx=Context.RESOURCE_PATCH_REQUEST)
        await self.request("PATCH", path, json=payload)

    async def delete(self, path: str) -> None:
        await self.request("DELETE", path)

    async def list_all(self, path: str, model: type[ResourceT]) -> list[ResourceT]:
        """Every resource at `path`, page by page; a listing that does not add up raises."""
        config = await self.get_config()
        sort = config.sort is not None and bool(config.sort.supported)
        listing = _Listing(path)
        while not listing.complete:
            params: dict[str, Any] = {
                "startIndex": len(listing.found) + 1,
                "count": self._page_size,
            }
            if sort:  # a stable order, so concurrent writes cannot shift pages (scim2-server)
                params["sortBy"] = "meta.created"
            listing.add(await self._page(path, params, model))
        return listing.found

    async def _page(
        self, path: str, params: Mapping[str, Any], model: type[ResourceT]
    ) -> ListResponse[ResourceT]:
        response = await self.request("GET", path, params=params)
        listing: type[ListResponse[ResourceT]] = ListResponse[model]  # type: ignore[valid-type]

        def parse(body: Any) -> ListResponse[ResourceT]:
            return listing.model_validate(body, scim_ctx=Context.RESOURCE_QUERY_RESPONSE)

        return self._parse("GET", path, response, parse)


class _Listing:
    """The resources of a paged listing so far, and the checks each new page must pass."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.found: list[Any] = []
        self.seen: set[str] = set()
        self.total: int | None = None

    @property
    def complete(self) -> bool:
        return self.total is not None and len(self.found) >= self.total

    def add(self, page: ListResponse[Any]) -> None:
        where = f"GET {self.path} startIndex={len(self.found) + 1}"
        total = page.total_results
        if total is None:
            raise errors.IncompleteListingError(f"{where}: the page has no totalResults")
        if self.total is not None and total != self.total:
            raise errors.IncompleteListingError(
                f"{where}: totalResults changed from {self.total} to {total} between pages"
            )
        self.total = total
        resources = page.resources or []
        if not resources and len(self.found) < total:
            raise errors.IncompleteListingError(
                f"{where}: an empty page after {len(self.found)} of {total} resources"
            )
        for resource in resources:
            if resource.id is None or resource.id in self.seen:
                raise errors.IncompleteListingError(
                    f"{where}: resource {resource.id!r} listed twice or without an id"
                )
            self.seen.add(resource.id)
        self.found.extend(resources)
        if len(self.found) > total:
            raise errors.IncompleteListingError(
                f"{where}: {len(self.found)} resources listed but totalResults is {total}"
            )
