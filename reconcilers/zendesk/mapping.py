"""PURE: translation between the controller's flat attributes and Zendesk's user JSON.

Zendesk is not SCIM: a user has an `email` (its identity; the primary email cannot be changed
through the API, a new one is only added as a secondary identity), a `name`, a `role` of
end-user, agent or admin, an optional `custom_role_id` (an agent's custom role), `external_id`,
and `suspended`. Policy speaks the flat names the other apps use: `userName` is the email,
`displayName` the name, and `role` either one of the three roles or the name of a custom role,
which makes the user an agent with that custom role. Suspension is `suspended: true`; the
account stays, as a returning user needs it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, TypeGuard

from controller.model import USER_NAME, AccountId, ObservedAccount

DISPLAY_NAME = "displayName"
ROLE = "role"
ROLES = frozenset({"end-user", "agent", "admin"})
SUPPORTED_ATTRIBUTES = frozenset({USER_NAME, DISPLAY_NAME, ROLE})
CustomRoles = Mapping[int, str]
"""custom_role_id -> name, as GET /api/v2/custom_roles lists them."""
NO_EMAIL = "zendesk-user-"
"""The userName of a user without an email is this and the user's id."""
_NO_EMAIL = re.compile(re.escape(NO_EMAIL) + r"([0-9]{1,19})")
_UNSEARCHABLE = re.compile(r'["\s\x00-\x1f\x7f]')


class UnknownRoleError(ValueError):
    """Policy names a role that is neither a Zendesk role nor a custom role of this account."""


def is_id(value: Any) -> TypeGuard[int]:
    """Zendesk's ids are integers; anything else (a string, a list, a bool) is not its API."""
    return isinstance(value, int) and not isinstance(value, bool)


def custom_roles(body: Any) -> dict[int, str]:
    """GET /custom_roles as custom_role_id -> name; `ValueError` for any other shape."""
    listed = body.get("custom_roles") if isinstance(body, Mapping) else None
    if not isinstance(listed, list):
        raise ValueError("no 'custom_roles' list")
    roles: dict[int, str] = {}
    for role in listed:
        if not isinstance(role, Mapping) or not is_id(role.get("id")):
            raise ValueError("a custom role without a numeric id")
        roles[role["id"]] = str(role.get("name"))
    return roles


def memberships(records: list[dict[str, Any]]) -> dict[tuple[int, int], int]:
    """Group memberships as (user id, group id) -> membership id; `ValueError` for a record
    that does not name its user and group by id."""
    found: dict[tuple[int, int], int] = {}
    for record in records:
        user_id, group_id = record.get("user_id"), record.get("group_id")
        if not is_id(user_id) or not is_id(group_id):
            raise ValueError(f"group membership {record.get('id')!r} without user_id or group_id")
        found[user_id, group_id] = record["id"]
    return found


def membership_of(listed: Sequence[Mapping[str, Any]], group_id: int) -> int | None:
    """The id of the membership in `group_id` among all of a user's memberships, if any."""
    for found in listed:
        if isinstance(found, Mapping) and found.get("group_id") == group_id:
            membership = found.get("id")
            if not is_id(membership):
                raise ValueError("a group membership without a numeric id")
            return membership
    return None


def observed_account(user: Mapping[str, Any], custom_roles: CustomRoles) -> ObservedAccount:
    """A listed user as the planner sees it; `ValueError` when it lacks a numeric id.

    Zendesk users need no email (an end-user known only by phone or Twitter); such a user
    goes by their id, which no policy userName can match, so they are only ever orphans.
    """
    user_id = user.get("id")
    if not is_id(user_id):
        raise ValueError(f"a user without a numeric id: id={user_id!r}")
    listed = user.get("email")
    email = listed if isinstance(listed, str) and listed else f"{NO_EMAIL}{user_id}"
    custom = user.get("custom_role_id")
    role = custom_roles.get(custom, str(custom)) if isinstance(custom, int) else user.get("role")
    external_id, name = user.get("external_id"), user.get("name")
    return ObservedAccount(
        id=AccountId(str(user_id)),
        user_name=email.lower(),
        active=bool(user.get("active", True)) and not user.get("suspended", False),
        external_id=external_id if isinstance(external_id, str) and external_id else None,
        attributes={  # Zendesk's are strings; anything else is no value the planner can compare
            USER_NAME: email.lower(),
            DISPLAY_NAME: name if isinstance(name, str) else None,
            ROLE: role if isinstance(role, str) else None,
        },
    )


