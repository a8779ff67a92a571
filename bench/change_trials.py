"""The three changes the latency benchmark makes in Salesforce, and when each is done in every app.

- leaver: a support agent (an account in Slack, Jira and Zendesk) is deactivated; done when
  Slack and Jira show the account inactive and Zendesk shows it suspended.
- joiner: a support agent is hired; done when each of the three apps has an active account
  in the groups the rules grant (Slack support + all-hands, Jira service-desk, Zendesk Tier 1).
- mover: an engineer moves to Support; done when Slack shows the new department and groups
  (support, no longer eng), Jira the new groups and Zendesk a new agent in Tier 1.

Each change goes through the Salesforce emulator's admin API, as an admin's edit in Setup.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

import httpx

from bench.change_probe import Account, Probe
from bench.change_serve import SeededWorld
from bench.change_world import seed_user

KINDS = ("leaver", "joiner", "mover")
Check = Callable[[Account | None], bool]


@dataclass(frozen=True)
class Trial:
    kind: str
    subject: str
    """The Salesforce Id the trial changes (a joiner's is known once hired)."""
    checks: Mapping[str, Check]
    """App name -> whether that app's account shows the change."""


def _gone(account: Account | None) -> bool:
    return account is None or not account.active


def _member(*groups: str, without: tuple[str, ...] = (), department: str = "") -> Check:
    def check(account: Account | None) -> bool:
        return (
            account is not None
            and account.active
            and set(groups) <= account.groups
            and not set(without) & account.groups
            and (not department or account.department == department)
        )

    return check


LEAVER: dict[str, Check] = {"slack": _gone, "jira": _gone, "zendesk": _gone}
JOINER: dict[str, Check] = {
    "slack": _member("support", "all-hands"),
    "jira": _member("service-desk"),
    "zendesk": _member("Tier 1"),
}
MOVER: dict[str, Check] = {
    "slack": _member("support", "all-hands", without=("eng",), department="Support"),
    "jira": _member("service-desk", without=("engineering",), department="Support"),
    "zendesk": _member("Tier 1"),
}


class Changes:
    """Picks each trial's subject and makes its change; every subject is used once."""

    def __init__(self, world: SeededWorld) -> None:
        self._url = world.salesforce_url
        people = world.people
        self._leavers: Iterator[str] = iter(
            [p.salesforce_id for p in people if p.kind == "support" and not p.support_lead]
        )
        self._movers: Iterator[str] = iter(
            [p.salesforce_id for p in people if p.kind == "eng" and not p.jira_admin]
        )
        self._hired = 0

    def subject(self, kind: str) -> Trial:
        """The next trial of `kind`; a joiner's subject is empty until `make` hires them."""
        if kind == "leaver":
            return Trial(kind, next(self._leavers), LEAVER)
        if kind == "mover":
            return Trial(kind, next(self._movers), MOVER)
        return Trial(kind, "", JOINER)

    def make(self, trial: Trial) -> Trial:
        """Make the trial's change in Salesforce; the trial with its subject's Id."""
        if trial.kind == "joiner":
            self._hired += 1
            email = f"joiner.j{self._hired:04d}@orion.example"
            body = seed_user(email, "Joiner", f"J{self._hired:04d}", "Support")
            response = httpx.post(f"{self._url}/_emulator/users", json=body)
            return Trial(trial.kind, str(response.raise_for_status().json()["id"]), trial.checks)
        if trial.kind == "leaver":
            changes: dict[str, object] = {"IsActive": False}
        else:
            changes = {"Department": "Support", "Title": "Support Agent"}
        url = f"{self._url}/_emulator/users/{trial.subject}"
        httpx.post(url, json=changes).raise_for_status()
        return trial


def pending(probe: Probe, trial: Trial, apps: list[str]) -> list[str]:
    """The apps among `apps` that do not show the trial's change yet."""
    lookups = {"slack": probe.slack, "jira": probe.jira, "zendesk": probe.zendesk}
    return [app for app in apps if not trial.checks[app](lookups[app](trial.subject))]
