"""PURE: translation between the controller's flat account attributes and SCIM 2.0 resources.

The planner speaks flat names (``name.givenName``, ``emails.work``, ``enterprise.department``);
SCIM speaks nested resources, multi-valued attributes and extension URNs. This module is the one
place that knows both, so `client` only moves payloads and `reconciler` only sequences calls.
Every function builds new values (scim2-models objects or `controller.model` dataclasses) and
never mutates what it is given. Invalid values (an email the models reject) raise `ValueError`
(pydantic's `ValidationError` is one), which the reconciler reports as a bad request.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import pydantic
from scim2_models import (
    Context,
    Email,
    EnterpriseUser,
    Group,
    GroupMember,
    Name,
    PatchOperation,
    Role,
    User,
)

from controller.model import USER_NAME, AccountId, ObservedAccount, ObservedGroup
from reconcilers.base import EXTERNAL_ID

ScimUser = User[EnterpriseUser]
UserPatch = PatchOperation[ScimUser]
GroupPatch = PatchOperation[Group]

ENTERPRISE_URN = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
EMAIL = "emails.work"
ROLE = "role"

_CORE = {
    "userName": "user_name",
    "displayName": "display_name",
    "title": "title",
    "userType": "user_type",
    "preferredLanguage": "preferred_language",
    "locale": "locale",
    "timezone": "timezone",
}
_NAME = {"name.givenName": "given_name", "name.familyName": "family_name"}
_ENTERPRISE = {
    "enterprise.department": "department",
    "enterprise.employeeNumber": "employee_number",
    "enterprise.costCenter": "cost_center",
    "enterprise.organization": "organization",
    "enterprise.division": "division",
}

SUPPORTED_ATTRIBUTES: frozenset[str] = frozenset({*_CORE, *_NAME, *_ENTERPRISE, EMAIL, ROLE})
"""The flat attribute names a policy may set on a SCIM app."""


LOOKUP_PATHS: Mapping[str, str] = {
    EXTERNAL_ID: "externalId",
    USER_NAME: "userName",
    EMAIL: "emails.value",
}
"""The SCIM attribute each lookup filters on. Work emails by `emails.value`: RFC 7644's filter
grammar has no `emails[type eq "work"].value` (that is a PATCH path), and the valuePath form
`emails[type eq "work" and value eq ...]` is rarer among servers. Any email matching is a
superset of the work email the mapping reads, and every lookup is narrowed to that afterwards."""


def equals_filter(path: str, value: str) -> str:
    """`path eq "value"` with the value as a JSON string (RFC 7644 3.4.2.2): quotes,
    backslashes and control characters escaped, anything else sent as it is."""
    return f"{path} eq {json.dumps(value, ensure_ascii=False)}"


def describe(error: Exception) -> str:
    """Why a value was refused, in one line: pydantic's own text repeats the input and a URL."""
    if isinstance(error, pydantic.ValidationError):
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "top level"
        return f"{error.error_count()} invalid value(s), first at {where}: {first['msg']}"
    return str(error)


def known_extensions_only(resource: Any) -> Any:
    """A resource without extensions we do not model (Slack's profile and guest schemas).

    scim2-models refuses attributes it does not know; a vendor's extra extension must not make
    a whole listing unreadable, and we never write what we did not read.
    """
    if not isinstance(resource, dict):
        return resource
    unknown = {
        key for key in resource if key.startswith("urn:") and key.lower() != ENTERPRISE_URN.lower()
    }
    kept = {key: value for key, value in resource.items() if key not in unknown}
    if isinstance(kept.get("schemas"), list):
        kept["schemas"] = [urn for urn in kept["schemas"] if urn not in unknown]
    return kept


def _work_email(user: ScimUser) -> str | None:
    """The primary work email, else the first work email."""
    work = [email for email in user.emails or () if email.type == Email.Type.work and email.value]
    primary = [email for email in work if email.primary]
    chosen = (primary or work)[:1]
    return str(chosen[0].value) if chosen else None


def _primary_role(user: ScimUser) -> str | None:
    roles = [role for role in user.roles or () if role.value]
    primary = [role for role in roles if role.primary]
    chosen = (primary or roles)[:1]
    return chosen[0].value if chosen else None


def user_attributes(user: ScimUser) -> dict[str, Any]:
    """Every supported attribute the resource holds, by flat name; absent ones are left out."""
    found: dict[str, Any] = {flat: getattr(user, field) for flat, field in _CORE.items()}
    if user.name is not None:
        found |= {flat: getattr(user.name, field) for flat, field in _NAME.items()}
    enterprise = user[EnterpriseUser]
    if enterprise is not None:
        found |= {flat: getattr(enterprise, field) for flat, field in _ENTERPRISE.items()}
    found[EMAIL] = _work_email(user)
    found[ROLE] = _primary_role(user)
    return {flat: value for flat, value in found.items() if value is not None}


