"""The emulator's HTTP surface under /api/v2, and `ZendeskApp` with its handles for tests.

Each request passes the same gates in order: authentication (an API token as Basic
`{email}/token:{token}` or an OAuth Bearer token; else 401 "Couldn't authenticate you"), the
account-wide plan limit (429 APIRateLimitExceeded + Retry-After), the route (404
InvalidEndpoint), the body (JSON only: another Content-Type is a 415, unparseable JSON a 400),
then the handler, where PUT /users/{id} and create_or_update also take a token from the
user's own bucket. A refused request changes nothing. Every response carries `X-Rate-Limit`
and `X-Rate-Limit-Remaining` (none when the plan limit is off). Paths may end in `.json`.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, cast

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Send

from emulators.limits import Limiter
from emulators.zendesk import errors, users
from emulators.zendesk.api import Api, Call, respond, route
from emulators.zendesk.errors import ZendeskError
from emulators.zendesk.settings import ZendeskSettings
from emulators.zendesk.store import Store

PREFIX = "/api/v2"
PLAN = "plan"
"""The limiter key of the account-wide bucket."""
_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
_DEFAULT_BASE = "https://emulator.zendesk.invalid/api/v2"


class ZendeskApp:
    """An emulated Zendesk Support account as an ASGI app, with handles behind the API's back."""

    def __init__(self, settings: ZendeskSettings) -> None:
        self.settings = settings
        self.limiter = Limiter()
        """Rate limits; `limiter.refused` counts the 429 answers (plan and per-user)."""
        self.writes = 0
        """How many non-GET requests succeeded."""
        self._store = Store(settings.custom_roles)
        self._api = Api(self._store, settings.custom_roles, self._take_user_token)
        self._base = _DEFAULT_BASE
        self._asgi = Starlette(routes=[Route("/{path:path}", self._handle, methods=_METHODS)])

    async def __call__(
        self,
        scope: dict[str, Any],
        receive: Callable[[], Awaitable[dict[str, Any]]],
        send: Callable[[dict[str, Any]], Awaitable[None]],
    ) -> None:
        # Starlette types `send` over MutableMapping; serving's ASGIApp (like uvicorn) over dict.
        await self._asgi(scope, receive, cast(Send, send))

    # -- behind the API's back -----------------------------------------------------------------

    def users(self, *, include_deleted: bool = True) -> list[dict[str, Any]]:
        """Every user as GET /users/{id} returns it, in id order; soft-deleted ones too unless
        `include_deleted` is False."""
        return self._store.all_users(self._base, include_deleted=include_deleted)

    def user_by_email(self, email: str) -> dict[str, Any] | None:
        """The user with this email (primary or secondary; a live one before a deleted one)."""
        return self._store.find_user(self._base, email=email)

    def user_by_external_id(self, external_id: str) -> dict[str, Any] | None:
        """The user with this external_id, compared case-insensitively as Zendesk does."""
        return self._store.find_user(self._base, external_id=external_id)

    def identities_of(self, user_id: int) -> list[str]:
        """A user's email identities, the primary first."""
        return [i["value"] for i in self._store.identities(self._base, user_id)]

    def groups(self) -> list[dict[str, Any]]:
        """The groups GET /groups lists (deleted ones are not)."""
        with self._store.lock:
            return [group.render(self._base) for group in self._store.book.live_groups()]

    def memberships(self) -> list[dict[str, Any]]:
        with self._store.lock:
            return [m.render(self._base) for m in self._store.book.memberships.values()]

    def group_names_of(self, user_id: int) -> set[str]:
        with self._store.lock:
            book = self._store.book
            return {book.groups[m.group_id].name for m in book.of(user_id=user_id)}

    def add_user(
        self,
        name: str,
        email: str,
        *,
        role: str = "end-user",
        external_id: str | None = None,
        suspended: bool = False,
    ) -> dict[str, Any]:
        """A user made by hand in Zendesk; the API's rules apply (ZendeskError if refused)."""
        body = {"name": name, "email": email, "role": role, "suspended": suspended}
        fields = users.parse({"user": {**body, "external_id": external_id}}, creating=True)
        return self._store.create_user(self._base, fields)

    def edit_user(self, user_id: int, **fields: Any) -> None:
        """Change a user by hand, e.g. `edit_user(id, suspended=True)` or `role="agent"`.

        Takes the API's field names plus `active`; unlike PUT, an `email` becomes the primary
        one (as an admin can make it in Zendesk's UI). The API's rules apply, no rate limit.
        """
        self._store.edit_user(user_id, fields)

    def add_group(self, name: str) -> dict[str, Any]:
        with self._store.lock:
            return self._store.book.add_group(name).render(self._base)

    # -- the API -------------------------------------------------------------------------------

    def _authorized(self, request: Request) -> bool:
        scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
        token = self.settings.token.encode()
        if scheme.lower() == "bearer":
            return secrets.compare_digest(credentials.strip().encode(), token)
        if scheme.lower() != "basic":
            return False
        try:
            decoded = base64.b64decode(credentials.strip(), validate=True)
        except (binascii.Error, ValueError):
            return False
        user, _, password = decoded.partition(b":")
        return user.endswith(b"/token") and secrets.compare_digest(password, token)

    def _take_user_token(self, key: Hashable) -> None:
        wait = self.limiter.take((key, self.settings.per_user_limit))
        if wait is not None:
            raise errors.rate_limited(wait)

    def _rate_headers(self) -> dict[str, str]:
        limit = self.settings.plan_limit
        if limit is None:
            return {}
        remaining = self.limiter.remaining(PLAN)
        return {
            "X-Rate-Limit": str(int(limit.per_minute)),
            "X-Rate-Limit-Remaining": str(limit.burst if remaining is None else remaining),
        }

    async def _handle(self, request: Request) -> Response:
        try:
            response = await self._serve(request)
        except ZendeskError as error:
            response = respond(error.body(), error.status, error.headers())
        response.headers.update(self._rate_headers())
        return response

    async def _serve(self, request: Request) -> Response:
        path = request.url.path.rstrip("/")
        if not path.startswith(PREFIX + "/"):
            raise errors.no_endpoint()
        if not self._authorized(request):
            raise errors.unauthenticated()
        wait = self.limiter.take((PLAN, self.settings.plan_limit))
        if wait is not None:
            raise errors.rate_limited(wait)
        parts = path[len(PREFIX) + 1 :].split("/")
        parts[-1] = parts[-1].removesuffix(".json")
        handler, ids = route(request.method, parts)
        base = str(request.base_url).rstrip("/") + PREFIX
        self._base = base
        body = await _body(request)
        response = handler(self._api, Call(ids, body, request.url, request.query_params, base))
        if request.method != "GET" and response.status_code < 400:
            with self._store.lock:
                self.writes += 1
        return response


async def _body(request: Request) -> Any:
    """The decoded JSON body, None if there is none; 415 if it is not JSON, 400 if malformed."""
    raw = await request.body()
    if not raw.strip():
        return None
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/json":
        raise ZendeskError(
            415, "UnsupportedMediaType", "Content-Type must be application/json for a body"
        )
    try:
        return json.loads(raw)
    except ValueError:
        raise ZendeskError(400, "InvalidJSON", "The request body is not valid JSON") from None


def make_zendesk_app(settings: ZendeskSettings) -> ZendeskApp:
    """A new emulated Zendesk account with no users or groups; serve it with
    `with serving.serve(app) as root:` and use `{root}/api/v2` as the API base."""
    return ZendeskApp(settings)
