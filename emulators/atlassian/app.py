"""The Atlassian directory as an ASGI app: scim2-server underneath, Atlassian's rules on top.

Atlassian's user provisioning directory is near-RFC SCIM, so the RFC behaviour comes from
scim2-server (a third-party implementation) and this layer adds only what Atlassian does
differently (reference/target-apps.md B2): the `/scim/directory/{id}` base, one exact `eq`
filter, at most 100 per page, no sorting, displayName required and emails on verified domains,
409 for an existing user and for a group named like an org group, no group renames, and
DELETE that deactivates. Our reading of "the user is not available for future requests until
activated again; any future operation returns 404": a DELETEd user leaves every listing and
every request on its id is a 404, but its userName and email still clash with a new user.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl, urlencode

from scim2_models import Email, EnterpriseUser, User

from emulators.atlassian import rules
from emulators.atlassian.settings import AtlassianSettings
from emulators.limits import Limiter
from emulators.scim_app import ScimApp

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
INNER = "/v2"


async def _answer(
    send: Send, status: int, body: Any, headers: dict[str, str] | None = None
) -> None:
    raw = [(b"content-type", b"application/scim+json")]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    payload = json.dumps(body).encode() if body is not None else b""
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": payload})


async def _refuse(
    send: Send, refusal: rules.Refusal, headers: dict[str, str] | None = None
) -> None:
    body: dict[str, Any] = {"schemas": [ERROR], "status": str(refusal.status)}
    if refusal.scim_type:
        body["scimType"] = refusal.scim_type
    body["detail"] = refusal.detail
    await _answer(send, refusal.status, body, headers)


def _service_provider_config() -> dict[str, Any]:
    return {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
        "patch": {"supported": True},
        "bulk": {"supported": False, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": True, "maxResults": 100},
        "changePassword": {"supported": False},
        "sort": {"supported": False},
        "etag": {"supported": False},
        "authenticationSchemes": [
            {"type": "oauthbearertoken", "name": "Directory API key", "description": "Bearer"}
        ],
    }


class AtlassianApp:
    """One emulated directory; `users()` and friends look behind the API's back."""

    def __init__(self, settings: AtlassianSettings) -> None:
        self.settings = settings
        self.scim = ScimApp(settings.token)
        self.limiter = Limiter()
        self._prefix = f"/scim/directory/{settings.directory_id}"
        self._deleted: dict[str, dict[str, Any]] = {}
        """Users deactivated by DELETE: hidden from the API, still clashing on create."""
        self._lock = threading.Lock()

    # --- behind the API's back -----------------------------------------------------------

    def _live(self, schema: str) -> list[dict[str, Any]]:
        memory = self.scim.memory
        with memory.lock:
            found = [r for r in memory.resources if schema in (r.schemas or ())]
        return [r.model_dump() for r in found]

    def users(self) -> list[dict[str, Any]]:
        """Every user as the API shows it, plus DELETEd ones; each with `deleted`."""
        with self._lock:
            deleted = [{**user, "deleted": True} for user in self._deleted.values()]
        return [{**user, "deleted": False} for user in self._live(USER)] + deleted

    def groups(self) -> list[dict[str, Any]]:
        return self._live(GROUP)

    def user_by_name(self, user_name: str) -> dict[str, Any] | None:
        wanted = user_name.lower()
        return next((u for u in self.users() if str(u.get("userName")).lower() == wanted), None)

    def add_user(
        self,
        user_name: str,
        email: str,
        display_name: str,
        *,
        active: bool = True,
        external_id: str | None = None,
    ) -> dict[str, Any]:
        """A user made in Atlassian itself (not provisioned)."""
        user = User[EnterpriseUser](
            user_name=user_name,
            display_name=display_name,
            emails=[Email(value=email, type=Email.Type.work, primary=True)],
            active=active,
            external_id=external_id,
        )
        stored: dict[str, Any] = self.scim.add(user).model_dump()
        return stored

    def edit_user(self, user_id: str, **attributes: Any) -> None:
        """Change a user's attributes (by their SCIM names) behind the API's back."""
        memory = self.scim.memory
        with memory.lock:
            resources = memory.resources
            (index,) = (i for i, r in enumerate(resources) if r.id == user_id)
            current = resources[index]
            changed = type(current).model_validate({**current.model_dump(), **attributes})
            memory.resources = [*resources[:index], changed, *resources[index + 1 :]]

    # --- the API --------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.scim(scope, receive, send)
        method, path = scope["method"], scope["path"]
        parts = [p for p in path[len(self._prefix) :].split("/") if p]
        body = await _read(receive)
        query = dict(parse_qsl(scope.get("query_string", b"").decode()))
        refused = self._gate(scope) or self._check(method, parts, query, body)
        if refused is not None:
            refusal, headers = refused if isinstance(refused, tuple) else (refused, None)
            return await _refuse(send, refusal, headers)
        if parts == ["ServiceProviderConfig"]:
            return await _answer(send, 200, _service_provider_config())
        if method == "DELETE" and parts[:1] == ["Users"] and len(parts) == 2:
            self._remember_deleted(parts[1])
        if method == "GET" and len(parts) == 1:
            query.pop("sortBy", None)
            query.pop("sortOrder", None)
            count = query.get("count", "")
            wanted = int(count) if count.lstrip("-").isdigit() else self.settings.max_page
            query["count"] = str(max(0, min(wanted, self.settings.max_page)))
        inner_path = INNER + "/" + "/".join(parts)
        inner = {
            **scope,
            "path": inner_path,
            "raw_path": inner_path.encode(),
            "query_string": urlencode(query).encode(),
        }
        await self.scim(inner, _replay(body), send)

    def _gate(self, scope: Scope) -> tuple[rules.Refusal, dict[str, str]] | rules.Refusal | None:
        """What every request passes first: the directory's base path, its key, its limit."""
        if not scope["path"].startswith(self._prefix):
            return rules.Refusal(404, None, "Resource not found")
        scheme, _, token = _header(scope, "authorization").partition(" ")
        if scheme.lower() != "bearer" or token != self.settings.token:
            return rules.Refusal(401, None, "Unauthorized")
        wait = self.limiter.take((("directory",), self.settings.limit))
        if wait is not None:
            return rules.Refusal(429, None, "Too many requests"), {"Retry-After": str(wait)}
        return None

    def _check(
        self, method: str, parts: list[str], query: dict[str, str], raw: bytes
    ) -> rules.Refusal | None:
        resource = parts[0] if parts else ""
        if parts == ["ServiceProviderConfig"] and method != "GET":
            return rules.Refusal(405, None, "Method not allowed")
        if resource == "Users" and len(parts) == 2:
            with self._lock:
                if parts[1] in self._deleted:
                    return rules.Refusal(404, None, "Resource not found")
        if method == "GET" and len(parts) == 1 and resource in ("Users", "Groups"):
            return rules.check_filter(resource, query.get("filter"))
        return self._check_write(method, parts, _json(raw))

    def _check_write(self, method: str, parts: list[str], body: Any) -> rules.Refusal | None:
        """Atlassian's rules on creating users and groups and on changing groups."""
        if method == "POST" and parts == ["Users"]:
            taken = [(str(u.get("userName", "")), rules.emails_of(u)) for u in self.users()]
            domains = self.settings.verified_domains
            return rules.check_new_user(body, verified_domains=domains, taken=taken)
        if method == "POST" and parts == ["Groups"]:
            name = body.get("displayName") if isinstance(body, dict) else None
            existing = [str(g.get("displayName")) for g in self.groups()]
            return rules.check_new_group(
                name, existing=existing, org_groups=self.settings.org_groups
            )
        if method in ("PATCH", "PUT") and parts[:1] == ["Groups"] and len(parts) == 2:
            current = next((g for g in self.groups() if g.get("id") == parts[1]), None)
            if current is not None and rules.renames(body, str(current.get("displayName"))):
                return rules.Refusal(400, "mutability", "Renaming groups is not supported")
        return None

    def _remember_deleted(self, user_id: str) -> None:
        found = next((u for u in self._live(USER) if u.get("id") == user_id), None)
        if found is not None:
            with self._lock:
                self._deleted[user_id] = {**found, "active": False}


def _header(scope: Scope, name: str) -> str:
    wanted = name.encode()
    for key, value in scope.get("headers", ()):
        if key.lower() == wanted:
            return str(value.decode())
    return ""


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return None


async def _read(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


def _replay(body: bytes) -> Receive:
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


def make_atlassian_app(settings: AtlassianSettings) -> AtlassianApp:
    """A new, empty directory."""
    return AtlassianApp(settings)
