"""The emulated org's data: users, profiles, roles, permission sets and their assignments, logins.

Seeds (emulators/seed/org.yaml), the admin endpoints and tests change the org only through
`add_user` and `change_user`, which keep what a real org keeps: every user has one profile-owned
permission set assignment and one UserLogin row; a change to a user bumps its SystemModstamp and
LastModifiedDate, a freeze bumps only UserLogin.LastModifiedDate, a new assignment gets its own
SystemModstamp and a removed one leaves no trace. Time comes from an injectable clock, truncated
to the second as Salesforce stores it. Queries read a consistent view through `reading`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import yaml

from emulators.salesforce import ids
from emulators.salesforce.changes import UserChange, parse_change, parse_seed_user
from emulators.salesforce.schema import OBJECTS, Field, SObject, coerce, type_of

Clock = Callable[[], dt.datetime]
Row = dict[str, Any]
Tables = dict[str, dict[str, Row]]


def _system_clock() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Org:
    """One in-memory org; thread-safe, since the emulator serves it from a thread of its own."""

    def __init__(self, *, clock: Clock | None = None) -> None:
        self._clock = clock or _system_clock
        self._lock = threading.RLock()
        self._tables: Tables = {obj.name: {} for obj in OBJECTS.values()}
        self._custom: dict[str, Field] = {}
        self._usernames: dict[str, str] = {}
        """Lower-case username → user id: usernames are unique, case-insensitively."""
        self._assignments: dict[str, dict[str, str]] = {}
        """User id → permission set id → assignment id (PermissionSetAssignment's index)."""
        self._sequence = 0
        self.org_id = ids.from_name(ids.ORG, "emulated-org")

    @classmethod
    def from_seed(cls, path: Path, *, clock: Clock | None = None) -> Org:
        document = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        return cls.from_users(list(document.get("users") or []), clock=clock)

    @classmethod
    def from_users(cls, users: list[dict[str, Any]], *, clock: Clock | None = None) -> Org:
        org = cls(clock=clock)
        for user in users:
            org.add_user(user)
        return org

    def now(self) -> dt.datetime:
        """The clock's time in UTC, whole seconds (Salesforce stores no milliseconds)."""
        moment = self._clock()
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.UTC)
        return moment.astimezone(dt.UTC).replace(microsecond=0)

    # -- reading -------------------------------------------------------------------------------

    def describe(self, name: str) -> SObject | None:
        """The sObject called `name` (any case), User with this org's custom fields."""
        obj = OBJECTS.get(name.lower())
        if obj is not None and obj.name == "User":
            with self._lock:
                return obj.with_fields(list(self._custom.values()))
        return obj

    @contextlib.contextmanager
    def reading(self) -> Iterator[Tables]:
        """Every table (object name → id → row), unchanging for the block: one query's view.

        The rows are the org's own, lent for the block; readers copy what they keep.
        """
        with self._lock:
            yield self._tables

    def user_by_username(self, username: str) -> Row | None:
        with self._lock:
            row = self._tables["User"].get(self._usernames.get(username.lower(), ""))
            return None if row is None else dict(row)

    def users(self) -> list[dict[str, Any]]:
        """Every user in seed format (what `add_user` accepts), ordered by Id."""
        with self._lock:
            sets: dict[str, list[str]] = {}
            for psa in self._tables["PermissionSetAssignment"].values():
                permission_set = self._tables["PermissionSet"][psa["PermissionSetId"]]
                if not permission_set["IsOwnedByProfile"]:
                    sets.setdefault(psa["AssigneeId"], []).append(permission_set["Name"])
            return [
                self._export(row, sorted(sets.get(key, [])))
                for key, row in sorted(self._tables["User"].items())
            ]

    def __len__(self) -> int:
        return len(self._tables["User"])

    # -- changing ------------------------------------------------------------------------------

    def add_user(self, user: dict[str, Any]) -> str:
        """Create a user from a seed-format mapping; returns its 18-character id."""
        change = parse_seed_user(user)
        with self._lock:
            username = change.fields["Username"]
            if self.user_by_username(username) is not None:
                raise ValueError(f"duplicate value found: Username {username!r}")
            user_id = change.user_id or self._new_id(ids.USER, username.lower())
            if user_id in self._tables["User"]:
                raise ValueError(f"duplicate value found: Id {user_id}")
            now = self.now()
            row: Row = {f.name: None for f in OBJECTS["user"].fields.values()}
            row |= {f.name: None for f in self._custom.values()}
            row |= {"Id": user_id, "IsActive": True, "CreatedDate": now}
            self._tables["User"][user_id] = row
            self._tables["UserLogin"][ids.from_name(ids.USER_LOGIN, user_id)] = {
                "Id": ids.from_name(ids.USER_LOGIN, user_id),
                "UserId": user_id,
                "IsFrozen": False,
                "IsPasswordLocked": False,
                "LastModifiedDate": now,
            }
            try:
                self._apply(row, change, now)
            except ValueError:
                self._remove_user(user_id)
                raise
            return user_id

    def _remove_user(self, user_id: str) -> None:
        """Undo a half-made user (add_user failed on a value only its custom fields could check)."""
        self._usernames = {k: v for k, v in self._usernames.items() if v != user_id}
        del self._tables["User"][user_id]
        del self._tables["UserLogin"][ids.from_name(ids.USER_LOGIN, user_id)]
        for psa_id in self._assignments.pop(user_id, {}).values():
            del self._tables["PermissionSetAssignment"][psa_id]

    def change_user(self, user_id: str, changes: dict[str, Any]) -> None:
        """Apply an admin change (the body of POST /_emulator/users/{id}); KeyError: no user."""
        change = parse_change(changes)
        with self._lock:
            row = self._tables["User"].get(ids.to_18(user_id))
            if row is None:
                raise KeyError(user_id)
            self._apply(row, change, self.now())

    def _apply(self, row: Row, change: UserChange, now: dt.datetime) -> None:
        user_id = row["Id"]
        custom = {name: self._register_custom(name, value) for name, value in change.custom.items()}
        touched = bool(change.fields or change.custom or change.profile or change.role_given)
        username = change.fields.get("Username")
        if username is not None:
            owner = self._usernames.get(username.lower(), user_id)
            if owner != user_id:
                raise ValueError(f"duplicate value found: Username {username!r}")
            self._usernames.pop(str(row["Username"] or "").lower(), None)
            self._usernames[username.lower()] = user_id
        row.update(change.fields)
        for name, value in custom.items():
            row[self._custom[name.lower()].name] = value
        if change.profile is not None:
            row["ProfileId"] = self._profile(change.profile, now)
            self._replace_profile_assignment(user_id, row["ProfileId"], now)
        if change.role_given:
            row["UserRoleId"] = (
                None
                if change.role is None
                else self._named(ids.USER_ROLE, "UserRole", change.role, now)
            )
        if touched:
            row["Name"] = " ".join(p for p in (row["FirstName"], row["LastName"]) if p)
            row["LastModifiedDate"] = row["SystemModstamp"] = now
        if change.frozen is not None:
            login = self._login(user_id)
            login["IsFrozen"] = change.frozen
            login["LastModifiedDate"] = now
        for name in change.remove_sets:
            self._unassign(user_id, ids.from_name(ids.PERMISSION_SET, name.lower()))
        for name in change.add_sets:
            set_id = self._permission_set(name, now)
            if set_id not in self._assignments.get(user_id, {}):
                self._assign(user_id, set_id, now)

    def _register_custom(self, name: str, value: Any) -> Any:
        """Add a custom field to User on first sight, typed by its first value; the value coerced.

        A field first seen as null is retyped by its first non-null value.
        """
        key = name.lower()
        known = self._custom.get(key)
        if known is None:
            self._custom[key] = Field(name, "string" if value is None else type_of(value))
            for row in self._tables["User"].values():
                row.setdefault(name, None)
        elif value is not None and known.type != type_of(value) and self._all_null(known.name):
            self._custom[key] = Field(known.name, type_of(value))  # typed by its first non-null
        try:
            return coerce(value, self._custom[key].type)
        except ValueError:
            raise ValueError(f"{name}: {value!r} is not a valid {self._custom[key].type}") from None

    def _all_null(self, name: str) -> bool:
        return all(row.get(name) is None for row in self._tables["User"].values())

    def _login(self, user_id: str) -> Row:
        return self._tables["UserLogin"][ids.from_name(ids.USER_LOGIN, user_id)]

    def _new_id(self, prefix: str, *parts: str) -> str:
        self._sequence += 1
        return ids.from_name(prefix, *parts, str(self._sequence))

    def _named(self, prefix: str, table: str, name: str, now: dt.datetime) -> str:
        record_id = ids.from_name(prefix, name.lower())
        if record_id not in self._tables[table]:
            self._tables[table][record_id] = {"Id": record_id, "Name": name, "SystemModstamp": now}
        return record_id

    def _profile(self, name: str, now: dt.datetime) -> str:
        profile_id = self._named(ids.PROFILE, "Profile", name, now)
        owned_id = ids.from_name(ids.PERMISSION_SET, "profile", profile_id)
        self._tables["PermissionSet"].setdefault(
            owned_id,
            {
                "Id": owned_id,
                "Name": "X" + profile_id[:15],
                "Label": profile_id[:15],
                "IsOwnedByProfile": True,
                "ProfileId": profile_id,
                "SystemModstamp": now,
            },
        )
        return profile_id

    def _permission_set(self, name: str, now: dt.datetime) -> str:
        set_id = ids.from_name(ids.PERMISSION_SET, name.lower())
        self._tables["PermissionSet"].setdefault(
            set_id,
            {
                "Id": set_id,
                "Name": name,
                "Label": name,
                "IsOwnedByProfile": False,
                "ProfileId": None,
                "SystemModstamp": now,
            },
        )
        return set_id

    def _assign(self, user_id: str, set_id: str, now: dt.datetime) -> None:
        psa_id = self._new_id(ids.PERMISSION_SET_ASSIGNMENT, user_id, set_id)
        self._tables["PermissionSetAssignment"][psa_id] = {
            "Id": psa_id,
            "AssigneeId": user_id,
            "PermissionSetId": set_id,
            "SystemModstamp": now,
        }
        self._assignments.setdefault(user_id, {})[set_id] = psa_id

    def _unassign(self, user_id: str, set_id: str) -> None:
        """Delete the assignment, if any: it leaves no trace (no timestamp, no tombstone)."""
        psa_id = self._assignments.get(user_id, {}).pop(set_id, None)
        if psa_id is not None:
            del self._tables["PermissionSetAssignment"][psa_id]

    def _replace_profile_assignment(self, user_id: str, profile_id: str, now: dt.datetime) -> None:
        sets = self._tables["PermissionSet"]
        for set_id in list(self._assignments.get(user_id, {})):
            if sets[set_id]["IsOwnedByProfile"]:
                self._unassign(user_id, set_id)
        self._assign(user_id, ids.from_name(ids.PERMISSION_SET, "profile", profile_id), now)

    def _export(self, row: Row, permission_sets: list[str]) -> dict[str, Any]:
        tables = self._tables
        role = tables["UserRole"].get(row["UserRoleId"] or "")
        exported: dict[str, Any] = {"Id": row["Id"]}
        for key in ("Username", "Email", "FirstName", "LastName", "IsActive"):
            exported[key] = row[key]
        exported["Profile"] = {"Name": tables["Profile"][row["ProfileId"]]["Name"]}
        exported["UserRole"] = None if role is None else {"Name": role["Name"]}
        for key in ("Department", "Title", "FederationIdentifier", "EmployeeNumber", "ManagerId"):
            exported[key] = row[key]
        exported |= {f.name: row.get(f.name) for f in self._custom.values()}
        exported["PermissionSets"] = permission_sets
        exported["IsFrozen"] = bool(self._login(row["Id"])["IsFrozen"])
        return exported
