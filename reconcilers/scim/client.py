"""The only code that talks HTTP to a SCIM 2.0 service provider.

It sends scim2-models payloads through an `ApiSession` (auth, the app's throttle, retries),
pages listings completely, and turns every failure into a `controller.errors` kind in one
function, `error_for`. Messages name the method, path, status and what the server said, never
the token. Slack and Atlassian speak SCIM with quirks; they reuse this client with their own
media type and write discipline.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Mapping
from typing import Any, TypeVar

import httpx
from scim2_models import Context, Error, ListResponse, PatchOp, Resource, ServiceProviderConfig

from controller import errors
from controller.http_bodies import parse_json
from reconcilers.base import AppConnection
from reconcilers.http import ApiSession, RetryPolicy, Sleep, exception_error, status_error
from reconcilers.scim import mapping

__all__ = ["MEDIA_TYPE", "RetryPolicy", "ScimClient", "error_for"]

MEDIA_TYPE = "application/scim+json"
ResourceT = TypeVar("ResourceT", bound=Resource[Any])


def _scim_error(response: httpx.Response) -> str:
    try:
        error = Error.model_validate(parse_json(response.content))
    except ValueError:
        return ""
    said = ": ".join(part for part in (error.scim_type, error.detail) if part)
    return f": {said}" if said else ""


def error_for(method: str, path: str, failure: httpx.Response | Exception) -> errors.AppError:
    """The controller error for a failed request: a response with a bad status, or an exception.

    The status decides the kind (`reconcilers.http.status_error`); the message carries what
    the server said in its SCIM Error.
    """
    if isinstance(failure, Exception):
        unreadable = f"the response is not valid SCIM: {mapping.describe(failure)}"
        return exception_error(method, path, failure, unreadable)
    message = f"{method} {path}: HTTP {failure.status_code}{_scim_error(failure)}"
    return status_error(message, failure)


class ScimClient:
    """SCIM requests to one app, with auth, limits, retries and complete paging."""

    def __init__(
        self,
        connection: AppConnection,
        *,
        retry: RetryPolicy | None = None,
        sleep: Sleep = asyncio.sleep,
        transport: httpx.AsyncBaseTransport | None = None,
        media_type: str = MEDIA_TYPE,
        one_write_per_object: bool = False,
    ) -> None:
        self.session = ApiSession(
            connection,
            error_for=error_for,
            headers={"Accept": media_type, "Content-Type": media_type},
            retry=retry,
            sleep=sleep,
            transport=transport,
            one_write_per_object=one_write_per_object,
        )
        self._page_size = connection.page_size
        self._max_pages = connection.max_pages
        self._config: ServiceProviderConfig | None = None
        self._config_lock = asyncio.Lock()

    async def aclose(self) -> None:
        await self.session.aclose()

    async def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Send one request within the app's throttle and the retry policy."""
        return await self.session.request(method, path, **kwargs)

    async def get_config(self) -> ServiceProviderConfig:
        """The service provider configuration, read once; a server without one gets defaults."""
        async with self._config_lock:  # users and groups are listed concurrently
            if self._config is None:
                try:
                    self._config = await self.session.fetch(
                        "GET", "/ServiceProviderConfig", ServiceProviderConfig.model_validate
                    )
                except errors.NotFoundError:
                    self._config = ServiceProviderConfig()
            return self._config

    async def create(self, path: str, resource: ResourceT) -> ResourceT:
        """POST a new resource and return it as the server stored it."""
        payload = resource.model_dump(scim_ctx=Context.RESOURCE_CREATION_REQUEST)
        model = type(resource)

        def parse(body: Any) -> ResourceT:
            resource = mapping.known_extensions_only(body)
            return model.model_validate(resource, scim_ctx=Context.RESOURCE_CREATION_RESPONSE)

        return await self.session.fetch("POST", path, parse, json=payload)

    async def patch(self, path: str, patch: PatchOp[Any]) -> None:
        """PATCH a resource; 204 without a body and 200 with the resource are both success."""
        payload = patch.model_dump(scim_ctx=Context.RESOURCE_PATCH_REQUEST)
        await self.request("PATCH", path, json=payload)

    async def delete(self, path: str) -> None:
        await self.request("DELETE", path)

    async def list_all(
        self, path: str, model: type[ResourceT], *, scim_filter: str | None = None
    ) -> list[ResourceT]:
        """Every resource at `path` (that `scim_filter` keeps), page by page; a listing that
        does not add up raises."""
        config = await self.get_config()
        sort = config.sort is not None and bool(config.sort.supported)
        listing = _Listing(path, page_size=self._page_size, max_pages=self._max_pages)
        while not listing.complete:
            params: dict[str, Any] = {
                "startIndex": len(listing.found) + 1,
                "count": self._page_size,
            }
            if scim_filter is not None:
                params["filter"] = scim_filter
            if sort:  # a stable order, so concurrent writes cannot shift pages (scim2-server)
                params["sortBy"] = "meta.created"
            listing.add(await self._page(path, params, model))
        return listing.found

    async def search(self, path: str, model: type[ResourceT], scim_filter: str) -> list[ResourceT]:
        """Every resource at `path` that `scim_filter` keeps, paged and bounded as a listing.

        A server that says it cannot filter, or refuses this filter (400: RFC 7644's
        invalidFilter, Slack's invalid_filter; 501: not implemented), raises
        `LookupUnsupportedError`, so that the caller lists instead.
        """
        config = await self.get_config()
        where = f"GET {path}?filter={scim_filter}"
        if config.filter is not None and not config.filter.supported:
            raise errors.LookupUnsupportedError(f"{where}: the app does not support filters")
        try:
            return await self.list_all(path, model, scim_filter=scim_filter)
        except errors.BadRequestError as refused:
            raise errors.LookupUnsupportedError(str(refused), status=refused.status) from None
        except errors.TransientError as failed:
            if failed.status != 501:
                raise
            raise errors.LookupUnsupportedError(str(failed), status=501) from None

    async def _page(
        self, path: str, params: Mapping[str, Any], model: type[ResourceT]
    ) -> ListResponse[ResourceT]:
        listing: type[ListResponse[ResourceT]] = ListResponse[model]  # type: ignore[valid-type]

        def parse(body: Any) -> ListResponse[ResourceT]:
            if isinstance(body, dict) and isinstance(body.get("Resources"), list):
                size, asked = len(body["Resources"]), params["count"]
                if size > asked:  # before validating, which blocks the loop: minutes for millions
                    raise ValueError(f"a page of {size} resources when {asked} were asked for")
                resources = [mapping.known_extensions_only(r) for r in body["Resources"]]
                body = {**body, "Resources": resources}
            return listing.model_validate(body, scim_ctx=Context.RESOURCE_QUERY_RESPONSE)

        return await self.session.fetch("GET", path, parse, params=params)


