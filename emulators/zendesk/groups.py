"""Groups and group memberships: records of their own that link an agent to a group.

Only agents and admins may be members ("a membership links an agent to a group"): an end-user
is a 422 InvalidValue on user_id. An unknown or deleted user or group is a 404 RecordNotFound
(the emulator's reading; Zendesk documents neither). A user's first membership is their default
group. Deleting a group is a soft delete (`deleted: true`, gone from GET /groups) and removes
its memberships. `Book` holds no lock: `Store` calls it under its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from emulators.zendesk import errors
from emulators.zendesk.users import User, now

FIRST_GROUP_ID = 360010000001
FIRST_MEMBERSHIP_ID = 360020000001


@dataclass
class Group:
    id: int
    name: str
    description: str
    created_at: str
    updated_at: str
    deleted: bool = False

    def render(self, base: str) -> dict[str, Any]:
        return {
            "id": self.id,
            "url": f"{base}/groups/{self.id}.json",
            "name": self.name,
            "description": self.description,
            "default": False,
            "deleted": self.deleted,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


@dataclass
class Membership:
    id: int
    user_id: int
    group_id: int
    default: bool
    created_at: str
    updated_at: str

    def render(self, base: str) -> dict[str, Any]:
        return {
            "id": self.id,
            "url": f"{base}/group_memberships/{self.id}.json",
            "user_id": self.user_id,
            "group_id": self.group_id,
            "default": self.default,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


def parse_membership(body: Any, user_id: int | None) -> tuple[int, int, bool | None]:
    """(user_id, group_id, default) of a POST; `user_id` from the path wins over the body's."""
    membership = body.get("group_membership") if isinstance(body, dict) else None
    if not isinstance(membership, dict):
        raise errors.missing("group_membership")
    details: errors.FieldErrors = {}
    ids: dict[str, int] = {}
    for name in ("user_id", "group_id"):
        value = user_id if name == "user_id" and user_id is not None else membership.get(name)
        if isinstance(value, str) and value.isdigit():
            value = int(value)
        if value is None:
            errors.add(details, name, "BlankValue", f"{name}: cannot be blank")
        elif not isinstance(value, int) or isinstance(value, bool):
            errors.add(details, name, "InvalidValue", f"{name}: {value!r} is not an id")
        else:
            ids[name] = value
    default = membership.get("default")
    if default is not None and not isinstance(default, bool):
        errors.add(details, "default", "InvalidValue", "default: must be true or false")
    if details:
        raise errors.invalid(details)
    return ids["user_id"], ids["group_id"], default


class Book:
    """Every group and membership of the account."""

    def __init__(self) -> None:
        self.groups: dict[int, Group] = {}
        self.memberships: dict[int, Membership] = {}
        self._next_group = FIRST_GROUP_ID
        self._next_membership = FIRST_MEMBERSHIP_ID

    def live_groups(self) -> list[Group]:
        return [group for group in self.groups.values() if not group.deleted]

    def group(self, group_id: int) -> Group:
        group = self.groups.get(group_id)
        if group is None:
            raise errors.not_found()
        return group

    def add_group(self, name: Any, description: Any = "") -> Group:
        if not isinstance(name, str) or not name.strip():
            raise errors.invalid_field("name", "BlankValue", "Name: cannot be blank")
        name = name.strip()
        if any(group.name.lower() == name.lower() for group in self.live_groups()):
            raise errors.invalid_field("name", "DuplicateValue", "Name: has already been taken")
        stamp = now()
        description = description if isinstance(description, str) else ""
        group = Group(self._next_group, name, description, stamp, stamp)
        self._next_group += 1
        self.groups[group.id] = group
        return group

    def delete_group(self, group_id: int) -> None:
        group = self.group(group_id)
        if group.deleted:
            raise errors.not_found()
        group.deleted = True
        group.updated_at = now()
        for membership in list(self.of(group_id=group_id)):
            self.remove(membership.id)

    def of(
        self, *, user_id: int | None = None, group_id: int | None = None
    ) -> Iterator[Membership]:
        for membership in self.memberships.values():
            if user_id is not None and membership.user_id != user_id:
                continue
            if group_id is not None and membership.group_id != group_id:
                continue
            yield membership

    def membership(self, membership_id: int, user_id: int | None = None) -> Membership:
        membership = self.memberships.get(membership_id)
        if membership is None or (user_id is not None and membership.user_id != user_id):
            raise errors.not_found()
        return membership

    def add(self, user: User | None, group_id: int, default: bool | None) -> Membership:
        group = self.groups.get(group_id)
        if user is None or not user.active or group is None or group.deleted:
            raise errors.not_found()
        if user.role == "end-user":
            raise errors.invalid_field("user_id", "InvalidValue", "User: is not an agent")
        if any(True for _ in self.of(user_id=user.id, group_id=group_id)):
            raise errors.invalid_field(
                "user_id", "DuplicateValue", "User: is already a member of this group"
            )
        first = not any(True for _ in self.of(user_id=user.id))
        if default and not first:
            for other in self.of(user_id=user.id):
                other.default = False
        stamp = now()
        membership = Membership(
            self._next_membership, user.id, group_id, first or bool(default), stamp, stamp
        )
        self._next_membership += 1
        self.memberships[membership.id] = membership
        return membership

    def remove(self, membership_id: int, user_id: int | None = None) -> None:
        gone = self.membership(membership_id, user_id)
        del self.memberships[membership_id]
        rest = list(self.of(user_id=gone.user_id))
        if gone.default and rest:
            rest[0].default = True

    def drop_user(self, user_id: int) -> None:
        """Remove every membership of a user who is no longer an agent (or is deleted)."""
        for membership in list(self.of(user_id=user_id)):
            del self.memberships[membership.id]
