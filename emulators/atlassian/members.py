"""Group membership PATCHes as Atlassian serves them: in time independent of the group's size.

scim2-server applies a PATCH by deep-copying the whole group several times (model copies, patch
application, storage update), so adding or removing one member of a 6,000-member group took
about 2 s of emulator CPU, a cost real directories do not have and that made the emulator, not
the controller, the bottleneck at 10,000 users (bench/RESULTS.md). A PATCH made only of member
changes (RFC 7644 3.5.2: `add` on `members`, `remove` on `members[value eq "..."]`) is applied
here to the stored group in place, under the storage lock, and answered as the directory
answers every PATCH: 200 with the group. Anything else (other attributes, a member that is not
there to remove, an unknown group) goes to scim2-server as before, with its own errors.
"""

from __future__ import annotations

import datetime
import json
import re
import typing
from typing import Any

from scim2_models import Context
from scim2_server.memory import InMemoryStorage

GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
_REMOVE_PATH = re.compile(r'\s*members\s*\[\s*value\s+eq\s+"([^"\\]*)"\s*\]\s*', re.IGNORECASE)

Change = tuple[bool, list[dict[str, Any]]]
"""(add, the members as sent: `value`, and `$ref`, `type`, `display` when given) of one
operation; a removal's are `{"value": id}`."""


def member_changes(body: Any) -> list[Change] | None:
    """The member changes a PATCH body is made of, or None when it is anything else."""
    if not isinstance(body, dict) or not isinstance(body.get("Operations"), list):
        return None
    changes: list[Change] = []
    for operation in body["Operations"]:
        if not isinstance(operation, dict):
            return None
        op, path = str(operation.get("op", "")).lower(), str(operation.get("path", ""))
        value = operation.get("value")
        if op == "add" and path.strip().lower() == "members" and isinstance(value, list):
            named = [m for m in value if isinstance(m, dict) and isinstance(m.get("value"), str)]
            if len(named) != len(value) or not all(m["value"] for m in named):
                return None
            changes.append((True, named))
        elif op == "remove" and value is None and (found := _REMOVE_PATH.fullmatch(path)):
            changes.append((False, [{"value": found.group(1)}]))
        else:
            return None
    return changes or None


def _member(group: Any, given: dict[str, Any]) -> Any:
    """`given` as a member of `group`'s own member class (its `members` is list[X] | None),
    kept as sent (`$ref`, `type`, `display`), as scim2-server keeps it."""
    annotation = type(group).model_fields["members"].annotation
    (listed,) = (arg for arg in typing.get_args(annotation) if typing.get_args(arg))
    return typing.get_args(listed)[0].model_validate(given)


def apply(
    memory: InMemoryStorage, group_id: str, changes: list[Change], location: str
) -> bytes | None:
    """Apply `changes` to the stored group and return the 200 body; None to let scim2-server
    handle the request (no such group, or a member to remove that is not there)."""
    with memory.lock:
        # scim2-server stores groups as a class it builds from the Group schema, not
        # scim2_models.Group: known by its schema, its members read as any Group's are.
        group: Any = next((r for r in memory.resources if r.id == group_id), None)
        if group is None or GROUP not in group.schemas:
            return None
        members = list(group.members or [])
        present = {member.value for member in members}
        for add, given in changes:
            if not add and not {m["value"] for m in given} <= present:
                return None  # scim2-server's own answer to removing a non-member
        for add, given in changes:
            if add:
                fresh = {m["value"]: m for m in given if m["value"] not in present}
                members += [_member(group, member) for member in fresh.values()]
                present.update(fresh)
            else:
                gone = {m["value"] for m in given}
                members = [member for member in members if member.value not in gone]
                present.difference_update(gone)
        group.members = members
        if group.meta is not None:
            group.meta.last_modified = datetime.datetime.now(datetime.UTC)
            group.meta.version = memory.next_version()
        body = group.model_dump(scim_ctx=Context.RESOURCE_REPLACEMENT_RESPONSE)
    meta = body.setdefault("meta", {})
    meta.pop("version", None)  # the directory has no ETags (its ServiceProviderConfig says so)
    meta["location"] = location
    return json.dumps(body).encode()
