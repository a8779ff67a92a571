"""PURE: the rules Atlassian's directory adds to RFC SCIM, as checks on one request.

Each check returns None when the request may go on to the SCIM server underneath, or a
`Refusal` (status, scimType, detail) that the emulator answers with instead, in the SCIM error
shape (status as a string). Sources: reference/target-apps.md B2.
"""

from __future__ import annotations

import re
from collections.abc import Container, Iterable
from dataclasses import dataclass
from typing import Any

_USER_FILTER = re.compile(r'^\s*(username|externalid)\s+eq\s+"(?:[^"\\]|\\.)*"\s*$', re.I)
_GROUP_FILTER = re.compile(r'^\s*displayname\s+eq\s+"(?:[^"\\]|\\.)*"\s*$', re.I)


@dataclass(frozen=True)
class Refusal:
    status: int
    scim_type: str | None
    detail: str


def check_filter(resource: str, text: str | None) -> Refusal | None:
    """Only one exact `eq`: on userName or externalId for users, displayName for groups."""
    if text is None:
        return None
    pattern = _USER_FILTER if resource == "Users" else _GROUP_FILTER
    if pattern.match(text):
        return None
    allowed = "userName or externalId" if resource == "Users" else "displayName"
    detail = f"Only a single 'eq' filter on {allowed} is supported"
    return Refusal(400, "invalidFilter", detail)


def emails_of(user: dict[str, Any]) -> list[str]:
    return [
        str(email.get("value", "")).lower()
        for email in user.get("emails") or ()
        if isinstance(email, dict) and email.get("value")
    ]


def _primary_email(user: dict[str, Any]) -> str | None:
    emails = [e for e in user.get("emails") or () if isinstance(e, dict) and e.get("value")]
    primary = [e for e in emails if e.get("primary")] or emails
    return str(primary[0]["value"]).lower() if primary else None


def check_new_user(
    user: Any, *, verified_domains: Container[str], taken: Iterable[tuple[str, list[str]]]
) -> Refusal | None:
    """displayName required, a primary email on a verified domain, userName and email unused.

    `taken` holds (userName, emails) of users that exist, including deactivated and deleted
    ones: a deleted user's name and email still clash.
    """
    if not isinstance(user, dict):
        return Refusal(400, "invalidSyntax", "The request body must be a User")
    if not user.get("displayName"):
        return Refusal(400, "invalidValue", "displayName is required")
    email = _primary_email(user)
    if email is None:
        return Refusal(400, "invalidValue", "A user needs an email address")
    domain = email.rpartition("@")[2]
    if domain not in verified_domains:
        return Refusal(400, "invalidValue", f"The domain {domain} is not verified")
    name = str(user.get("userName", "")).lower()
    for taken_name, taken_emails in taken:
        if taken_name.lower() == name or email in taken_emails:
            return Refusal(409, "uniqueness", "A user with this userName or email exists")
    return None


def check_new_group(
    name: Any, *, existing: Iterable[str], org_groups: Iterable[str]
) -> Refusal | None:
    """A group name must not clash with a directory group or an organisation group."""
    if not isinstance(name, str) or not name:
        return Refusal(400, "invalidValue", "displayName is required")
    if name.lower() in {g.lower() for g in (*existing, *org_groups)}:
        return Refusal(409, "uniqueness", f"A group named {name} already exists")
    return None


def renames(body: Any, current: str) -> bool:
    """Whether a PATCH or PUT body of a group would change its displayName."""
    if not isinstance(body, dict):
        return False
    wanted: list[Any] = []
    if "Operations" in body:
        for op in body.get("Operations") or ():
            if not isinstance(op, dict):
                continue
            path, value = str(op.get("path") or "").lower(), op.get("value")
            if path == "displayname":
                wanted.append(value)
            elif not path and isinstance(value, dict):
                wanted.extend(v for k, v in value.items() if k.lower() == "displayname")
    elif "displayName" in body:
        wanted.append(body["displayName"])
    return any(value != current for value in wanted)
