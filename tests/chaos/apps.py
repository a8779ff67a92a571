"""What the example world's apps hold, read behind their APIs' backs, in one shape for all four.

The chaos test must judge the apps themselves, not the controller's account of them: a
duplicate the controller never noticed, or a suspension it believes it never sent, is exactly
what it is looking for. Every account of every app becomes an `Account` (the person's email,
the identifiers a duplicate would share, whether it still grants access, its groups).
"""

from __future__ import annotations

import collections
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from emulators.world import World

APPS = ("slack", "jira", "zendesk", "carepoint")


@dataclass(frozen=True)
class Account:
    app: str
    email: str
    keys: frozenset[str]
    """externalId, userName and emails, lower-cased and tagged: two accounts sharing one are
    one person twice."""
    active: bool
    """The account grants access: not deactivated, suspended or deleted."""
    groups: frozenset[str]
    role: str | None = None


def _scim_keys(user: dict[str, Any]) -> frozenset[str]:
    keys = {f"userName:{str(user.get('userName', '')).lower()}"}
    if user.get("externalId"):
        keys.add(f"externalId:{user['externalId']}")
    keys.update(f"email:{e['value'].lower()}" for e in user.get("emails") or () if e.get("value"))
    return frozenset(keys)


def _members(groups: Iterable[dict[str, Any]]) -> dict[str, set[str]]:
    """Account id -> the displayNames of the SCIM groups listing it as a member."""
    found: dict[str, set[str]] = collections.defaultdict(set)
    for group in groups:
        for member in group.get("members") or ():
            found[str(member.get("value"))].add(str(group["displayName"]))
    return found


def _email(user: dict[str, Any]) -> str:
    emails = [e["value"].lower() for e in user.get("emails") or () if e.get("value")]
    return emails[0] if emails else str(user.get("userName", "")).lower()


def _scim_accounts(
    app: str, users: list[dict[str, Any]], groups: list[dict[str, Any]]
) -> list[Account]:
    members = _members(groups)
    accounts = []
    for user in users:
        roles = [r.get("value") for r in user.get("roles") or ()]
        accounts.append(
            Account(
                app,
                _email(user),
                _scim_keys(user),
                bool(user.get("active")) and not user.get("deleted", False),
                frozenset(members.get(str(user["id"]), ())),
                str(roles[0]) if roles else None,
            )
        )
    return accounts


def _care_resources(world: World) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    memory = world.carepoint.memory
    with memory.lock:
        resources = [r.model_dump() for r in memory.resources]
    users = [r for r in resources if "userName" in r]
    groups = [r for r in resources if "userName" not in r]
    return users, groups


def _zendesk_accounts(world: World) -> list[Account]:
    accounts = []
    for user in world.zendesk.users(include_deleted=True):
        keys = {f"email:{str(user['email']).lower()}"}
        if user.get("external_id"):
            keys.add(f"externalId:{user['external_id']}")
        role = "Team Lead" if user.get("custom_role_id") else str(user.get("role"))
        accounts.append(
            Account(
                "zendesk",
                str(user["email"]).lower(),
                frozenset(keys),
                bool(user["active"]) and not user["suspended"],
                frozenset(world.zendesk.group_names_of(user["id"])),
                role,
            )
        )
    return accounts


def accounts(world: World) -> list[Account]:
    """Every account in every app, deactivated, suspended and deleted ones included."""
    care_users, care_groups = _care_resources(world)
    return [
        *_scim_accounts("slack", world.slack.users(), world.slack.groups()),
        *_scim_accounts("jira", world.jira.users(), world.jira.groups()),
        *_zendesk_accounts(world),
        *_scim_accounts("carepoint", care_users, care_groups),
    ]


def group_names(world: World) -> dict[str, list[str]]:
    """Each app's group names, one entry per group (so a duplicate shows twice)."""
    _, care_groups = _care_resources(world)
    return {
        "slack": [g["displayName"] for g in world.slack.groups()],
        "jira": [g["displayName"] for g in world.jira.groups()],
        "zendesk": [g["name"] for g in world.zendesk.groups()],
        "carepoint": [g["displayName"] for g in care_groups],
    }


def duplicate_memberships(world: World) -> list[str]:
    """'app group member: n times' for every member a group lists more than once."""
    _, care_groups = _care_resources(world)
    listed = collections.Counter(
        (app, str(group["displayName"]), str(member.get("value")))
        for app, groups in (
            ("slack", world.slack.groups()),
            ("jira", world.jira.groups()),
            ("carepoint", care_groups),
        )
        for group in groups
        for member in group.get("members") or ()
    )
    listed.update(
        ("zendesk", str(m["group_id"]), str(m["user_id"])) for m in world.zendesk.memberships()
    )
    return sorted(f"{a} {g} {m}: {n} times" for (a, g, m), n in listed.items() if n > 1)


def duplicate_accounts(found: list[Account]) -> list[str]:
    """'app key: n accounts' for every identifier two or more accounts of one app share."""
    counts = collections.Counter((a.app, key) for a in found for key in a.keys)
    return sorted(f"{app} {key}: {n} accounts" for (app, key), n in counts.items() if n > 1)


def duplicate_groups(names: dict[str, list[str]]) -> list[str]:
    counts = collections.Counter((app, n.lower()) for app, group in names.items() for n in group)
    return sorted(f"{app} group {name!r}: {n} copies" for (app, name), n in counts.items() if n > 1)


def by_person(found: list[Account]) -> dict[tuple[str, str], list[Account]]:
    """(app, email) -> that person's accounts in that app."""
    grouped: dict[tuple[str, str], list[Account]] = collections.defaultdict(list)
    for account in found:
        grouped[account.app, account.email].append(account)
    return grouped
