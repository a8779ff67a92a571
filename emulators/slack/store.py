"""The emulated Slack org's users and user groups, and Slack's rules for changing them.

Everything a request or a test does to the org goes through `Store`, under one lock that is
never held across an await (the server thread and test threads both use it). Users are never
deleted, only deactivated; their usernames and emails stay taken. `claim`/`release` implement
"only one update to a user or group at a time" (reference B1 "Concurrency").
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass
from typing import Any

from emulators.slack import filters, paging, patch, rules
from emulators.slack.errors import SlackError, conflict, invalid
from emulators.slack.patch import CORE_GROUP, CORE_USER, ENTERPRISE, ENTERPRISE_FIELDS


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class _Record:
    id: str
    data: dict[str, Any]
    """The editable attributes; users: `userName, externalId, name, displayName, title,
    emails, active` and the enterprise URN; groups: `displayName, members`."""
    created: str
    modified: str


class Store:
    def __init__(self, channels: frozenset[str]) -> None:
        self.channels = frozenset(channel.lower() for channel in channels)
        self.lock = threading.Lock()
        self.base = "http://127.0.0.1/scim/v2"
        """The SCIM base URL for `meta.location`: the last one a request came in on."""
        self._users: dict[str, _Record] = {}
        self._groups: dict[str, _Record] = {}
        self._busy: set[str] = set()

    # -- one write per object ------------------------------------------------------------------

    def claim(self, object_id: str) -> bool:
        """Mark a user or group as being written; False when another write holds it."""
        with self.lock:
            if object_id in self._busy:
                return False
            self._busy.add(object_id)
            return True

    def release(self, object_id: str) -> None:
        with self.lock:
            self._busy.discard(object_id)

    # -- users ---------------------------------------------------------------------------------

    def _user(self, user_id: str) -> _Record:
        record = self._users.get(user_id)
        if record is None:
            raise SlackError(404, "no_such_user")
        return record

    def _valid_user(
        self, data: dict[str, Any], record: _Record | None, *, creating: bool = False
    ) -> dict[str, Any]:
        """`data` normalised by Slack's rules, or the SlackError that refuses it."""
        before = record.data if record else None
        name = rules.user_name(data["userName"])
        if before is None or name != before["userName"]:
            taken = {other.data["userName"] for other in self._users.values() if other != record}
            if name in self.channels or name in taken:
                raise conflict("username_taken")
        emails = rules.emails(data["emails"])
        if not emails:
            raise invalid("missing_schema_element" if creating else "missing_primary_email")
        used = {
            email["value"].lower()
            for other in self._users.values()
            if other is not record
            for email in other.data["emails"]
        }
        if any(email["value"].lower() in used for email in emails):
            raise conflict("email_taken")
        return {
            "userName": name,
            "externalId": rules.text(data["externalId"]),
            "name": {part: rules.text(data["name"].get(part)) for part in patch.NAME_PARTS},
            "displayName": rules.text(data["displayName"]),
            "title": rules.text(data["title"]),
            "emails": emails,
            "active": patch.boolean(data["active"]),
            ENTERPRISE: {
                field: rules.text(data[ENTERPRISE].get(field)) for field in ENTERPRISE_FIELDS
            },
        }

    def _memberships(self, user_ids: list[str]) -> dict[str, list[dict[str, str]]]:
        """Each user's `groups` attribute, for many users in one pass over the groups."""
        wanted = set(user_ids)
        found: dict[str, list[dict[str, str]]] = {user_id: [] for user_id in user_ids}
        for group in self._groups.values():
            for member in wanted.intersection(group.data["members"]):
                found[member].append({"value": group.id, "display": group.data["displayName"]})
        return found

    def _render_user(
        self, record: _Record, groups: list[dict[str, str]] | None = None
    ) -> dict[str, Any]:
        data = record.data
        enterprise = {key: value for key, value in data[ENTERPRISE].items() if value}
        if groups is None:
            groups = self._memberships([record.id])[record.id]
        resource: dict[str, Any] = {
            "schemas": [CORE_USER, ENTERPRISE] if enterprise else [CORE_USER],
            "id": record.id,
            "externalId": data["externalId"],
            "userName": data["userName"],
            "nickName": data["userName"],
            "name": dict(data["name"]),
            "displayName": data["displayName"],
            "title": data["title"],
            "emails": [dict(email) for email in data["emails"]],
            "active": data["active"],
            "groups": groups,
        }
        if enterprise:
            resource[ENTERPRISE] = enterprise
        resource["meta"] = self._meta(record, "User")
        return resource

    def _meta(self, record: _Record, kind: str) -> dict[str, str]:
        return {
            "created": record.created,
            "lastModified": record.modified,
            "location": f"{self.base}/{kind}s/{record.id}",
            "resourceType": kind,
        }

    def create_user(self, body: Any) -> dict[str, Any]:
        data = rules.user_data(body, body.get("externalId") if isinstance(body, dict) else "")
        with self.lock:
            valid = self._valid_user(data, None, creating=True)
            stamp = _now()
            record = _Record(rules.new_id("U", self._users), valid, stamp, stamp)
            self._users[record.id] = record
            return self._render_user(record)

    def add_user(
        self, user_name: str, email: str, *, active: bool, external_id: str, display_name: str
    ) -> dict[str, Any]:
        """A user made by hand (not through SCIM), under the same rules as POST /Users."""
        body = {
            "userName": user_name,
            "emails": [{"value": email, "type": "work", "primary": True}],
            "active": active,
            "displayName": display_name,
        }
        return self.create_user({**body, "externalId": external_id})

    def get_user(self, user_id: str) -> dict[str, Any]:
        with self.lock:
            return self._render_user(self._user(user_id))

    def users(self) -> list[dict[str, Any]]:
        with self.lock:
            groups = self._memberships(list(self._users))
            return [self._render_user(record, groups[record.id]) for record in self._users.values()]

    def list_users(self, text: str | None, start: str | None, count: str | None) -> dict[str, Any]:
        wanted = filters.parse(text, filters.USER_ATTRIBUTES)
        with self.lock:
            records = [r for r in self._users.values() if _user_matches(r.data, wanted)]
            listed = paging.page(records, start, count)  # render the page only, not every user
            chosen: list[_Record] = listed["Resources"]
            groups = self._memberships([r.id for r in chosen])
            listed["Resources"] = [self._render_user(r, groups[r.id]) for r in chosen]
            return listed

    def _update_user(self, user_id: str, data: dict[str, Any]) -> dict[str, Any]:
        record = self._user(user_id)
        record.data = self._valid_user(data, record)
        record.modified = _now()
        return self._render_user(record)

    def patch_user(self, user_id: str, body: Any) -> dict[str, Any]:
        with self.lock:
            return self._update_user(user_id, patch.patch_user(self._user(user_id).data, body))

    def put_user(self, user_id: str, body: Any) -> dict[str, Any]:
        """Overwrite every attribute (omitted ones blanked); externalId can't change this way.

        An omitted `active` leaves the account as it is rather than deactivating it.
        """
        with self.lock:
            before = self._user(user_id).data
            data = rules.user_data(body, before["externalId"])
            if "active" not in body:
                data["active"] = before["active"]
            return self._update_user(user_id, data)

    def deactivate_user(self, user_id: str) -> None:
        with self.lock:
            record = self._user(user_id)
            record.data["active"] = False
            record.modified = _now()

    def edit_user(self, user_id: str, attributes: dict[str, Any]) -> None:
        """Change editable attributes by name, Slack's rules applied (an admin in the UI)."""
        with self.lock:
            record = self._user(user_id)
            data = patch.copy(record.data)
            for key, value in attributes.items():
                if key in ENTERPRISE_FIELDS:
                    data[ENTERPRISE][key] = value
                elif key in patch.NAME_PARTS:
                    data["name"][key] = value
                elif key == "nickName":
                    data["userName"] = value
                elif key in data:
                    data[key] = value
                else:
                    raise KeyError(key)
            self._update_user(user_id, data)

    # -- groups --------------------------------------------------------------------------------

    def _group(self, group_id: str) -> _Record:
        record = self._groups.get(group_id)
        if record is None:
            raise SlackError(404, "no_such_group")
        return record

    def _valid_group(self, data: dict[str, Any], record: _Record | None) -> dict[str, Any]:
        name = data.get("displayName")
        if not isinstance(name, str) or not name.strip():
            raise invalid("missing_schema_element")
        name = name.strip()
        for other in self._groups.values():
            if other is not record and other.data["displayName"].lower() == name.lower():
                raise conflict("group_name_taken")
        members = list(dict.fromkeys(data["members"]))
        if any(member not in self._users for member in members):
            raise invalid("no_such_user")
        return {"displayName": name, "members": members}

    def _render_group(self, record: _Record) -> dict[str, Any]:
        members = []
        for member in record.data["members"]:
            user = self._users[member].data
            members.append({"value": member, "display": user["displayName"] or user["userName"]})
        return {
            "schemas": [CORE_GROUP],
            "id": record.id,
            "displayName": record.data["displayName"],
            "members": members,
            "meta": self._meta(record, "Group"),
        }

    def create_group(self, body: Any) -> dict[str, Any]:
        data = rules.group_data(body)
        with self.lock:
            valid = self._valid_group(data, None)
            stamp = _now()
            record = _Record(rules.new_id("S", self._groups), valid, stamp, stamp)
            self._groups[record.id] = record
            return self._render_group(record)

    def get_group(self, group_id: str) -> dict[str, Any]:
        with self.lock:
            return self._render_group(self._group(group_id))

    def groups(self) -> list[dict[str, Any]]:
        with self.lock:
            return [self._render_group(record) for record in self._groups.values()]

    def list_groups(self, text: str | None, start: str | None, count: str | None) -> dict[str, Any]:
        wanted = filters.parse(text, filters.GROUP_ATTRIBUTES)
        with self.lock:
            records = [
                r
                for r in self._groups.values()
                if wanted is None or r.data["displayName"].lower() == wanted.value.lower()
            ]
            return paging.page([self._render_group(r) for r in records], start, count)

    def _update_group(self, group_id: str, data: dict[str, Any]) -> dict[str, Any]:
        record = self._group(group_id)
        record.data = self._valid_group(data, record)
        record.modified = _now()
        return self._render_group(record)

    def patch_group(self, group_id: str, body: Any) -> dict[str, Any]:
        with self.lock:
            return self._update_group(group_id, patch.patch_group(self._group(group_id).data, body))

    def put_group(self, group_id: str, body: Any) -> dict[str, Any]:
        data = rules.group_data(body)
        with self.lock:
            return self._update_group(group_id, data)

    def delete_group(self, group_id: str) -> None:
        with self.lock:
            self._group(group_id)
            del self._groups[group_id]


def _user_matches(data: dict[str, Any], wanted: filters.Equals | None) -> bool:
    if wanted is None:
        return True
    value = wanted.value.lower()
    if wanted.attribute == "emails":
        return any(email["value"].lower() == value for email in data["emails"])
    if wanted.attribute == "externalId":
        return bool(data["externalId"] == wanted.value)
    return bool(data["userName"] == value)
