"""Slack's rules for user attributes, as documented (reference B1 "User attribute rules").

userName: an email becomes its local part, letters are lower-cased, characters other than
`a-z 0-9 . _ -` become `_`, more than 21 characters is `username_too_long` (never truncated)
and an empty name is refused. Emails: at most two are kept, primary first (the one marked
`primary`, else the first `work` one, else the first). Ids: `U` or `S` and ten characters.
A POST or PUT body sets every editable attribute; what it omits is blank.
"""

from __future__ import annotations

import re
import secrets
import string
from collections.abc import Container
from typing import Any

from emulators.slack.errors import invalid
from emulators.slack.patch import ENTERPRISE, ENTERPRISE_FIELDS, member_ids

MAX_USERNAME = 21
MAX_EMAILS = 2
_NOT_ALLOWED = re.compile(r"[^a-z0-9._-]")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_ID_ALPHABET = string.ascii_uppercase + string.digits


def new_id(prefix: str, taken: Container[str]) -> str:
    """A fresh Slack-style id (`U` users, `S` user groups) not `in` taken."""
    while True:
        candidate = prefix + "".join(secrets.choice(_ID_ALPHABET) for _ in range(10))
        if candidate not in taken:
            return candidate


def user_name(value: object) -> str:
    """The username Slack stores for `value`, or a 400 when Slack refuses it."""
    if value is None:
        raise invalid("missing_schema_element")
    if not isinstance(value, str):
        raise invalid("invalid_username")
    name = value.strip()
    if "@" in name:
        name = name.split("@", 1)[0]
    name = _NOT_ALLOWED.sub("_", name.lower())
    if not name:
        raise invalid("missing_schema_element")
    if len(name) > MAX_USERNAME:
        raise invalid("username_too_long")
    return name


def text(value: object) -> str:
    """A plain string attribute: `" "` (Slack's way to clear a field) or null gives ""."""
    if value is None:
        return ""
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise invalid("invalid_attribute_value")
    return str(value).strip()


def emails(value: object) -> list[dict[str, Any]]:
    """Normalised `[{value, type, primary}]`: primary first, at most two, each a valid email."""
    if value is None:
        return []
    if not isinstance(value, list):
        value = [value]
    items: list[dict[str, Any]] = []
    for given in value:
        item = {"value": given} if isinstance(given, str) else given
        if not isinstance(item, dict) or not isinstance(item.get("value"), str):
            raise invalid("invalid_email")
        address = item["value"].strip()
        if not _EMAIL.fullmatch(address):
            raise invalid("invalid_email")
        kind = item.get("type") or "work"
        items.append({"value": address, "type": str(kind), "primary": item.get("primary") is True})
    if not items:
        return []
    primary = next(
        (item for item in items if item["primary"]),
        next((item for item in items if item["type"] == "work"), items[0]),
    )
    ordered = [primary, *(item for item in items if item is not primary)][:MAX_EMAILS]
    return [{**item, "primary": item is primary} for item in ordered]


def user_data(body: Any, external_id: object = "") -> dict[str, Any]:
    """The editable attributes a POST or PUT body gives; everything it omits is blank."""
    if not isinstance(body, dict):
        raise invalid("invalid_json")
    name = body.get("name")
    name = name if isinstance(name, dict) else {}
    enterprise = body.get(ENTERPRISE)
    enterprise = enterprise if isinstance(enterprise, dict) else {}
    return {
        "userName": body.get("userName"),
        "externalId": external_id,
        "name": {"givenName": name.get("givenName"), "familyName": name.get("familyName")},
        "displayName": body.get("displayName"),
        "title": body.get("title"),
        "emails": body.get("emails"),
        "active": body.get("active", True),
        ENTERPRISE: {field: enterprise.get(field) for field in ENTERPRISE_FIELDS},
    }


def group_data(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise invalid("invalid_json")
    return {
        "displayName": body.get("displayName"),
        "members": member_ids(body.get("members")),
    }
