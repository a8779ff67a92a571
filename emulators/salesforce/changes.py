"""Validation of the two ways a user reaches the org: a seed-format mapping, an admin change.

Both arrive as loose JSON or YAML; this turns them into one checked `UserChange` (or a
ValueError naming the offending key) before the org touches anything, so a bad request
changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from emulators.salesforce import ids
from emulators.salesforce.schema import USER_STRING_FIELDS


@dataclass
class UserChange:
    user_id: str | None = None
    fields: dict[str, Any] = field(default_factory=dict)
    """Standard User fields by their API names, values checked."""
    custom: dict[str, Any] = field(default_factory=dict)
    profile: str | None = None
    role: str | None = None
    role_given: bool = False
    frozen: bool | None = None
    add_sets: list[str] = field(default_factory=list)
    remove_sets: list[str] = field(default_factory=list)


def parse_seed_user(user: dict[str, Any]) -> UserChange:
    """A seed-format user (emulators/seed/org.yaml); Username, LastName and Profile are required."""
    change = _parse(user, seed=True)
    missing = [key for key in ("Username", "LastName") if not change.fields.get(key)]
    if change.profile is None:
        missing.append("Profile")
    if missing:
        raise ValueError(f"Required fields are missing: [{', '.join(missing)}]")
    change.fields.setdefault("IsActive", True)
    change.fields.setdefault("Email", change.fields["Username"])
    return change


def parse_change(changes: dict[str, Any]) -> UserChange:
    """The body of POST /_emulator/users/{id}: any subset of the contract's keys."""
    return _parse(changes, seed=False)


def _name_of(key: str, value: Any, *, nullable: bool) -> str | None:
    if isinstance(value, dict):
        value = value.get("Name")
    if value is None and nullable:
        return None
    if not isinstance(value, str) or not value:
        raise ValueError(f"{key} must name a record")
    return value


def _names(key: str, value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ValueError(f"{key} must be a list of permission set names")
    return list(value)


def _parse(data: dict[str, Any], *, seed: bool) -> UserChange:
    if not isinstance(data, dict):
        raise ValueError("a user must be a mapping of field names to values")
    change = UserChange()
    for key, value in data.items():
        handler = _HANDLERS.get(key)
        if handler is not None:
            handler(change, key, value, seed)
        elif key.endswith("__c") and key[:-3].replace("_", "a").isalnum():
            change.custom[key] = value
        else:
            raise ValueError(f"No such column '{key}' on entity 'User'")
    return change


def _set_id(change: UserChange, key: str, value: Any, seed: bool) -> None:
    if not seed:
        raise ValueError("Id cannot be changed")
    change.user_id = None if value is None else _user_id(key, value)


def _set_text(change: UserChange, key: str, value: Any, seed: bool) -> None:
    if value is None and key in ("Username", "LastName", "Email"):
        raise ValueError(f"Required fields are missing: [{key}]")
    if value is not None and not isinstance(value, str | int):
        raise ValueError(f"{key} must be text")
    change.fields[key] = None if value is None else str(value)


def _set_active(change: UserChange, key: str, value: Any, seed: bool) -> None:
    change.fields[key] = _boolean(key, value)


def _set_manager(change: UserChange, key: str, value: Any, seed: bool) -> None:
    change.fields[key] = None if value is None else _user_id(key, value)


def _set_profile(change: UserChange, key: str, value: Any, seed: bool) -> None:
    change.profile = _name_of(key, value, nullable=False)


def _set_role(change: UserChange, key: str, value: Any, seed: bool) -> None:
    change.role = _name_of(key, value, nullable=True)
    change.role_given = True


def _set_frozen(change: UserChange, key: str, value: Any, seed: bool) -> None:
    change.frozen = _boolean(key, value)


def _set_permission_sets(change: UserChange, key: str, value: Any, seed: bool) -> None:
    if seed:
        change.add_sets = _names(key, value or [])
    elif isinstance(value, dict) and set(value) <= {"add", "remove"}:
        change.add_sets = _names("PermissionSets.add", value.get("add", []))
        change.remove_sets = _names("PermissionSets.remove", value.get("remove", []))
    else:
        raise ValueError('PermissionSets must be {"add": [...], "remove": [...]}')


_HANDLERS: dict[str, Callable[[UserChange, str, Any, bool], None]] = {
    "Id": _set_id,
    **dict.fromkeys(USER_STRING_FIELDS, _set_text),
    "IsActive": _set_active,
    "ManagerId": _set_manager,
    "Profile": _set_profile,
    "Profile.Name": _set_profile,
    "UserRole": _set_role,
    "UserRole.Name": _set_role,
    "IsFrozen": _set_frozen,
    "PermissionSets": _set_permission_sets,
}


def _boolean(key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{key} must be true or false")
    return value


def _user_id(key: str, value: Any) -> str:
    try:
        user_id = ids.to_18(str(value))
    except ValueError:
        raise ValueError(f"{key}: invalid ID field: {value}") from None
    if not user_id.startswith(ids.USER):
        raise ValueError(f"{key}: {value} is not a User id")
    return user_id
