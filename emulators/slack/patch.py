"""SCIM v2 PATCH for Slack users and groups: the paths and shapes Slack's reference shows.

Operations are applied to a copy of the object's editable attributes; the store validates the
result as a whole and commits it only if every operation and every rule passed, so a refused
PATCH changes nothing. User paths: `active`, `userName` (and `nickName`, its twin), `displayName`,
`title`, `externalId`, `name` and `name.givenName|familyName`, `emails`, `emails[<attr> eq
<value>]` with an optional `.value`/`.type`, the enterprise extension URN alone or with an
attribute in colon (or dot) form, and path-less add/replace of an object of attributes. Group
paths: `displayName`, `members` and `members[value eq U123]` (value quoted or not).
"""

from __future__ import annotations

import json
import re
from typing import Any

from emulators.slack.errors import invalid

PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
CORE_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
ENTERPRISE_FIELDS = ("department", "employeeNumber", "costCenter", "organization", "division")
_ENTERPRISE_NAMES = {name.lower(): name for name in ENTERPRISE_FIELDS}
_SIMPLE = {
    "username": "userName",
    "nickname": "userName",  # coupled in Slack: writing one writes the other
    "displayname": "displayName",
    "title": "title",
    "externalid": "externalId",
}
NAME_PARTS = ("givenName", "familyName")
_NAME_PARTS = {part.lower(): part for part in NAME_PARTS}
_READ_ONLY = {"schemas", "id", "meta", "groups"}
_VALUE_PATH = re.compile(r"(\w+)\[\s*(\w+)\s+eq\s+(.*?)\s*\](?:\.(\w+))?", re.IGNORECASE)


def operations(body: Any) -> list[tuple[str, str | None, Any]]:
    """The (op, path, value) triples of a PatchOp body, op lower-cased; 400 when malformed."""
    if not isinstance(body, dict) or not isinstance(body.get("Operations"), list):
        raise invalid("missing_schema_element")
    result: list[tuple[str, str | None, Any]] = []
    for operation in body["Operations"]:
        if not isinstance(operation, dict) or not isinstance(operation.get("op"), str):
            raise invalid("invalid_operation")
        op = operation["op"].lower()
        path = operation.get("path")
        if op not in ("add", "replace", "remove") or not (path is None or isinstance(path, str)):
            raise invalid("invalid_operation")
        if op == "remove" and not path:
            raise invalid("no_path_for_remove")
        if op != "remove" and "value" not in operation:
            raise invalid("missing_value")
        result.append((op, path or None, operation.get("value")))
    return result


def copy(data: dict[str, Any]) -> dict[str, Any]:
    """A deep copy of an object's editable attributes (plain JSON values)."""
    result: dict[str, Any] = json.loads(json.dumps(data))
    return result


def _literal(text: str) -> Any:
    """A filter literal: JSON (`"x"`, `true`) or, as in Slack's doc example, a bare word."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def _matches(item: dict[str, Any], attribute: str, literal: Any) -> bool:
    value = item.get(attribute)
    if isinstance(value, str) and isinstance(literal, str):
        return value.lower() == literal.lower()
    return bool(value == literal)


def _strip_core(path: str, core: str) -> str:
    return path[len(core) + 1 :] if path.lower().startswith(core.lower() + ":") else path


# -- users ---------------------------------------------------------------------------------


def patch_user(data: dict[str, Any], body: Any) -> dict[str, Any]:
    """Apply a PatchOp body to a copy of a user's editable attributes and return the copy."""
    result = copy(data)
    for op, path, value in operations(body):
        if path is None:
            if not isinstance(value, dict):
                raise invalid("invalid_attribute_value")
            for key, item in value.items():
                if key.lower() not in _READ_ONLY:
                    _set_user(result, key, item, op)
        elif op == "remove":
            _remove_user(result, path)
        else:
            _set_user(result, path, value, op)
    return result


def _enterprise_part(path: str) -> str | None:
    """For an enterprise extension path, the attribute ("" for the whole extension)."""
    if not path.lower().startswith(ENTERPRISE.lower()):
        return None
    rest = path[len(ENTERPRISE) :]
    if rest and rest[0] not in ":.":
        raise invalid("invalid_path")
    name = rest[1:].lower()
    if name and name not in _ENTERPRISE_NAMES:
        raise invalid("invalid_path")
    return _ENTERPRISE_NAMES.get(name, "")


def _set_user(data: dict[str, Any], path: str, value: Any, op: str) -> None:
    path = _strip_core(path, CORE_USER)
    lower = path.lower()
    enterprise = _enterprise_part(path)
    if enterprise is not None:
        _set_enterprise(data, enterprise, value, op)
    elif lower == "name" or lower.startswith("name."):
        _set_name(data, lower, value, op)
    elif lower in _SIMPLE:
        data[_SIMPLE[lower]] = value
    elif lower == "active":
        data["active"] = boolean(value)
    elif lower == "emails":
        data["emails"] = value  # the whole list, for add as for replace
    elif (match := _VALUE_PATH.fullmatch(path)) and match[1].lower() == "emails":
        _set_email(data, match, value)
    else:
        raise invalid("invalid_path")


