"""The exact SOQL the Salesforce source sends, built from policy values: pure text, no I/O.

Every query the source can send is written here, so the wire contract with the org (and with
the emulator) can be read in one place and tested without a network. Values from policy never
reach a query unescaped: string literals are quoted with backslash escapes, datetimes become
unquoted UTC literals in whole seconds, and extra field names must look like field names. The
policy's `where` is the one exception by design: it is SOQL, wrapped in parentheses so that its
ORs cannot escape the conditions we add.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterable, Iterator, Sequence

USER_FIELDS: tuple[str, ...] = (
    "Id",
    "Username",
    "Email",
    "FirstName",
    "LastName",
    "IsActive",
    "Profile.Name",
    "UserRole.Name",
    "Department",
    "Title",
    "FederationIdentifier",
    "EmployeeNumber",
    "ManagerId",
    "SystemModstamp",
)
"""What every full read asks for; the policy's `fields` are added after these."""

ASSIGNMENTS = "PermissionSetAssignments"
ASSIGNMENTS_SUBQUERY = (
    "(SELECT PermissionSet.Name FROM PermissionSetAssignments"
    " WHERE PermissionSet.IsOwnedByProfile = false)"
)
"""Each user's permission sets, without the one every profile owns behind the scenes."""

FROZEN_USERS = "SELECT UserId FROM UserLogin WHERE IsFrozen = true"
CHANGED_USERS = (
    "SELECT Id, SystemModstamp FROM User WHERE SystemModstamp > {w} ORDER BY SystemModstamp"
)
CHANGED_LOGINS = (
    "SELECT UserId, IsFrozen, LastModifiedDate FROM UserLogin"
    " WHERE LastModifiedDate > {w} ORDER BY LastModifiedDate"
)
CHANGED_ASSIGNMENTS = (
    "SELECT AssigneeId, SystemModstamp FROM PermissionSetAssignment"
    " WHERE SystemModstamp > {w} ORDER BY SystemModstamp"
)
NEWEST: tuple[tuple[str, str], ...] = (
    ("User", "SystemModstamp"),
    ("UserLogin", "LastModifiedDate"),
    ("PermissionSetAssignment", "SystemModstamp"),
)
"""The object and timestamp each incremental query watches (the watermark spans all three)."""

ID_CHUNK = 200
"""At most this many ids in one `IN (...)`, keeping each query far below SOQL's length limit."""

_FIELD = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)*$")
_ESCAPES = {
    "\\": "\\\\",
    "'": "\\'",
    '"': '\\"',
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\b": "\\b",
    "\f": "\\f",
}


def quote(value: str) -> str:
    """A SOQL string literal: `O'Brien` -> `'O\\'Brien'`, backslashes and controls escaped."""
    return "'" + "".join(_ESCAPES.get(char, char) for char in value) + "'"


def datetime_literal(moment: datetime.datetime) -> str:
    """An unquoted SOQL datetime in UTC, floored to whole seconds: `2026-11-28T10:00:00Z`."""
    if moment.tzinfo is None:
        raise ValueError(f"datetime {moment.isoformat()} has no time zone")
    utc = moment.astimezone(datetime.UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%SZ")


def user_fields(extra: Iterable[str] = ()) -> tuple[str, ...]:
    """USER_FIELDS then each extra field once (SOQL names are case-insensitive)."""
    fields = list(USER_FIELDS)
    seen = {name.lower() for name in fields}
    for name in extra:
        if not _FIELD.match(name):
            raise ValueError(f"{name!r} is not a Salesforce field name")
        if name.lower() not in seen:
            seen.add(name.lower())
            fields.append(name)
    return tuple(fields)


def _id_list(ids: Sequence[str]) -> str:
    if not ids:
        raise ValueError("an IN list needs at least one id")
    return "(" + ", ".join(quote(one) for one in ids) + ")"


def users(fields: Sequence[str], where: str | None = None, ids: Sequence[str] | None = None) -> str:
    """The user query: every user (full read), or just `ids` (incremental), narrowed by `where`."""
    conditions = []
    if ids is not None:
        conditions.append(f"Id IN {_id_list(ids)}")
    if where and where.strip():
        conditions.append(f"({where.strip()})")
    condition = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    selected = ", ".join(fields)  # checked by user_fields; `where` is policy-authored SOQL
    return f"SELECT {selected}, {ASSIGNMENTS_SUBQUERY} FROM User{condition} ORDER BY Id"  # noqa: S608


def frozen(ids: Sequence[str] | None = None) -> str:
    """The ids of frozen users: all of them, or those among `ids`."""
    if ids is None:
        return f"{FROZEN_USERS} ORDER BY UserId"
    return f"{FROZEN_USERS} AND UserId IN {_id_list(ids)}"


def changed_users(since: datetime.datetime) -> str:
    return CHANGED_USERS.format(w=datetime_literal(since))


def changed_logins(since: datetime.datetime) -> str:
    return CHANGED_LOGINS.format(w=datetime_literal(since))


def changed_assignments(since: datetime.datetime) -> str:
    return CHANGED_ASSIGNMENTS.format(w=datetime_literal(since))


def newest(sobject: str, field: str) -> str:
    """The one most recent timestamp of `sobject`: where watching for changes starts."""
    return f"SELECT {field} FROM {sobject} ORDER BY {field} DESC LIMIT 1"  # noqa: S608 - constants


def chunks(ids: Iterable[str], size: int = ID_CHUNK) -> Iterator[list[str]]:
    """`ids` in lists of at most `size`, in order."""
    chunk: list[str] = []
    for one in ids:
        chunk.append(one)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
