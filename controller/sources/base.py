"""The seam between the controller and wherever people come from (a file now, Salesforce next).

A source reads every user completely or reports why it could not: `SourceRead.error` is the
signal the safety rules depend on, so a source must never return a short list as if it were whole.
`user_from_fields` is the one place Salesforce field names become a `SourceUser`, shared by every
source so that a file and an org describe people identically. A record it refuses is not a failed
read: `quarantine` sets it aside, naming the user and the field, and every other user proceeds
(DESIGN.md rule 7; past a share of such records the guard distrusts the whole read).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from controller.model import Quarantined, SourceRead, SourceUser, SourceUserId

PERMISSION_SETS = "PermissionSets"
"""Not a real User field: the names of the user's permission set assignments, as a list."""
FROZEN = "IsFrozen"
"""UserLogin.IsFrozen, flattened onto the user."""
TRUE_WORDS = frozenset({"true", "yes", "1"})
FALSE_WORDS = frozenset({"false", "no", "0", ""})
REQUIRED = ("Id", "Username", "Email")


class RecordError(ValueError):
    """A record that cannot become a SourceUser, and the field at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class Source(Protocol):
    name: str

    async def read(self) -> SourceRead:
        """Read every user; on failure return a SourceRead whose `error` says why. A record
        that cannot be a user goes on `quarantined` (see `quarantine`), not in `users`."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


def flatten(record: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """`{"Profile": {"Name": "x"}}` -> `{"Profile.Name": "x"}`, as SOQL names parent fields."""
    flat: dict[str, Any] = {}
    for key, value in record.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def as_bool(value: Any, *, field: str) -> bool:
    if isinstance(value, bool):
        return value
    if value is None:
        return False
    word = str(value).strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise RecordError(field, f"{field} must be true or false, not {value!r}")


def as_names(value: Any) -> frozenset[str]:
    """A list, or a `;`-separated string as a CSV cell holds it."""
    if value is None:
        return frozenset()
    if isinstance(value, str):
        return frozenset(part.strip() for part in value.split(";") if part.strip())
    return frozenset(str(item) for item in value)


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _optional(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def user_from_fields(record: Mapping[str, Any]) -> SourceUser:
    """Build a SourceUser from Salesforce-named fields; RecordError names what is wrong."""
    fields = flatten(record)
    missing = [name for name in REQUIRED if not _text(fields.get(name)).strip()]
    if missing:
        named = ", ".join(missing)
        raise RecordError(named, f"missing required field(s): {named}")
    return SourceUser(
        id=SourceUserId(_text(fields["Id"])),
        username=_text(fields["Username"]),
        email=_text(fields["Email"]),
        first_name=_text(fields.get("FirstName")),
        last_name=_text(fields.get("LastName")),
        is_active=as_bool(fields.get("IsActive", True), field="IsActive"),
        frozen=as_bool(fields.get(FROZEN, False), field=FROZEN),
        profile=_optional(fields.get("Profile.Name")),
        role=_optional(fields.get("UserRole.Name")),
        department=_optional(fields.get("Department")),
        permission_sets=as_names(fields.get(PERMISSION_SETS)),
        fields=fields,
    )


def quarantine(
    record: Mapping[str, Any],
    error: ValueError,
    *,
    field: str | None = None,
    where: str | None = None,
) -> Quarantined:
    """The refused `record` set aside with why, and whatever of Id, Username, Email it has."""
    fields = flatten(record)
    known = {name: _text(fields.get(name)).strip() or None for name in REQUIRED}
    at_fault = error.field if isinstance(error, RecordError) else field
    return Quarantined(
        field=at_fault or "record",
        message=str(error),
        source_id=SourceUserId(known["Id"]) if known["Id"] else None,
        username=known["Username"],
        email=known["Email"],
        where=where,
    )
