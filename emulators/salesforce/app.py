"""The emulator's HTTP surface: token endpoint, REST query and queryMore, and admin endpoints.

Under /services/data/ every response carries `Sforce-Limit-Info`, every authenticated call
spends one unit of the daily budget (403 REQUEST_LIMIT_EXCEEDED once it is spent), and a
missing, unknown or expired token is a 401 INVALID_SESSION_ID with `WWW-Authenticate: Token`.
Errors are JSON arrays of `{message, errorCode}`. The /_emulator/ endpoints need no token: the
demo and the tests change the org (and its budget and sessions) through them.
"""

from __future__ import annotations

import json
import re
from typing import Any, cast
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from emulators.salesforce import ids, paging, query
from emulators.salesforce.auth import OAuthError, TokenService
from emulators.salesforce.org import Org
from emulators.salesforce.settings import EmulatorSettings
from emulators.salesforce.soql import SoqlError
from emulators.serving import ASGIApp

JSON = "application/json;charset=UTF-8"
_VERSION = re.compile(r"v(\d+)\.(\d)")
_MORE = re.compile(r"query/([0-9A-Za-z]{15,18})-(\d+)")


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body), status, headers, media_type=JSON)


def _errors(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> Response:
    return _json([{"message": message, "errorCode": code}], status, headers)


class _Emulator:
    def __init__(self, org: Org, settings: EmulatorSettings) -> None:
        self.org = org
        self.settings = settings
        self.tokens = TokenService(org, settings)
        self.locators = paging.Locators(seed=settings.seed, irregular=settings.irregular_batches)
        self.used = 0
        self.max = settings.daily_api_limit

    def limit_info(self) -> dict[str, str]:
        return {"Sforce-Limit-Info": f"api-usage={self.used}/{self.max}"}

    async def token(self, request: Request) -> Response:
        form = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
        try:
            body = self.tokens.token(
                form,
                base_url=str(request.base_url).rstrip("/"),
                host=request.headers.get("host", ""),
            )
        except OAuthError as error:
            return _json({"error": error.error, "error_description": error.description}, 400)
        return _json(body)

    async def data(self, request: Request) -> Response:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() not in ("bearer", "oauth") or self.tokens.session(token.strip()) is None:
            headers = {**self.limit_info(), "WWW-Authenticate": "Token"}
            return _errors(401, "INVALID_SESSION_ID", "Session expired or invalid", headers)
        if self.used >= self.max:
            return _errors(
                403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.", self.limit_info()
            )
        self.used += 1
        return self._data(request)

    def _data(self, request: Request) -> Response:
        headers = self.limit_info()
        version = _VERSION.fullmatch(request.path_params["version"])
        newest = tuple(int(part) for part in self.settings.api_version.split("."))
        rest = request.path_params["rest"].rstrip("/")
        more = _MORE.fullmatch(rest)
        if (
            version is None
            or not (20, 0) <= (int(version[1]), int(version[2])) <= newest
            or (rest != "query" and more is None)
        ):
            return _errors(404, "NOT_FOUND", "The requested resource does not exist", headers)
        if request.method != "GET":
            message = f"HTTP Method '{request.method}' not allowed. Allowed are GET,HEAD"
            return _errors(405, "METHOD_NOT_ALLOWED", message, headers)
        number = f"{version[1]}.{version[2]}"
        if more is None:
            return self._query(request, number, headers)
        page = self.locators.more(more[1], int(more[2]), number)
        if page is None:
            return _errors(400, "INVALID_QUERY_LOCATOR", "invalid query locator", headers)
        return _json(page, headers=headers)

    def _query(self, request: Request, version: str, headers: dict[str, str]) -> Response:
        text = request.query_params.get("q", "")
        if not text.strip():
            return _errors(400, "MALFORMED_QUERY", "A query string has to be specified", headers)
        try:
            records = query.run(self.org, text, version)
        except SoqlError as error:
            return _errors(400, error.code, error.message, headers)
        size = paging.batch_size(request.headers.get("sforce-query-options"))
        return _json(self.locators.first(records, size, version), headers=headers)

    # -- admin ---------------------------------------------------------------------------------

    async def change_user(self, request: Request) -> Response:
        user_id = request.path_params["user_id"]
        try:
            self.org.change_user(user_id, await _body(request))
            return _json({"id": ids.to_18(user_id)})
        except KeyError:
            return _errors(404, "NOT_FOUND", "The requested resource does not exist")
        except ValueError as error:
            return _errors(400, "INVALID_FIELD", str(error))

    async def add_user(self, request: Request) -> Response:
        try:
            return _json({"id": self.org.add_user(await _body(request))}, 201)
        except ValueError as error:
            return _errors(400, "INVALID_FIELD", str(error))

    async def expire_sessions(self, request: Request) -> Response:
        return _json({"expired": self.tokens.expire_all()})

    async def limits(self, request: Request) -> Response:
        try:
            body = await _body(request)
        except ValueError as error:
            return _errors(400, "INVALID_FIELD", str(error))
        for key in ("max", "used"):
            value = body.get(key)
            if value is not None and (
                not isinstance(value, int) or isinstance(value, bool) or value < 0
            ):
                return _errors(400, "INVALID_FIELD", f"{key} must be a non-negative integer")
        self.max = body.get("max", self.max)
        self.used = body.get("used", self.used)
        return _json(self.state())

    async def get_state(self, request: Request) -> Response:
        return _json(self.state())

    def state(self) -> dict[str, Any]:
        return {"apiUsage": {"used": self.used, "max": self.max}, "users": len(self.org)}


async def _body(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError:
        raise ValueError("the body must be JSON") from None
    if not isinstance(body, dict):
        raise ValueError("the body must be a JSON object")
    return body


def make_salesforce_app(org: Org, settings: EmulatorSettings | None = None) -> ASGIApp:
    """A Starlette app serving `org` the way Salesforce's REST API and token endpoint would."""
    emulator = _Emulator(org, settings or EmulatorSettings())
    methods = ["GET", "POST", "PATCH", "PUT", "DELETE"]
    app = Starlette(
        routes=[
            Route("/services/oauth2/token", emulator.token, methods=["POST"]),
            Route("/services/data/{version}/{rest:path}", emulator.data, methods=methods),
            Route("/_emulator/users", emulator.add_user, methods=["POST"]),
            Route("/_emulator/users/{user_id}", emulator.change_user, methods=["POST"]),
            Route("/_emulator/sessions/expire", emulator.expire_sessions, methods=["POST"]),
            Route("/_emulator/limits", emulator.limits, methods=["POST"]),
            Route("/_emulator/state", emulator.get_state, methods=["GET"]),
        ]
    )
    # Starlette types scope and messages as MutableMapping; serving's ASGIApp (like uvicorn)
    # says dict. The app is a plain ASGI 3 callable either way.
    return cast(ASGIApp, app)