def user_record(body: Any) -> dict[str, Any]:
    """GET /users/{id} as the user's record; `ValueError` for any other shape."""
    user = body.get("user") if isinstance(body, Mapping) else None
    if not isinstance(user, dict) or not is_id(user.get("id")):
        raise ValueError("no user with a numeric id")
    return user


def no_email_user_id(user_name: str) -> int | None:
    """The id in `user_name` if it is the one `observed_account` gives a user without email."""
    found = _NO_EMAIL.fullmatch(user_name.casefold())
    return int(found[1]) if found else None


def email_query(email: str) -> str | None:
    """Search syntax for users with this email, or None where the syntax cannot say it: it
    quotes a value in double quotes and documents no escape, so a value holding a double
    quote, a space or a control character has no faithful query."""
    if not email or _UNSEARCHABLE.search(email):
        return None
    return f'email:"{email}"'


def _role_fields(role: Any, custom_roles: CustomRoles) -> dict[str, Any]:
    if role in ROLES:
        return {"role": role, "custom_role_id": None}
    by_name = {name.lower(): role_id for role_id, name in custom_roles.items()}
    if isinstance(role, str) and role.lower() in by_name:
        return {"role": "agent", "custom_role_id": by_name[role.lower()]}
    known = ", ".join([*sorted(ROLES), *sorted(custom_roles.values())])
    raise UnknownRoleError(f"no Zendesk role or custom role named {role!r}; known: {known}")


def new_user(
    attributes: Mapping[str, Any], *, external_id: str | None, custom_roles: CustomRoles
) -> dict[str, Any]:
    """The body of POST /users/create_or_update for a new account."""
    user: dict[str, Any] = {
        "email": attributes.get(USER_NAME),
        "name": attributes.get(DISPLAY_NAME) or attributes.get(USER_NAME),
        "skip_verify_email": True,
    }
    if external_id is not None:
        user["external_id"] = external_id
    if attributes.get(ROLE) is not None:
        user.update(_role_fields(attributes[ROLE], custom_roles))
    return {"user": user}


def user_update(attributes: Mapping[str, Any], custom_roles: CustomRoles) -> dict[str, Any]:
    """The body of PUT /users/{id} for changed attributes; the email cannot be among them."""
    if USER_NAME in attributes:
        raise ValueError(
            "Zendesk cannot change a user's primary email through the API (a PUT only adds a"
            " secondary identity); change it in Zendesk, or keep userName as it was"
        )
    user: dict[str, Any] = {}
    if DISPLAY_NAME in attributes:
        user["name"] = attributes[DISPLAY_NAME]
    if ROLE in attributes:
        user.update(_role_fields(attributes[ROLE], custom_roles))
    return {"user": user}


def describe_error(body: Any) -> str:
    """`{error, description, details}` in one line: what Zendesk said, field by field."""
    if not isinstance(body, Mapping):
        return ""
    parts = [str(body[key]) for key in ("error", "description") if body.get(key)]
    details = body.get("details")
    for field, problems in details.items() if isinstance(details, Mapping) else ():
        for problem in problems if isinstance(problems, list) else ():
            if isinstance(problem, Mapping):
                code = problem.get("error") or problem.get("type") or "invalid"
                parts.append(f"{field} {code}")
    return ": ".join(parts)


def is_duplicate(body: Any) -> bool:
    """A 422 that says a value is taken: a conflict, not a malformed request."""
    details = body.get("details") if isinstance(body, Mapping) else None
    return isinstance(details, Mapping) and any(
        isinstance(problem, Mapping) and problem.get("error") == "DuplicateValue"
        for problems in details.values()
        if isinstance(problems, list)
        for problem in problems
    )