def _set_enterprise(data: dict[str, Any], attribute: str, value: Any, op: str) -> None:
    if attribute:
        data[ENTERPRISE][attribute] = value
        return
    if not isinstance(value, dict):
        raise invalid("invalid_attribute_value")
    for key, item in value.items():
        if key.lower() != "manager":  # not kept by the emulator; accepted and ignored
            _set_user(data, f"{ENTERPRISE}:{key}", item, op)


def _set_name(data: dict[str, Any], lower: str, value: Any, op: str) -> None:
    if lower == "name":
        if not isinstance(value, dict):
            raise invalid("invalid_attribute_value")
        for key, item in value.items():
            _set_user(data, f"name.{key}", item, op)
    elif lower[5:] in _NAME_PARTS:
        data["name"][_NAME_PARTS[lower[5:]]] = value
    else:
        raise invalid("invalid_path")


def _set_email(data: dict[str, Any], match: re.Match[str], value: Any) -> None:
    attribute, literal, sub = match[2], _literal(match[3]), (match[4] or "").lower()
    items: list[dict[str, Any]] = data["emails"]
    chosen = [item for item in items if _matches(item, attribute, literal)]
    if not chosen:
        if attribute.lower() != "type" or not isinstance(literal, str):
            raise invalid("no_target")
        chosen = [{"value": "", "type": literal, "primary": False}]
        items.append(chosen[0])
    for item in chosen:
        if sub == "":
            if not isinstance(value, dict):
                raise invalid("invalid_attribute_value")
            item.update(value)
        elif sub in ("value", "type", "primary"):
            item[sub] = value
        else:
            raise invalid("invalid_path")


def _remove_user(data: dict[str, Any], path: str) -> None:
    path = _strip_core(path, CORE_USER)
    lower = path.lower()
    enterprise = _enterprise_part(path)
    if enterprise == "":
        data[ENTERPRISE] = dict.fromkeys(ENTERPRISE_FIELDS, "")
    elif enterprise is not None:
        data[ENTERPRISE][enterprise] = ""
    elif lower in ("username", "nickname"):
        raise invalid("missing_schema_element")
    elif lower in _SIMPLE:
        data[_SIMPLE[lower]] = ""
    elif lower == "name":
        data["name"] = {"givenName": "", "familyName": ""}
    elif lower.startswith("name.") and lower[5:] in _NAME_PARTS:
        data["name"][_NAME_PARTS[lower[5:]]] = ""
    elif lower == "emails":
        raise invalid("missing_primary_email")
    elif (match := _VALUE_PATH.fullmatch(path)) and match[1].lower() == "emails":
        literal = _literal(match[3])
        kept = [item for item in data["emails"] if not _matches(item, match[2], literal)]
        if any(item["primary"] for item in data["emails"] if item not in kept):
            raise invalid("missing_primary_email")
        data["emails"] = kept
    else:
        raise invalid("invalid_path")


def boolean(value: Any) -> bool:
    """`active` as a boolean; some identity providers send the strings "True" and "False"."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise invalid("invalid_attribute_value")


# -- groups --------------------------------------------------------------------------------


def member_ids(value: Any) -> list[str]:
    """The user ids of a `members` value: `[{"value": "U..."}]` (or bare ids)."""
    if value is None:
        return []
    if not isinstance(value, list):
        value = [value]
    ids: list[str] = []
    for item in value:
        member = item.get("value") if isinstance(item, dict) else item
        if not isinstance(member, str):
            raise invalid("invalid_members")
        ids.append(member)
    return ids


def patch_group(data: dict[str, Any], body: Any) -> dict[str, Any]:
    """Apply a PatchOp body to a copy of a group's `{displayName, members}`; return the copy."""
    result = {"displayName": data["displayName"], "members": list(data["members"])}
    for op, path, value in operations(body):
        if path is None:
            if not isinstance(value, dict):
                raise invalid("invalid_attribute_value")
            for key, item in value.items():
                if key.lower() not in _READ_ONLY:
                    _set_group(result, key, item, op)
        elif op == "remove":
            _remove_group(result, path, value)
        else:
            _set_group(result, path, value, op)
    return result


def _set_group(data: dict[str, Any], path: str, value: Any, op: str) -> None:
    lower = _strip_core(path, CORE_GROUP).lower()
    if lower == "displayname":
        data["displayName"] = value
    elif lower == "members" and op == "add":
        data["members"] += [id_ for id_ in member_ids(value) if id_ not in data["members"]]
    elif lower == "members":
        data["members"] = member_ids(value)
    else:
        raise invalid("invalid_path")


def _remove_group(data: dict[str, Any], path: str, value: Any) -> None:
    path = _strip_core(path, CORE_GROUP)
    match = _VALUE_PATH.fullmatch(path)
    if path.lower() == "members":
        # Slack's "remove all"; with a value (as Entra sends it), just the members listed.
        gone = set(member_ids(value)) if value is not None else set(data["members"])
    elif match and match[1].lower() == "members" and match[2].lower() == "value" and not match[4]:
        gone = {str(_literal(match[3]))}
    else:
        raise invalid("invalid_path")
    data["members"] = [member for member in data["members"] if member not in gone]
