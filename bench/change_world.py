"""An org of any size, already provisioned: the world `bench.change_latency` measures changes in.

Provisioning 10,000 people through the apps' APIs takes longer than the whole benchmark may, so
the people are written straight into the emulators' stores, each account as the controller
would have made it (the shapes a real first sync leaves behind, with externalId = the
Salesforce Id), and the controller's first full cycle then finds nothing to do. The policy is
the example one (desired-state/) on three apps: Slack, Jira and Zendesk, without Beacon's care
platform and its rules; the per-app deprovision limit is raised so that a benchmark's worth of
leavers between two full cycles is not held as a burst.

Who is who (by position, so every run seeds the same org): per 20 people, 12 engineers (Slack
eng + all-hands, Jira engineering; one in a hundred also a Jira Admin), 6 in support (Slack
support + all-hands, Jira service-desk, a Zendesk agent in Tier 1; one in a hundred a Support
Lead: Team Lead in Zendesk and in Escalations too), 1 contractor (Slack and Jira contractors)
and 1 in sales, whom no rule grants anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from emulators.world import INTEGRATION_USER

POLICY = Path(__file__).resolve().parents[1] / "desired-state"
APPS = ("slack", "jira", "zendesk")
SAFETY = {"maxDeprovisionsPerRun": 1000, "maxDeprovisionsPercent": 20}
FIRST_NAMES = ("Ada", "Grace", "Linus", "Barbara", "Ken", "Margaret", "Dennis", "Frances")
END_OF_CONTRACT = "2099-12-31"

SLACK_GROUPS = {"eng": ("eng", "all-hands"), "support": ("support", "all-hands")}
JIRA_GROUPS = {"eng": "engineering", "support": "service-desk"}


@dataclass(frozen=True)
class Person:
    """One seeded Salesforce user and what the example policy grants them."""

    salesforce_id: str
    email: str
    first: str
    last: str
    title: str
    department: str
    kind: str
    """eng | support | contractor | other"""
    jira_admin: bool = False
    support_lead: bool = False

    @property
    def display_name(self) -> str:
        return f"{self.first} {self.last}"

    def slack_groups(self) -> tuple[str, ...]:
        return ("contractors",) if self.kind == "contractor" else SLACK_GROUPS.get(self.kind, ())

    def jira_groups(self) -> tuple[str, ...]:
        base = "contractors" if self.kind == "contractor" else JIRA_GROUPS.get(self.kind)
        return (*((base,) if base else ()), *(("jira-admins",) if self.jira_admin else ()))

    def zendesk_groups(self) -> tuple[str, ...]:
        if self.kind != "support":
            return ()
        return ("Escalations", "Tier 1") if self.support_lead else ("Tier 1",)


def _kind(index: int) -> str:
    slot = index % 20
    if slot < 12:
        return "eng"
    return "support" if slot < 18 else "contractor" if slot == 18 else "other"


def seed_user(email: str, first: str, last: str, department: str, **extra: Any) -> dict[str, Any]:
    """A Salesforce user in the emulator's seed format (also the admin API's hire body)."""
    return {
        "Username": email,
        "Email": email,
        "FirstName": first,
        "LastName": last,
        "Profile": {"Name": "Standard User"},
        "Department": department,
        "Title": "Engineer" if department == "Engineering" else "Support Agent",
        "UserRole": {"Name": "Engineer" if department == "Engineering" else "Support Agent"},
        "Contractor_End_Date__c": None,
        **extra,
    }


def population(size: int) -> list[dict[str, Any]]:
    """The integration user and `size` people, in seed format."""
    users = [
        {
            "Username": INTEGRATION_USER,
            "LastName": "User",
            "FirstName": "Integration",
            "Profile": {"Name": "System Administrator"},
            "Department": "IT",
        }
    ]
    for index in range(size):
        first = FIRST_NAMES[index % len(FIRST_NAMES)]
        last = f"U{index:05d}"
        email = f"{first}.{last}@orion.example".lower()
        kind = _kind(index)
        if kind == "eng":
            extra = {"PermissionSets": ["Jira Admin"]} if index % 100 == 1 else {}
            users.append(seed_user(email, first, last, "Engineering", **extra))
        elif kind == "support":
            lead = index % 100 == 12
            role = {"UserRole": {"Name": "Support Lead"}} if lead else {}
            users.append(seed_user(email, first, last, "Support", **role))
        elif kind == "contractor":
            users.append(
                seed_user(
                    email,
                    first,
                    last,
                    "Engineering",
                    Profile={"Name": "Contractor"},
                    Title="Contractor",
                    UserRole=None,
                    Contractor_End_Date__c=END_OF_CONTRACT,
                )
            )
        else:
            users.append(seed_user(email, first, last, "Sales", Title="Account Executive"))
    return users


def person(exported: dict[str, Any]) -> Person:
    """What the policy grants one user of `Org.users()` (seed format plus Id)."""
    profile = exported["Profile"]["Name"]
    department = exported.get("Department") or ""
    role = (exported.get("UserRole") or {}).get("Name")
    kind = "other"
    if profile == "Contractor":
        kind = "contractor"
    elif profile == "Standard User" and department in ("Engineering", "Support"):
        kind = "eng" if department == "Engineering" else "support"
    return Person(
        salesforce_id=exported["Id"],
        email=exported["Email"].lower(),
        first=exported["FirstName"],
        last=exported["LastName"],
        title=exported.get("Title") or "",
        department=department,
        kind=kind,
        jira_admin="Jira Admin" in exported.get("PermissionSets", ()),
        support_lead=kind == "support" and role == "Support Lead",
    )


def write_policy(directory: Path) -> Path:
    """The example policy on Slack, Jira and Zendesk only, with SAFETY's deprovision limits."""
    directory.mkdir(parents=True, exist_ok=True)
    for name in ("apps.yaml", "rules.yaml", "source.yaml"):
        kept = []
        for document in yaml.safe_load_all((POLICY / name).read_text(encoding="utf-8")):
            if document is None:
                continue
            if document["kind"] == "ConnectedApp":
                if document["metadata"]["name"] not in APPS:
                    continue
                document["spec"]["safety"] = dict(SAFETY)
            if document["kind"] == "AccessRule" and any(
                grant["app"] not in APPS for grant in document["spec"]["grant"]
            ):
                continue
            kept.append(document)
        (directory / name).write_text(yaml.safe_dump_all(kept, sort_keys=False), encoding="utf-8")
    return directory
