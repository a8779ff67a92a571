"""A synthetic organisation of any size, and a policy over three SCIM apps, for the benchmarks.

Users spread over four departments; a rule per department gives everyone an account in each of
the three apps, in their department's group: 10,000 users make 30,000 accounts. Drift is a
changed title on a fixed share of accounts, chosen by a stable rule so every run and variant
sees the same drift.
"""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import yaml

from controller import desired
from controller.model import (
    AccountId,
    AppName,
    DesiredApp,
    ObservedAccount,
    ObservedApp,
    ObservedGroup,
    SourceRead,
    SourceUser,
    SourceUserId,
)

DEPARTMENTS = ("Engineering", "Support", "Sales", "Finance")
APPS = ("chat", "tracker", "desk")
NOW = datetime.datetime(2026, 11, 28, 12, 0, tzinfo=datetime.UTC)


def policy_text(endpoints: dict[str, str]) -> str:
    """Source (a users file) + three SCIM apps + a rule per department."""
    documents: list[dict[str, Any]] = [
        {
            "apiVersion": "provisioner/v1",
            "kind": "Source",
            "metadata": {"name": "org"},
            "spec": {"file": {"path": "users.yaml"}, "maxActiveDropPercent": 50},
        }
    ]
    for app in APPS:
        documents.append(
            {
                "apiVersion": "provisioner/v1",
                "kind": "ConnectedApp",
                "metadata": {"name": app},
                "spec": {
                    "type": "scim",
                    "endpoint": endpoints[app],
                    "match": ["externalId", "userName"],
                    "pageSize": 1000,
                    "safety": {"maxDeprovisionsPerRun": 1000, "maxDeprovisionsPercent": 50},
                    "attributes": {
                        "userName": "{{ user.Email | lower }}",
                        "displayName": "{{ user.FirstName }} {{ user.LastName }}",
                        "emails.work": "{{ user.Email | lower }}",
                        "title": "{{ user.Title }}",
                    },
                },
            }
        )
    documents += [_rule(department) for department in DEPARTMENTS]
    return yaml.safe_dump_all(documents, sort_keys=False)


def _rule(department: str) -> dict[str, Any]:
    """Everyone in `department` gets every app, in the department's group."""
    group = department.lower()
    return {
        "apiVersion": "provisioner/v1",
        "kind": "AccessRule",
        "metadata": {"name": group},
        "spec": {
            "when": {"department": [department]},
            "grant": [{"app": app, "groups": [group]} for app in APPS],
        },
    }


def user_fields(count: int) -> list[dict[str, Any]]:
    """Users as a file Source reads them (Salesforce field names)."""
    return [
        {
            "Id": f"005BENCH{number:010d}",
            "Username": f"user{number}@bench.example",
            "Email": f"user{number}@bench.example",
            "FirstName": f"First{number}",
            "LastName": f"Last{number}",
            "IsActive": True,
            "Department": DEPARTMENTS[number % len(DEPARTMENTS)],
            "Title": "Engineer",
        }
        for number in range(count)
    ]


def write_policy(directory: Path, endpoints: dict[str, str], users: int) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "policy.yaml").write_text(policy_text(endpoints))
    (directory / "users.yaml").write_text(yaml.safe_dump({"users": user_fields(users)}))
    return directory


def source_read(count: int) -> SourceRead:
    users = tuple(
        SourceUser(
            id=SourceUserId(fields["Id"]),
            username=fields["Username"],
            email=fields["Email"],
            first_name=fields["FirstName"],
            last_name=fields["LastName"],
            department=fields["Department"],
            fields=fields,
        )
        for fields in user_fields(count)
    )
    return SourceRead("org", users, NOW)


def drifted(number: int, percent: float) -> bool:
    """Whether account `number` has drifted: a stable `percent` share of accounts."""
    return percent > 0 and number % round(100 / percent) == 0


def observed_in_sync(want: DesiredApp, drift_percent: float) -> ObservedApp:
    """What an app converged on `want` reports, with `drift_percent` of titles changed."""
    accounts: list[ObservedAccount] = []
    members: dict[str, set[AccountId]] = {}
    for number, account in enumerate(want.accounts.values()):
        attributes = dict(account.attributes)
        if drifted(number, drift_percent):
            attributes["title"] = "Changed behind our back"
        identifier = AccountId(f"{want.app}-{number}")
        accounts.append(
            ObservedAccount(identifier, account.user_name, True, account.source_id, attributes)
        )
        for group in account.groups:
            members.setdefault(group, set()).add(identifier)
    groups = tuple(
        ObservedGroup(f"g-{name}", name, frozenset(ids)) for name, ids in sorted(members.items())
    )
    return ObservedApp(AppName(want.app), tuple(accounts), groups)


def evaluation(policy: Any, read: SourceRead) -> desired.Evaluation:
    return desired.evaluate(policy, read, now=NOW)