class _Listing:
    """The resources of a paged listing so far, and the checks each new page must pass.

    A listing is bounded whatever the app says: no page may hold more than was asked for, and
    the pages may number at most twice what totalResults needs at the first page's size (a
    server may serve fewer than asked), and never more than `max_pages`. So an app that pages
    without end costs at most `max_pages` pages of `page_size` resources.
    """

    def __init__(self, path: str, *, page_size: int, max_pages: int) -> None:
        self.path = path
        self.page_size = page_size
        self.max_pages = max_pages
        self.pages = 0
        self.allowed_pages = max_pages
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
        self._count_page(where, total, len(resources))
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

    def _count_page(self, where: str, total: int, size: int) -> None:
        if size > self.page_size:
            raise errors.IncompleteListingError(
                f"{where}: a page of {size} resources when {self.page_size} were asked for"
            )
        self.pages += 1
        if self.pages == 1 and size:
            needed = math.ceil(total / size)  # twice that: a server's pages may vary a little
            self.allowed_pages = min(self.max_pages, 2 * needed)
        if self.pages >= self.allowed_pages and len(self.found) + size < total:
            raise errors.IncompleteListingError(
                f"{where}: {self.pages} pages hold {len(self.found) + size} of {total}"
                f" resources, and at most {self.allowed_pages} pages are read (twice what"
                " totalResults needs, and limits.maxPages): the app pages without end"
                " or serves ever smaller pages"
            )
