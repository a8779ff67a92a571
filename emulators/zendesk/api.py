"""The Users, Groups, Group Memberships and Custom Roles endpoints, one handler per route.

`ROUTES` maps (method, path pattern) to a handler; "#" in a pattern is a numeric id. A handler
is synchronous: `app.py` has already authenticated the request, taken its plan-limit token and
decoded its body, so no handler awaits (and none holds the store's lock across an await).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import URL, QueryParams
from starlette.responses import Response

from emulators.zendesk import errors, paging, search, users
from emulators.zendesk.groups import parse_membership
from emulators.zendesk.store import Store

JSON = "application/json; charset=utf-8"


def respond(body: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return Response(json.dumps(body), status, dict(headers or {}), media_type=JSON)


@dataclass(frozen=True)
class Call:
    """One routed request: its ids from the path, decoded body, URL and API base URL."""

    ids: list[int]
    body: Any
    url: URL
    query: QueryParams
    base: str


class Api:
    def __init__(
        self, store: Store, custom_roles: Mapping[int, str], gate: Callable[[Hashable], None]
    ) -> None:
        self.store = store
        self.custom_roles = custom_roles
        self.gate = gate
        """Takes a token from a user's bucket (PUT /users/{id}, create_or_update) or raises 429."""

    # -- users ---------------------------------------------------------------------------------

    def list_users(self, call: Call) -> Response:
        query = call.query
        roles = set(query.getlist("role[]")) | ({query["role"]} if "role" in query else set())
        permission_set = query.get("permission_set")
        found = self.store.list_users(
            call.base,
            roles=roles or None,
            external_id=query.get("external_id"),
            custom_role_id=(
                None
                if permission_set is None
                else int(permission_set)
                if permission_set.isdigit()
                else -1
            ),
        )
        return respond(paging.page(call.url, query, found, "users"))

    def search_users(self, call: Call) -> Response:
        """Search Users: by `query` (a subset of the search syntax) or `external_id`."""
        found = search.finder(call.query.get("query"), call.query.get("external_id"))
        users_found = self.store.search_users(call.base, found)
        return respond(paging.offset_page(call.url, call.query, users_found, "users"))

    def show_user(self, call: Call) -> Response:
        return respond({"user": self.store.get_user(call.base, call.ids[0])})

    def create_user(self, call: Call) -> Response:
        fields = users.parse(call.body, creating=True)
        return respond({"user": self.store.create_user(call.base, fields)}, 201)

    def upsert_user(self, call: Call) -> Response:
        fields = users.parse(call.body, creating=False)
        user, created = self.store.upsert_user(call.base, fields, self.gate)
        return respond({"user": user}, 201 if created else 200)

    def update_user(self, call: Call) -> Response:
        fields = users.parse(call.body, creating=False)
        return respond({"user": self.store.update_user(call.base, call.ids[0], fields, self.gate)})

    def delete_user(self, call: Call) -> Response:
        return respond({"user": self.store.delete_user(call.base, call.ids[0])})

    def list_identities(self, call: Call) -> Response:
        found = self.store.identities(call.base, call.ids[0])
        return respond(paging.page(call.url, call.query, found, "identities"))

    def list_deleted_users(self, call: Call) -> Response:
        found = self.store.list_users(call.base, deleted=True)
        return respond(paging.page(call.url, call.query, found, "deleted_users"))

    def show_deleted_user(self, call: Call) -> Response:
        user = self.store.get_user(call.base, call.ids[0], deleted=True)
        return respond({"deleted_user": user})

    # -- groups --------------------------------------------------------------------------------

    def list_groups(self, call: Call) -> Response:
        with self.store.lock:
            found = [group.render(call.base) for group in self.store.book.live_groups()]
        return respond(paging.page(call.url, call.query, found, "groups"))

    def show_group(self, call: Call) -> Response:
        with self.store.lock:
            return respond({"group": self.store.book.group(call.ids[0]).render(call.base)})

    def create_group(self, call: Call) -> Response:
        group = call.body.get("group") if isinstance(call.body, dict) else None
        if not isinstance(group, dict):
            raise errors.missing("group")
        with self.store.lock:
            made = self.store.book.add_group(group.get("name"), group.get("description", ""))
            return respond({"group": made.render(call.base)}, 201)

    def delete_group(self, call: Call) -> Response:
        with self.store.lock:
            self.store.book.delete_group(call.ids[0])
        return Response(status_code=204)

    # -- group memberships ---------------------------------------------------------------------

    def _memberships(
        self, call: Call, *, user_id: int | None = None, group_id: int | None = None
    ) -> Response:
        with self.store.lock:
            book = self.store.book
            if group_id is not None:
                book.group(group_id)
            found = [m.render(call.base) for m in book.of(user_id=user_id, group_id=group_id)]
        return respond(paging.page(call.url, call.query, found, "group_memberships"))

    def list_memberships(self, call: Call) -> Response:
        return self._memberships(call)

    def list_user_memberships(self, call: Call) -> Response:
        self.store.get_user(call.base, call.ids[0])  # 404 for an unknown user
        return self._memberships(call, user_id=call.ids[0])

    def list_group_memberships(self, call: Call) -> Response:
        return self._memberships(call, group_id=call.ids[0])

    def show_membership(self, call: Call) -> Response:
        user_id = call.ids[0] if len(call.ids) == 2 else None
        with self.store.lock:
            membership = self.store.book.membership(call.ids[-1], user_id)
            return respond({"group_membership": membership.render(call.base)})

    def create_membership(self, call: Call) -> Response:
        user_id, group_id, default = parse_membership(call.body, call.ids[0] if call.ids else None)
        membership = self.store.add_membership(call.base, user_id, group_id, default)
        return respond({"group_membership": membership}, 201)

    def delete_membership(self, call: Call) -> Response:
        user_id = call.ids[0] if len(call.ids) == 2 else None
        with self.store.lock:
            self.store.book.remove(call.ids[-1], user_id)
        return Response(status_code=204)

    # -- custom roles --------------------------------------------------------------------------

    def list_custom_roles(self, call: Call) -> Response:
        roles = [
            {"id": role_id, "name": name, "description": "", "role_type": 0}
            for role_id, name in sorted(self.custom_roles.items())
        ]
        return respond({"custom_roles": roles})


