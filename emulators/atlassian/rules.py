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
_CORE = (
    "urn:ietf:params:scim:schemas:core:2.0:user:",
    "urn:ietf:params:scim:schemas:core:2.0:group:",
)


@dataclass(frozen=True)
class Refusal:
    status: int
    scim_type: str | None
    detail: str


NOT_FOUND = Refusal(404, None, "Resource not found")


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
    return check_claims([str(user.get("userName", ""))], [email], taken)


def check_claims(
    names: Iterable[str], emails: Iterable[str], taken: Iterable[tuple[str, list[str]]]
) -> Refusal | None:
    """A 409 when a wanted userName or email belongs to one of the `taken` users."""
    wanted_names = {name.lower() for name in names}
    wanted_emails = {email.lower() for email in emails}
    for taken_name, taken_emails in taken:
        if taken_name.lower() in wanted_names or wanted_emails.intersection(taken_emails):
            return Refusal(409, "uniqueness", "A user with this userName or email exists")
    return None


def _path(op: dict[str, Any]) -> str:
    path = str(op.get("path") or "").lower()
    for prefix in _CORE:
        path = path.removeprefix(prefix)
    return path


def _assignments(body: Any) -> list[tuple[str, Any]]:
    """(attribute path in lower case, value) pairs a PUT or PATCH body would set."""
    if not isinstance(body, dict):
        return []
    if "Operations" not in body:
        return [(key.lower(), value) for key, value in body.items()]
    found: list[tuple[str, Any]] = []
    for op in body.get("Operations") or ():
        if not isinstance(op, dict) or str(op.get("op", "")).lower() == "remove":
            continue
        path, value = _path(op), op.get("value")
        if path:
            found.append((path, value))
        elif isinstance(value, dict):
            found.extend((key.lower(), item) for key, item in value.items())
    return found


def claims(body: Any) -> tuple[list[str], list[str]]:
    """The userNames and email addresses a PUT or PATCH of a user would give it."""
    names: list[str] = []
    emails: list[str] = []
    for path, value in _assignments(body):
        if path == "username" and isinstance(value, str):
            names.append(value)
        elif path.startswith("emails"):
            items = value if isinstance(value, list) else [value]
            for item in items:
                address = item.get("value") if isinstance(item, dict) else item
                if isinstance(address, str):
                    emails.append(address)
    return names, emails


def check_new_group(
    name: Any, *, existing: Iterable[str], org_groups: Iterable[str]
) -> Refusal | None:
    """A group name must not clash with a directory group or an organisation group."""
    if not isinstance(name, str) or not name:
        return Refusal(400, "invalidValue", "displayName is required")
    if name.lower() in {g.lower() for g in (*existing, *org_groups)}:
        return Refusal(409, "uniqueness", f"A group named {name} already exists")
    return None


def check_rename(body: Any, current: str) -> Refusal | None:
    """A 400 when a PATCH or PUT body of a group would change its displayName."""
    wanted = [value for path, value in _assignments(body) if path == "displayname"]
    if any(value != current for value in wanted):
        return Refusal(400, "mutability", "renaming groups is unsupported")
    return None
