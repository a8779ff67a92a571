"""The Atlassian directory as an ASGI app: scim2-server underneath, Atlassian's rules on top.

Atlassian's user provisioning directory is near-RFC SCIM, so the RFC behaviour comes from
scim2-server (a third-party implementation, set up in `directory`) and this layer adds only
what Atlassian does differently (reference/target-apps.md B2): the `/scim/directory/{id}` base
and its API key, one exact `eq` filter, no sorting, displayName required and emails on
verified domains, 409 for an existing userName or email and for a group named like an org
group, no group renames, DELETE that deactivates, and an optional rate limit (429 and
Retry-After, nothing done). PUT clearing what it does not send is scim2-server's own RFC
replace; so are PATCH (answered 200 with the resource, see `directory`) and member changes.

DELETE, as we read "the user is not available for future requests until activated again; any
future operation for the deactivated user returns 404": the user is deactivated (active=false)
and hidden. It leaves every listing and every request on its id (GET, PUT, PATCH, DELETE) is a
404, but it still exists: its userName and email clash (409) with a new user or with another
user renamed to them, and `edit_user(id, active=True)` (an admin reactivating it in Atlassian's
UI) brings it back. Its group memberships are left as they were. PATCH active=false is the
ordinary, reversible suspension: the user stays listed with active false.
"""

from __future__ import annotations

import threading
from typing import Any
from urllib.parse import parse_qsl, urlencode

from scim2_models import Email, EnterpriseUser, Resource, User

from emulators.atlassian import lookup, members, rules
from emulators.atlassian.asgi import (
    Receive,
    Scope,
    Send,
    header,
    parse_json,
    read_body,
    refuse,
    replay,
)
from emulators.atlassian.directory import Directory
from emulators.atlassian.settings import AtlassianSettings
from emulators.limits import Limiter

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"


def _dump(resource: Resource[Any]) -> dict[str, Any]:
    dumped: dict[str, Any] = resource.model_dump()
    return dumped


