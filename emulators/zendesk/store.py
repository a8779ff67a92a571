"""The account's state (users, their identities, groups, memberships) behind one lock.

The server thread and test threads both touch it, so every public method takes `lock`; none
awaits while holding it. Users are listed in id order (ids grow), which is what makes cursors
stable. Rules that need the other users live here: a primary or secondary email belongs to one
live user, an external_id (compared case-insensitively) to one live user. A soft-deleted user
(`active: false`) keeps its record, is returned by id and by GET /deleted_users, frees its
email and external_id, leaves its groups, and can no longer be updated (404).

Writes limited per user take a `gate`, called under the lock once the target user is known
and before anything changes; it raises the 429, so a refused write changes nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Mapping
from typing import Any

from emulators.zendesk import errors, users
from emulators.zendesk.groups import Book
from emulators.zendesk.users import Identity, User, now

FIRST_USER_ID = 3750000000001
FIRST_IDENTITY_ID = 3760000000001
Gate = Callable[[Hashable], None]
EDITABLE = frozenset(
    {"name", "email", "external_id", "role", "custom_role_id", "suspended", "verified", "active"}
)


def _open(_: Hashable) -> None:
    """The gate of writes made behind the API's back: no limit."""


class Store:
    def __init__(self, custom_roles: Mapping[int, str]) -> None:
        self.lock = threading.Lock()
        self.custom_roles = custom_roles
        self.book = Book()
        self._users: dict[int, User] = {}
        self._next_user = FIRST_USER_ID
        self._next_identity = FIRST_IDENTITY_ID

    # -- lookups (callers hold the lock) ------------------------------------------------------

    def _live(self) -> list[User]:
        return [user for user in self._users.values() if user.active]

    def _user(self, user_id: int, *, live: bool = False) -> User:
        user = self._users.get(user_id)
        if user is None or (live and not user.active):
            raise errors.not_found()
        return user

    def _by_external_id(self, external_id: str) -> User | None:
        wanted = external_id.lower()
        return next(
            (u for u in self._live() if u.external_id and u.external_id.lower() == wanted), None
        )

    def _by_email(self, email: str) -> User | None:
        return next((user for user in self._live() if user.has_email(email)), None)

    def _check_unique(self, fields: Mapping[str, Any], user: User | None) -> None:
        details: errors.FieldErrors = {}
        email, external_id = fields.get("email"), fields.get("external_id")
        if email is not None and self._by_email(email) not in (None, user):
            message = f"Email: {email} is already being used by another user"
            errors.add(details, "email", "DuplicateValue", message)
        if external_id is not None and self._by_external_id(external_id) not in (None, user):
            message = f"External ID: {external_id} has already been taken"
            errors.add(details, "external_id", "DuplicateValue", message)
        if details:
            raise errors.invalid(details)

    # -- writes (callers hold the lock) -------------------------------------------------------

    def _identity(self, email: str) -> Identity:
        identity = Identity(self._next_identity, email, now())
        self._next_identity += 1
        return identity

    def _create(self, fields: Mapping[str, Any]) -> User:
        if "name" not in fields:
            raise errors.invalid_field("name", "BlankValue", "Name: cannot be blank")
        role, custom = users.resolve_role(fields, self.custom_roles)
        self._check_unique(fields, None)
        stamp = now()
        user = User(
            id=self._next_user,
            name=fields["name"],
            role=role,
            custom_role_id=custom,
            external_id=fields.get("external_id"),
            suspended=fields.get("suspended", False),
            verified=fields.get("verified", False),
            created_at=stamp,
            updated_at=stamp,
        )
        if fields.get("email"):
            user.identities.append(self._identity(fields["email"]))
        self._next_user += 1
        self._users[user.id] = user
        return user

    def _update(self, user: User, fields: Mapping[str, Any], *, primary: bool = False) -> None:
        """Apply `fields`; an email is added as a secondary identity (primary if `primary`)."""
        role, custom = users.resolve_role(
            fields, self.custom_roles, role=user.role, custom_role_id=user.custom_role_id
        )
        self._check_unique(fields, user)
        for name in ("name", "external_id", "suspended", "verified"):
            if name in fields:
                setattr(user, name, fields[name])
        user.role, user.custom_role_id = role, custom
        email = fields.get("email")
        if email is not None and not user.has_email(email):
            user.identities.append(self._identity(email))
        if email is not None and primary:
            user.identities.sort(key=lambda identity: identity.value != email)
        if role == "end-user":
            self.book.drop_user(user.id)  # memberships are for agents only
        user.updated_at = now()

    # -- the API's operations -----------------------------------------------------------------

    def list_users(
        self,
        base: str,
        *,
        deleted: bool = False,
        roles: set[str] | None = None,
        external_id: str | None = None,
        custom_role_id: int | None = None,
    ) -> list[dict[str, Any]]:
        with self.lock:
            found = [user for user in self._users.values() if user.active != deleted]
        return [
            user.render(base)
            for user in found
            if (roles is None or user.role in roles)
            and (external_id is None or (user.external_id or "").lower() == external_id.lower())
            and (custom_role_id is None or user.custom_role_id == custom_role_id)
        ]

    def search_users(self, base: str, found: Callable[[User], bool]) -> list[dict[str, Any]]:
        """The live users `found` keeps (a search's finder), in id order."""
        with self.lock:
            return [user.render(base) for user in self._live() if found(user)]

    def all_users(self, base: str, *, include_deleted: bool) -> list[dict[str, Any]]:
        with self.lock:
            return [u.render(base) for u in self._users.values() if include_deleted or u.active]

    def get_user(self, base: str, user_id: int, *, deleted: bool | None = None) -> dict[str, Any]:
        """A user by id; `deleted` True or False restricts to deleted or live users."""
        with self.lock:
            user = self._user(user_id)
            if deleted is not None and user.active == deleted:
                raise errors.not_found()
            return user.render(base)

    def identities(self, base: str, user_id: int) -> list[dict[str, Any]]:
        with self.lock:
            return self._user(user_id).render_identities(base)

    def find_user(
        self, base: str, *, email: str = "", external_id: str = ""
    ) -> dict[str, Any] | None:
        """The live (else deleted) user with this email identity or external_id, or None."""
        with self.lock:
            ranked = sorted(self._users.values(), key=lambda user: not user.active)
            for user in ranked:
                if (email and user.has_email(email)) or (
                    external_id and (user.external_id or "").lower() == external_id.lower()
                ):
                    return user.render(base)
            return None

    def create_user(self, base: str, fields: Mapping[str, Any]) -> dict[str, Any]:
        with self.lock:
            return self._create(fields).render(base)

    def upsert_user(
        self, base: str, fields: Mapping[str, Any], gate: Gate = _open
    ) -> tuple[dict[str, Any], bool]:
        """Update the user with this external_id, else this email, else create; (user, made)."""
        with self.lock:
            user = None
            if fields.get("external_id"):
                user = self._by_external_id(fields["external_id"])
            if user is None and fields.get("email"):
                user = self._by_email(fields["email"])
            if user is None:
                profile = fields.get("external_id") or fields.get("email") or ""
                gate(("profile", profile.lower()))
                return self._create(fields).render(base), True
            gate(("user", user.id))
            self._update(user, fields)
            return user.render(base), False

    def update_user(
        self, base: str, user_id: int, fields: Mapping[str, Any], gate: Gate = _open
    ) -> dict[str, Any]:
        with self.lock:
            user = self._user(user_id, live=True)
            gate(("user", user.id))
            self._update(user, fields)
            return user.render(base)

    def edit_user(self, user_id: int, changes: Mapping[str, Any]) -> None:
        """Behind the API's back: any field, the email made primary, `active` settable."""
        unknown = set(changes) - EDITABLE
        if unknown:
            raise TypeError(f"edit_user cannot set {sorted(unknown)}; it sets {sorted(EDITABLE)}")
        written = {name: value for name, value in changes.items() if name != "active"}
        fields = users.parse({"user": written}, creating=False)
        with self.lock:
            user = self._user(user_id)
            self._update(user, fields, primary=True)
            if "active" in changes:
                user.active = bool(changes["active"])
                if not user.active:
                    self.book.drop_user(user.id)

    def delete_user(self, base: str, user_id: int) -> dict[str, Any]:
        with self.lock:
            user = self._user(user_id, live=True)
            user.active = False
            user.updated_at = now()
            self.book.drop_user(user.id)
            return user.render(base)

    def add_membership(
        self, base: str, user_id: int, group_id: int, default: bool | None
    ) -> dict[str, Any]:
        with self.lock:
            return self.book.add(self._users.get(user_id), group_id, default).render(base)