ROUTES: list[tuple[str, tuple[str, ...], Callable[[Api, Call], Response]]] = [
    ("GET", ("users",), Api.list_users),
    ("POST", ("users",), Api.create_user),
    ("POST", ("users", "create_or_update"), Api.upsert_user),
    ("GET", ("users", "search"), Api.search_users),
    ("GET", ("users", "#"), Api.show_user),
    ("PUT", ("users", "#"), Api.update_user),
    ("DELETE", ("users", "#"), Api.delete_user),
    ("GET", ("users", "#", "identities"), Api.list_identities),
    ("GET", ("users", "#", "group_memberships"), Api.list_user_memberships),
    ("POST", ("users", "#", "group_memberships"), Api.create_membership),
    ("GET", ("users", "#", "group_memberships", "#"), Api.show_membership),
    ("DELETE", ("users", "#", "group_memberships", "#"), Api.delete_membership),
    ("GET", ("deleted_users",), Api.list_deleted_users),
    ("GET", ("deleted_users", "#"), Api.show_deleted_user),
    ("GET", ("groups",), Api.list_groups),
    ("POST", ("groups",), Api.create_group),
    ("GET", ("groups", "#"), Api.show_group),
    ("DELETE", ("groups", "#"), Api.delete_group),
    ("GET", ("groups", "#", "memberships"), Api.list_group_memberships),
    ("GET", ("group_memberships",), Api.list_memberships),
    ("POST", ("group_memberships",), Api.create_membership),
    ("GET", ("group_memberships", "#"), Api.show_membership),
    ("DELETE", ("group_memberships", "#"), Api.delete_membership),
    ("GET", ("custom_roles",), Api.list_custom_roles),
]


def route(method: str, parts: list[str]) -> tuple[Callable[[Api, Call], Response], list[int]]:
    """The handler for a request and the ids in its path; 404 InvalidEndpoint if none."""
    for allowed, pattern, handler in ROUTES:
        if allowed != method or len(pattern) != len(parts):
            continue
        if all(p == s or (p == "#" and s.isdigit()) for p, s in zip(pattern, parts, strict=True)):
            return handler, [int(s) for p, s in zip(pattern, parts, strict=True) if p == "#"]
    raise errors.no_endpoint()
