"""What a person's accounts look like in each app right now, one cheap lookup per app.

The change-latency benchmark polls these every 50 ms, so each asks for one person only, by the
means each API offers: Slack's and Atlassian's `externalId eq` filter (Slack's user carries its
groups), Zendesk's `external_id` parameter and the user's own group memberships. Atlassian has no
per-user group lookup (a user has no `groups`, and groups filter on displayName only): fetching
a group of 6,000 members twenty times a second would load the emulator more than the controller
does, so group membership in Jira is read behind its API's back, from scim2-server's storage.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from scim2_models import Group

from bench.change_serve import SeededWorld


@dataclass(frozen=True)
class Account:
    """One app's account of one person, reduced to what the trials check."""

    active: bool
    groups: frozenset[str]
    department: str = ""
    role: str = ""


class Probe:
    """Lookups in Slack, Jira and Zendesk; `close()` when done."""

    def __init__(self, world: SeededWorld) -> None:
        env = world.environ
        self._world = world
        self._slack = self._client(env["SLACK_SCIM_URL"], env["SLACK_SCIM_TOKEN"])
        self._jira = self._client(env["JIRA_SCIM_URL"], env["JIRA_SCIM_TOKEN"])
        self._zendesk = self._client(env["ZENDESK_URL"], env["ZENDESK_TOKEN"])
        groups = self._zendesk.get("/groups").raise_for_status().json()["groups"]
        self._zendesk_groups = {int(group["id"]): str(group["name"]) for group in groups}

    @staticmethod
    def _client(url: str, token: str) -> httpx.Client:
        return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30)

    def close(self) -> None:
        for client in (self._slack, self._jira, self._zendesk):
            client.close()

    def _scim_user(self, client: httpx.Client, external_id: str) -> dict[str, Any] | None:
        response = client.get("/Users", params={"filter": f'externalId eq "{external_id}"'})
        found: list[dict[str, Any]] = response.raise_for_status().json().get("Resources") or []
        return found[0] if found else None

    def slack(self, external_id: str) -> Account | None:
        user = self._scim_user(self._slack, external_id)
        if user is None:
            return None
        enterprise = user.get("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User") or {}
        return Account(
            active=bool(user.get("active")),
            groups=frozenset(str(g.get("display")) for g in user.get("groups") or ()),
            department=str(enterprise.get("department") or ""),
        )

    def jira(self, external_id: str) -> Account | None:
        user = self._scim_user(self._jira, external_id)
        if user is None:
            return None
        memory = self._world.jira.scim.memory
        with memory.lock:
            stored = [r for r in memory.resources if isinstance(r, Group)]
        groups = frozenset(
            str(group.display_name)
            for group in stored
            if any(member.value == user["id"] for member in group.members or ())
        )
        enterprise = user.get("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User") or {}
        return Account(
            active=bool(user.get("active")),
            groups=groups,
            department=str(enterprise.get("department") or ""),
        )

    def zendesk(self, external_id: str) -> Account | None:
        response = self._zendesk.get("/users", params={"external_id": external_id})
        found = response.raise_for_status().json().get("users") or []
        if not found:
            return None
        user = found[0]
        memberships = self._zendesk.get(f"/users/{user['id']}/group_memberships")
        names = frozenset(
            self._zendesk_groups.get(int(m["group_id"]), "?")
            for m in memberships.raise_for_status().json().get("group_memberships") or ()
        )
        return Account(
            active=bool(user.get("active")) and not user.get("suspended"),
            groups=names,
            role=str(user.get("role") or ""),
        )