class AtlassianApp:
    """One emulated directory; `users()` and friends look behind the API's back.

    Tests call those from their own thread while the server thread serves requests: resources
    are read and changed under scim2-server's storage lock, DELETEd users under `_lock`, and
    neither lock is held across an await.
    """

    def __init__(self, settings: AtlassianSettings) -> None:
        self.settings = settings
        self._prefix = f"/scim/directory/{settings.directory_id}"
        self.scim = Directory(self._prefix)
        self.limiter = Limiter()
        self._deleted: dict[str, Resource[Any]] = {}
        """Users deactivated by DELETE: hidden from the API, still clashing on create."""
        self._lock = threading.Lock()
        self._domains = frozenset(domain.lower() for domain in settings.verified_domains)

    # --- behind the API's back -----------------------------------------------------------

    def _live(self, schema: str) -> list[Resource[Any]]:
        memory = self.scim.memory
        with memory.lock:
            return [r.model_copy(deep=True) for r in memory.resources if schema in r.schemas]

    def users(self) -> list[dict[str, Any]]:
        """Every user as the API shows it, plus DELETEd ones; each with `deleted`."""
        live = [{**_dump(user), "deleted": False} for user in self._live(USER)]
        with self._lock:
            deleted = [{**_dump(user), "deleted": True} for user in self._deleted.values()]
        return live + deleted

    def groups(self) -> list[dict[str, Any]]:
        return [_dump(group) for group in self._live(GROUP)]

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
        """A user made in Atlassian itself (not provisioned); returned with its id."""
        user = User[EnterpriseUser](
            user_name=user_name,
            display_name=display_name,
            emails=[Email(value=email, type=Email.Type.work, primary=True)],
            active=active,
            external_id=external_id,
        )
        return _dump(self.scim.add(user))

    def edit_user(self, user_id: str, **attributes: Any) -> None:
        """Change a user's attributes (by their SCIM names) behind the API's back.

        On a DELETEd user, `active=True` reactivates it: it is visible to the API again.
        """
        memory = self.scim.memory
        with memory.lock, self._lock:
            if user_id in self._deleted:
                current = self._deleted[user_id]
                changed = type(current).model_validate({**_dump(current), **attributes})
                if getattr(changed, "active", False):
                    del self._deleted[user_id]
                    memory.resources = [*memory.resources, changed]
                else:
                    self._deleted[user_id] = changed
                return
            resources = memory.resources
            found = [i for i, r in enumerate(resources) if r.id == user_id and USER in r.schemas]
            if not found:
                raise KeyError(f"no user with id {user_id}")
            current = resources[found[0]]
            changed = type(current).model_validate({**_dump(current), **attributes})
            resources[found[0]] = changed
            memory.resources = resources

    # --- the API --------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.scim(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        parts = [p for p in path[len(self._prefix) :].split("/") if p]
        body = await read_body(receive)
        query = dict(parse_qsl(scope.get("query_string", b"").decode(), keep_blank_values=True))
        gated = self._gate(scope)
        if gated is not None:
            return await refuse(send, *gated)
        refusal = self._check(method, parts, query, parse_json(body))
        if refusal is not None:
            return await refuse(send, refusal)
        if method == "GET" and len(parts) == 1:
            query.pop("sortBy", None)  # sorting is unsupported: the order stays the server's
            query.pop("sortOrder", None)
        if method == "GET" and parts == ["Users"] and "filter" in query:
            found = lookup.search(self.scim.memory, query, self.scim.get_base_url(scope))
            if found is not None:
                headers = [(b"content-type", b"application/scim+json")]
                await send({"type": "http.response.start", "status": 200, "headers": headers})
                await send({"type": "http.response.body", "body": found})
                return
        inner_path = "/" + "/".join(parts)
        inner = {
            **scope,
            "path": inner_path,
            "raw_path": inner_path.encode(),
            "root_path": "",
            "query_string": urlencode(query).encode(),
        }
        if method == "DELETE" and parts[:1] == ["Users"] and len(parts) == 2:
            send = self._deactivating(parts[1], send)
        patching = method == "PATCH" and parts[:1] == ["Groups"] and len(parts) == 2
        if patching and await self._patch_members(scope, parts[1], body, send):
            return
        await self.scim(inner, replay(body), send)

    async def _patch_members(self, scope: Scope, group_id: str, body: bytes, send: Send) -> bool:
        """A PATCH of member changes only, applied in place (`members`); False: not one."""
        changes = members.member_changes(parse_json(body))
        if changes is None:
            return False
        location = f"{self.scim.get_base_url(scope)}/Groups/{group_id}"
        answer = members.apply(self.scim.memory, group_id, changes, location)
        if answer is None:
            return False
        headers = [(b"content-type", b"application/scim+json")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": answer})
        return True

    def _gate(self, scope: Scope) -> tuple[rules.Refusal, dict[str, str] | None] | None:
        """What every request passes first: the directory's base path, its key, its limit."""
        path = scope["path"]
        if path != self._prefix and not path.startswith(self._prefix + "/"):
            return rules.NOT_FOUND, None
        scheme, _, token = header(scope, "authorization").partition(" ")
        if scheme.lower() != "bearer" or token != self.settings.token:
            unauthorized = rules.Refusal(401, None, "A valid directory API key is required")
            return unauthorized, {"WWW-Authenticate": "Bearer"}
        wait = self.limiter.take((("directory",), self.settings.limit))
        if wait is not None:
            return rules.Refusal(429, None, "Too many requests"), {"Retry-After": str(wait)}
        return None

    def _check(
        self, method: str, parts: list[str], query: dict[str, str], body: Any
    ) -> rules.Refusal | None:
        """Atlassian's rules on one request, before scim2-server sees it."""
        resource = parts[0] if parts else ""
        if resource == "Users" and len(parts) == 2:
            with self._lock:
                if parts[1] in self._deleted:
                    return rules.NOT_FOUND
        if resource not in ("Users", "Groups"):
            return None
        if method == "GET" and len(parts) == 1:
            return rules.check_filter(resource, query.get("filter"))
        if method == "POST" and parts[1:] == [".search"]:
            text = body.get("filter") if isinstance(body, dict) else None
            return rules.check_filter(resource, None if text is None else str(text))
        if resource == "Users":
            return self._check_user_write(method, parts, body)
        return self._check_group_write(method, parts, body)

    def _group_names(self) -> dict[str, str]:
        """Group id -> displayName, read in place (copying groups copies all their members)."""
        memory = self.scim.memory
        with memory.lock:
            groups = [r for r in memory.resources if GROUP in r.schemas]
        return {str(group.id): str(getattr(group, "display_name", "")) for group in groups}

    def _check_group_write(self, method: str, parts: list[str], body: Any) -> rules.Refusal | None:
        """New groups: a name unused here and in the org; changes: no new name."""
        if method == "POST" and len(parts) == 1:
            name = body.get("displayName") if isinstance(body, dict) else None
            existing = list(self._group_names().values())
            return rules.check_new_group(
                name, existing=existing, org_groups=self.settings.org_groups
            )
        if method in ("PATCH", "PUT") and len(parts) == 2:
            current = self._group_names().get(parts[1])
            if current is not None:
                return rules.check_rename(body, current)
        return None

    def _check_user_write(self, method: str, parts: list[str], body: Any) -> rules.Refusal | None:
        """New users: displayName, verified domain, unused name and email; changes: unused."""
        if method == "POST" and len(parts) == 1:
            taken = self._taken(None)
            return rules.check_new_user(body, verified_domains=self._domains, taken=taken)
        if method in ("PATCH", "PUT") and len(parts) == 2:
            names, emails = rules.claims(body)
            if not names and not emails:
                return None
            return rules.check_claims(names, emails, self._taken(parts[1]))
        return None

    def _taken(self, except_id: str | None) -> list[tuple[str, list[str]]]:
        """(userName, emails) of every user, DELETEd ones included, but `except_id`; read in
        place, since copying every user for each write made a write O(n) in deep copies."""
        memory = self.scim.memory
        with memory.lock:
            users = [r for r in memory.resources if USER in r.schemas]
        with self._lock:
            users += self._deleted.values()
        return [
            (
                str(getattr(user, "user_name", None) or ""),
                [str(e.value).lower() for e in getattr(user, "emails", None) or () if e.value],
            )
            for user in users
            if user.id != except_id
        ]

    def _deactivating(self, user_id: str, send: Send) -> Send:
        """`send` that, as scim2-server answers 204 to a user's DELETE, keeps it as deleted.

        scim2-server has removed the user by the time it starts answering, and nothing awaits
        in between, so no other request sees the user neither live nor deleted.
        """
        found = next((u for u in self._live(USER) if u.id == user_id), None)
        snapshot = None if found is None else found.model_copy(update={"active": False})

        async def watch(message: dict[str, Any]) -> None:
            started = message["type"] == "http.response.start"
            if started and message["status"] == 204 and snapshot is not None:
                with self._lock:
                    self._deleted[user_id] = snapshot
            await send(message)

        return watch


def make_atlassian_app(settings: AtlassianSettings) -> AtlassianApp:
    """A new, empty directory."""
    return AtlassianApp(settings)
