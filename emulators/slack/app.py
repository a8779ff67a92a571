"""The emulator's HTTP surface: Slack's SCIM v2 API under /scim/v2, and `SlackApp`.

Each request goes through the same gates in Slack's order as far as it is observable: the
bearer token (401 `invalid_authentication`), the rate limits (org-wide reads or writes plus
the endpoint's own bucket; 429 `too_many_requests` + Retry-After), then for a write to one
user or group the object lock (429 `resource_locked` + `Retry-After: 1` while another write
holds it). A refused request changes nothing. Responses are `application/json`; errors are
Slack's v2 error body with a numeric status.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any, cast

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Send

from emulators.limits import Limiter
from emulators.slack import discovery
from emulators.slack.errors import SlackError
from emulators.slack.settings import SlackSettings
from emulators.slack.store import Store

PREFIX = "/scim/v2"
JSON = "application/json"
_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body), status, headers, media_type=JSON)


def _error(error: SlackError) -> Response:
    return _json(error.body(), error.status, error.headers())


async def _body(request: Request) -> Any:
    try:
        return json.loads(await request.body() or b"null")
    except ValueError:
        raise SlackError(400, "invalid_json") from None


class SlackApp:
    """An emulated Slack org as an ASGI app, with handles for tests to look behind the API."""

    def __init__(self, settings: SlackSettings) -> None:
        self.settings = settings
        self.limiter = Limiter()
        """Rate limits; `limiter.refused` counts the 429 too_many_requests answers."""
        self.locked_refusals = 0
        """How many writes were answered 429 resource_locked."""
        self.writes = 0
        """How many non-GET requests succeeded."""
        self._store = Store(settings.channels)
        self._asgi = Starlette(
            routes=[Route("/{path:path}", self._handle, methods=_METHODS)],
        )

    async def __call__(
        self,
        scope: dict[str, Any],
        receive: Callable[[], Awaitable[dict[str, Any]]],
        send: Callable[[dict[str, Any]], Awaitable[None]],
    ) -> None:
        # Starlette types `send` over MutableMapping; serving's ASGIApp (like uvicorn) over dict.
        await self._asgi(scope, receive, cast(Send, send))

    # -- behind the API's back -----------------------------------------------------------------

    def users(self) -> list[dict[str, Any]]:
        """Every user as GET /Users/{id} returns it, deactivated ones included."""
        return self._store.users()

    def groups(self) -> list[dict[str, Any]]:
        return self._store.groups()

    def user_by_name(self, user_name: str) -> dict[str, Any] | None:
        return next((user for user in self.users() if user["userName"] == user_name), None)

    def add_user(
        self,
        user_name: str,
        email: str,
        *,
        active: bool = True,
        external_id: str = "",
        display_name: str = "",
    ) -> dict[str, Any]:
        """An account made by hand in Slack; Slack's rules apply (SlackError if refused)."""
        return self._store.add_user(
            user_name, email, active=active, external_id=external_id, display_name=display_name
        )

    def edit_user(self, user_id: str, **attributes: Any) -> None:
        """Change a user by hand, e.g. `edit_user(id, title="x")` or `active=False`.

        Names are the resource's (`userName`, `displayName`, `givenName`, `department`, ...).
        """
        self._store.edit_user(user_id, attributes)

    # -- the API -------------------------------------------------------------------------------

    def _authorized(self, request: Request) -> bool:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and token.strip() == self.settings.token

    def _route(self, method: str, parts: list[str]) -> tuple[str | None, str | None]:
        """(endpoint bucket, object written) for a request, or its 404/405.

        The bucket is the SlackLimits field the request counts against besides the org-wide
        one (None for lists and discovery); the object is the user or group a write holds.
        """
        kind = parts[0] if parts else ""
        if kind in ("Users", "Groups") and len(parts) <= 2:
            noun = "user" if kind == "Users" else "group"
            if len(parts) == 1:
                buckets = {"GET": None, "POST": f"post_{noun}s"}
            else:
                buckets = {
                    "GET": f"get_{noun}",
                    "PUT": f"write_{noun}",
                    "PATCH": f"write_{noun}",
                    "DELETE": f"delete_{noun}",
                }
            if method not in buckets:
                raise SlackError(405, "method_not_allowed")
            written = parts[1] if len(parts) == 2 and method != "GET" else None
            return buckets[method], written
        discovery_paths = {"ServiceProviderConfig": 1, "ResourceTypes": 2, "Schemas": 2}
        if kind in discovery_paths and len(parts) <= discovery_paths[kind]:
            if method != "GET":
                raise SlackError(405, "method_not_allowed")
            return None, None
        raise SlackError(404, "not_found")

    async def _handle(self, request: Request) -> Response:
        try:
            return await self._serve(request)
        except SlackError as error:
            return _error(error)

    async def _serve(self, request: Request) -> Response:
        path = request.url.path
        if path != PREFIX and not path.startswith(PREFIX + "/"):
            raise SlackError(404, "not_found")
        if not self._authorized(request):
            raise SlackError(401, "invalid_authentication")
        self._store.base = str(request.base_url).rstrip("/") + PREFIX
        parts = [part for part in path[len(PREFIX) :].split("/") if part]
        method = request.method
        bucket, object_id = self._route(method, parts)
        write = method != "GET"
        limits = self.settings.limits
        org = ("org_writes", limits.org_writes) if write else ("org_reads", limits.org_reads)
        endpoint = (bucket, getattr(limits, bucket) if bucket else None)
        wait = self.limiter.take(org, endpoint)
        if wait is not None:
            raise SlackError(429, "too_many_requests", wait)
        body = await _body(request) if method in ("POST", "PUT", "PATCH") else None
        if object_id is None:
            response = self._act(method, parts, request, body)
        else:
            if not self._store.claim(object_id):
                with self._store.lock:
                    self.locked_refusals += 1
                raise SlackError(429, "resource_locked", 1)
            try:
                if self.settings.write_latency > 0:
                    await asyncio.sleep(self.settings.write_latency)
                response = self._act(method, parts, request, body)
            finally:
                self._store.release(object_id)
        if write and response.status_code < 400:
            with self._store.lock:
                self.writes += 1
        return response

    def _act(self, method: str, parts: list[str], request: Request, body: Any) -> Response:
        if parts[0] not in ("Users", "Groups"):
            return self._discovery(parts)
        if len(parts) == 1:
            return self._collection(method, parts[0], request, body)
        return self._object(method, parts[0] == "Users", parts[1], body)

    def _collection(self, method: str, kind: str, request: Request, body: Any) -> Response:
        store = self._store
        if method == "GET":
            query = request.query_params
            lister = store.list_users if kind == "Users" else store.list_groups
            return _json(lister(query.get("filter"), query.get("startIndex"), query.get("count")))
        creator = store.create_user if kind == "Users" else store.create_group
        created = creator(body)
        return _json(created, 201, {"Location": created["meta"]["location"]})

    def _object(self, method: str, user: bool, object_id: str, body: Any) -> Response:
        store = self._store
        if method == "GET":
            return _json(store.get_user(object_id) if user else store.get_group(object_id))
        if method == "PATCH":
            patcher = store.patch_user if user else store.patch_group
            return _json(patcher(object_id, body))
        if method == "PUT":
            putter = store.put_user if user else store.put_group
            return _json(putter(object_id, body))
        if user:
            store.deactivate_user(object_id)
        else:
            store.delete_group(object_id)
        return Response(status_code=204)

    def _discovery(self, parts: list[str]) -> Response:
        base = self._store.base
        if parts[0] == "ServiceProviderConfig":
            return _json(discovery.service_provider_config(base))
        found = discovery.schemas(base) if parts[0] == "Schemas" else discovery.resource_types(base)
        if len(parts) == 1:
            return _json(discovery.listing(found))
        for item in found:
            if item["id"] == parts[1]:
                return _json(item)
        raise SlackError(404, "not_found")


def make_slack_app(settings: SlackSettings) -> SlackApp:
    """A new emulated Slack org with no users, served as `with serving.serve(app) as root`."""
    return SlackApp(settings)