def observed_account(user: ScimUser) -> ObservedAccount:
    """The account as the planner sees it; a missing ``active`` counts as active (RFC 7643)."""
    if not user.id or not user.user_name:
        raise ValueError("a SCIM User without id or userName")
    return ObservedAccount(
        id=AccountId(user.id),
        user_name=user.user_name,
        active=user.active is not False,
        external_id=user.external_id or None,  # Slack returns "" for none
        attributes=user_attributes(user),
    )


def observed_group(group: Group) -> ObservedGroup:
    """The group and its direct user members; nested groups are not accounts."""
    if not group.id or not group.display_name:
        raise ValueError("a SCIM Group without id or displayName")
    members = frozenset(
        AccountId(member.value)
        for member in group.members or ()
        if member.value and (member.type or "User") == "User"
    )
    return ObservedGroup(id=group.id, name=group.display_name, members=members)


def _unsupported(attributes: Mapping[str, Any]) -> None:
    unknown = sorted(set(attributes) - SUPPORTED_ATTRIBUTES)
    if unknown:
        raise ValueError(f"attributes not supported by SCIM apps: {', '.join(unknown)}")


def _emails(value: Any) -> list[Email]:
    return [Email(value=value, type=Email.Type.work, primary=True)]


def _roles(value: Any) -> list[Role]:
    return [Role(value=value, primary=True)]


def new_user(attributes: Mapping[str, Any], *, external_id: str | None) -> ScimUser:
    """The resource to POST for a new, active account; None values are left out."""
    _unsupported(attributes)
    present = {flat: value for flat, value in attributes.items() if value is not None}
    core = {field: present[flat] for flat, field in _CORE.items() if flat in present}
    name = {field: present[flat] for flat, field in _NAME.items() if flat in present}
    enterprise = {field: present[flat] for flat, field in _ENTERPRISE.items() if flat in present}
    user = ScimUser(
        **core,
        external_id=external_id,
        active=True,
        name=Name(**name) if name else None,
        emails=_emails(present[EMAIL]) if EMAIL in present else None,
        roles=_roles(present[ROLE]) if ROLE in present else None,
    )
    if enterprise:
        user[EnterpriseUser] = EnterpriseUser(**enterprise)
    return user


def _path(flat: str) -> str:
    if flat == EMAIL:
        return "emails"
    if flat == ROLE:
        return "roles"
    if flat in _ENTERPRISE:
        return f"{ENTERPRISE_URN}:{flat.removeprefix('enterprise.')}"
    return flat


def _wire(flat: str, value: Any) -> Any:
    """The value a replace carries: multi-valued attributes are replaced as a whole."""
    if flat == EMAIL:
        items: list[Email] | list[Role] = _emails(value)
    elif flat == ROLE:
        items = _roles(value)
    else:
        return value
    return [item.model_dump(scim_ctx=Context.RESOURCE_PATCH_REQUEST) for item in items]


def attribute_patch(changed: Mapping[str, Any]) -> list[UserPatch]:
    """One operation per changed attribute: replace its new value, or remove it when None."""
    _unsupported(changed)
    operations: list[UserPatch] = []
    for flat, value in sorted(changed.items()):
        if value is None:
            operations.append(UserPatch(op=UserPatch.Op.remove, path=_path(flat)))
        else:
            operations.append(
                UserPatch(op=UserPatch.Op.replace_, path=_path(flat), value=_wire(flat, value))
            )
    return operations


def replace(path: str, value: str | bool) -> list[UserPatch]:
    """A single replace of a core attribute (``externalId``, ``active``)."""
    return [UserPatch(op=UserPatch.Op.replace_, path=path, value=value)]


def new_group(display_name: str) -> Group:
    return Group(display_name=display_name)


def add_members(account_ids: Sequence[str]) -> list[GroupPatch]:
    """One `add` of several members: a group takes many in one PATCH (RFC 7644 3.5.2.1)."""
    members = [
        GroupMember(value=account).model_dump(scim_ctx=Context.RESOURCE_PATCH_REQUEST)
        for account in account_ids
    ]
    return [GroupPatch(op=GroupPatch.Op.add, path="members", value=members)]


def remove_member(account_id: str) -> list[GroupPatch]:
    """Remove by value filter and without a value: scim2-server answers 400 to a valued remove."""
    if '"' in account_id or "\\" in account_id:
        raise ValueError(f"account id {account_id!r} cannot be quoted in a SCIM filter")
    return [GroupPatch(op=GroupPatch.Op.remove, path=f'members[value eq "{account_id}"]')]
