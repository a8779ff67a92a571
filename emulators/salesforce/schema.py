"""The sObjects the emulator serves: their fields (with types), parent and child relationships.

SOQL validation (INVALID_FIELD, INVALID_TYPE) and evaluation both read this one description,
so a field is either known everywhere or nowhere. Custom fields (`X__c`) on User come from the
seeded org, which adds them to User's description as it meets them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Literal

FieldType = Literal["id", "string", "boolean", "datetime", "date", "double"]


@dataclass(frozen=True)
class Field:
    name: str
    type: FieldType


@dataclass(frozen=True)
class Parent:
    """A child-to-parent relationship: `Profile` on User, through the `ProfileId` field."""

    name: str
    field: str
    target: str


@dataclass(frozen=True)
class Child:
    """A parent-to-child relationship: `PermissionSetAssignments` on User, by `AssigneeId`."""

    name: str
    object: str
    field: str


@dataclass(frozen=True)
class SObject:
    name: str
    fields: dict[str, Field]
    """By lower-case name: SOQL names are case-insensitive, responses use these spellings."""
    parents: dict[str, Parent] = field(default_factory=dict)
    children: dict[str, Child] = field(default_factory=dict)

    def with_fields(self, extra: list[Field]) -> SObject:
        fields = dict(self.fields) | {f.name.lower(): f for f in extra}
        return SObject(self.name, fields, self.parents, self.children)


def _object(
    name: str,
    fields: dict[str, FieldType],
    parents: tuple[Parent, ...] = (),
    children: tuple[Child, ...] = (),
) -> SObject:
    return SObject(
        name,
        {key.lower(): Field(key, kind) for key, kind in fields.items()},
        {p.name.lower(): p for p in parents},
        {c.name.lower(): c for c in children},
    )


USER_STRING_FIELDS = (
    "Username",
    "Email",
    "FirstName",
    "LastName",
    "Department",
    "Title",
    "FederationIdentifier",
    "EmployeeNumber",
)
"""User's writable text fields, as seeds and the admin endpoint may set them."""

OBJECTS: dict[str, SObject] = {
    obj.name.lower(): obj
    for obj in (
        _object(
            "User",
            {
                "Id": "id",
                **dict.fromkeys(USER_STRING_FIELDS, "string"),
                "Name": "string",
                "IsActive": "boolean",
                "ProfileId": "id",
                "UserRoleId": "id",
                "ManagerId": "id",
                "CreatedDate": "datetime",
                "LastModifiedDate": "datetime",
                "SystemModstamp": "datetime",
            },
            (
                Parent("Profile", "ProfileId", "Profile"),
                Parent("UserRole", "UserRoleId", "UserRole"),
                Parent("Manager", "ManagerId", "User"),
            ),
            (Child("PermissionSetAssignments", "PermissionSetAssignment", "AssigneeId"),),
        ),
        _object("Profile", {"Id": "id", "Name": "string", "SystemModstamp": "datetime"}),
        _object("UserRole", {"Id": "id", "Name": "string", "SystemModstamp": "datetime"}),
        _object(
            "PermissionSet",
            {
                "Id": "id",
                "Name": "string",
                "Label": "string",
                "IsOwnedByProfile": "boolean",
                "ProfileId": "id",
                "SystemModstamp": "datetime",
            },
            (Parent("Profile", "ProfileId", "Profile"),),
        ),
        _object(
            "PermissionSetAssignment",
            {"Id": "id", "AssigneeId": "id", "PermissionSetId": "id", "SystemModstamp": "datetime"},
            (
                Parent("Assignee", "AssigneeId", "User"),
                Parent("PermissionSet", "PermissionSetId", "PermissionSet"),
            ),
        ),
        _object(
            "UserLogin",
            {
                "Id": "id",
                "UserId": "id",
                "IsFrozen": "boolean",
                "IsPasswordLocked": "boolean",
                "LastModifiedDate": "datetime",
            },
            (Parent("User", "UserId", "User"),),
        ),
    )
}


def type_of(value: Any) -> FieldType:
    """The type a custom field takes from its first value in a seed (dates stay dates)."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, dt.datetime):
        return "datetime"
    if isinstance(value, dt.date):
        return "date"
    if isinstance(value, int | float):
        return "double"
    if isinstance(value, str) and _is_iso_date(value):
        return "date"
    return "string"


def _is_iso_date(text: str) -> bool:
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        return False
    return len(text) == 10


_ACCEPTS: dict[FieldType, tuple[type, ...]] = {
    "boolean": (bool,),
    "datetime": (dt.datetime,),
    "double": (int, float),
    "string": (str,),
    "id": (str,),
}


def coerce(value: Any, kind: FieldType) -> Any:
    """A seed or admin value as the org stores it for a field of `kind`; ValueError if it can't."""
    if value is None:
        return None
    if kind == "date":
        if isinstance(value, dt.datetime):
            return value.date()
        if isinstance(value, dt.date):
            return value
        if isinstance(value, str):
            return dt.date.fromisoformat(value)
    elif isinstance(value, _ACCEPTS[kind]) and (kind == "boolean") == isinstance(value, bool):
        return value
    raise ValueError(f"{value!r} is not a valid {kind}")


def to_wire(value: Any) -> Any:
    """A stored value as the REST API writes it: `2026-11-28T10:00:00.000+0000`, `2026-11-28`."""
    if isinstance(value, dt.datetime):
        utc = value.astimezone(dt.UTC)
        return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}+0000"
    if isinstance(value, dt.date):
        return value.isoformat()
    return value
