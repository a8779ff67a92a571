"""A Zendesk user record and the field rules of a user write, without the account around it.

`parse` checks the `{"user": {...}}` object of a create or update field by field and reports
every problem at once as a 422 RecordInvalid, the way Zendesk does. `resolve_role` applies the
role rules: `role` is end-user, agent or admin; a `custom_role_id` must be one of the account's
custom roles and is for agents only (given without a role it makes the user an agent; given
with role end-user or admin it is refused); a user who stops being an agent loses the custom
role. Uniqueness needs the other users, so the store checks it.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from emulators.zendesk import errors
from emulators.zendesk.errors import FieldErrors

ROLES = ("end-user", "agent", "admin")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def now() -> str:
    """The current time as Zendesk writes it: ISO 8601 in UTC, to the second."""
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Identity:
    """An email identity; a user's first one is the primary email."""

    id: int
    value: str
    created_at: str


@dataclass
class User:
    id: int
    name: str
    role: str
    created_at: str
    updated_at: str
    external_id: str | None = None
    custom_role_id: int | None = None
    active: bool = True
    suspended: bool = False
    verified: bool = False
    identities: list[Identity] = field(default_factory=list)

    @property
    def email(self) -> str | None:
        return self.identities[0].value if self.identities else None

    def has_email(self, email: str) -> bool:
        return any(identity.value == email.lower() for identity in self.identities)

    def render(self, base: str) -> dict[str, Any]:
        """The user as the API returns it; `base` is the API base URL (`.../api/v2`)."""
        return {
            "id": self.id,
            "url": f"{base}/users/{self.id}.json",
            "name": self.name,
            "email": self.email,
            "external_id": self.external_id,
            "role": self.role,
            "custom_role_id": self.custom_role_id,
            "role_type": 0 if self.custom_role_id is not None else None,
            "active": self.active,
            "suspended": self.suspended,
            "verified": self.verified,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }

    def render_identities(self, base: str) -> list[dict[str, Any]]:
        return [
            {
                "id": identity.id,
                "url": f"{base}/users/{self.id}/identities/{identity.id}.json",
                "user_id": self.id,
                "type": "email",
                "value": identity.value,
                "verified": self.verified,
                "primary": index == 0,
                "created_at": identity.created_at,
                "updated_at": identity.created_at,
            }
            for index, identity in enumerate(self.identities)
        ]


class _Bad(Exception):
    def __init__(self, code: str, description: str) -> None:
        super().__init__(description)
        self.code = code
        self.description = description


def _name(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _Bad("BlankValue", "Name: cannot be blank")
    return value.strip()


def _email(value: Any) -> str:
    if not isinstance(value, str) or not _EMAIL.fullmatch(value.strip()):
        raise _Bad("InvalidValue", f"Email: {value} is not properly formatted")
    return value.strip().lower()


def _external_id(value: Any) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)  # Zendesk stores external ids as strings
    if value is not None and not isinstance(value, str):
        raise _Bad("InvalidValue", "External ID: is invalid")
    return value or None


def _role(value: Any) -> str:
    if value not in ROLES:
        raise _Bad("InvalidValue", f"Role: {value} is not valid")
    return str(value)


def _custom_role_id(value: Any) -> int | None:
    if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
        raise _Bad("InvalidValue", "Custom role: is invalid")
    return value


def _flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise _Bad("InvalidValue", "must be true or false")
    return value


_FIELDS: dict[str, Callable[[Any], Any]] = {
    "name": _name,
    "email": _email,
    "external_id": _external_id,
    "role": _role,
    "custom_role_id": _custom_role_id,
    "suspended": _flag,
    "verified": _flag,
}


def parse(body: Any, *, creating: bool) -> dict[str, Any]:
    """The user fields a request sets, normalised; 400 without a `user` object, 422 if invalid.

    Fields the emulator does not model (phone, locale, tags, ...) are ignored, as Zendesk
    ignores read-only ones. An empty external_id means none; a null email is no email.
    """
    user = body.get("user") if isinstance(body, dict) else None
    if not isinstance(user, dict):
        raise errors.missing("user")
    if creating:
        user = {"name": None, **user}
    details: FieldErrors = {}
    fields: dict[str, Any] = {}
    for name, check in _FIELDS.items():
        if name not in user or (name == "email" and user[name] is None):
            continue
        try:
            fields[name] = check(user[name])
        except _Bad as bad:
            errors.add(details, name, bad.code, bad.description)
    if details:
        raise errors.invalid(details)
    return fields


def resolve_role(
    fields: Mapping[str, Any],
    custom_roles: Mapping[int, str],
    *,
    role: str = "end-user",
    custom_role_id: int | None = None,
) -> tuple[str, int | None]:
    """(role, custom_role_id) once `fields` are written to a user with `role`, `custom_role_id`."""
    new_role = fields.get("role", role)
    if "custom_role_id" in fields:
        custom = fields["custom_role_id"]
    else:
        custom = custom_role_id if new_role == "agent" else None
    if custom is None:
        return new_role, None
    if custom not in custom_roles:
        raise errors.invalid_field(
            "custom_role_id", "InvalidValue", f"Custom role: {custom} is not a role of this account"
        )
    if "role" not in fields:
        return "agent", custom  # a custom role is an agent's: giving one makes an agent
    if new_role != "agent":
        raise errors.invalid_field(
            "custom_role_id", "InvalidValue", f"Custom role: is only for agents, not {new_role}"
        )
    return new_role, custom
