"""What the example policy (desired-state/) gives the example org, before and after the changes.

Written out by hand from desired-state/rules.yaml and emulators/seed/org.yaml, not computed by
the controller's own planner: the chaos test judges the controller, so it must not borrow its
answer. Hedy Lamarr (contract ended), Dennis Ritchey (frozen), the Sales reps and the
integration user get nothing.
"""

from __future__ import annotations

from typing import Any

from tests.chaos.apps import Account

LEAVER = "alan.kay@orion.example"
MOVER = "mary.seacole@orion.example"
RETURNING = "barbara.liskov@orion.example"
"""Inactive in the seed; activated during the storm."""

_ENGINEERS = ["ada.lovelace", "grace.hopper", "linus.berg", "margaret.hamilton", "ken.okafor"]
_SUPPORT = ["frances.allen", "radia.perlman"]
_NURSES = ["florence.nightingale", "clara.barton", "virginia.henderson"]
_CONTRACTORS = ["katherine.johnson", "dorothy.vaughan"]

JOINERS: list[dict[str, Any]] = [
    {
        "Username": "joan.clarke@orion.example",
        "Email": "joan.clarke@orion.example",
        "FirstName": "Joan",
        "LastName": "Clarke",
        "Profile": {"Name": "Standard User"},
        "UserRole": {"Name": "Engineer"},
        "Department": "Engineering",
        "Title": "Engineer",
    },
    {
        "Username": "edith.cavell@orion.example",
        "Email": "edith.cavell@orion.example",
        "FirstName": "Edith",
        "LastName": "Cavell",
        "Profile": {"Name": "Clinical User"},
        "UserRole": {"Name": "Floor Nurse"},
        "Department": "Nursing",
        "Title": "Floor Nurse",
    },
]


def _email(name: str) -> str:
    return f"{name}@orion.example"


def steady_people() -> frozenset[str]:
    """Everyone active from start to end: none of their accounts may ever lose access."""
    names = [*_ENGINEERS, *_SUPPORT, *_NURSES, *_CONTRACTORS]
    return frozenset([*map(_email, names), MOVER])


def _want(app: str, email: str, groups: set[str], role: str | None = None) -> Account:
    return Account(app, email, frozenset(), True, frozenset(groups), role)


def expected_accounts(*, changed: bool) -> dict[tuple[str, str], Account]:
    """(app, email) -> the one account that person must have there (active, groups, role).

    `changed`: after the joiners are hired, Barbara returns, Alan leaves and Mary is promoted.
    Alan's accounts, once he left, must be there and inactive; their groups are not judged.
    """
    wanted: list[Account] = []
    engineers = [*map(_email, _ENGINEERS), *([JOINERS[0]["Email"]] if changed else [])]
    for email in engineers:
        jira = {"engineering", "jira-admins"} if email.startswith("margaret") else {"engineering"}
        wanted += [_want("slack", email, {"eng", "all-hands"}), _want("jira", email, jira)]
    support = [*map(_email, _SUPPORT), *([RETURNING] if changed else [LEAVER])]
    for email in support:
        lead = email.startswith("frances")
        wanted += [
            _want("slack", email, {"support", "all-hands"}),
            _want("jira", email, {"service-desk"}),
            _want(
                "zendesk",
                email,
                {"Tier 1", "Escalations"} if lead else {"Tier 1"},
                "Team Lead" if lead else "agent",
            ),
        ]
    charge = [_email("florence.nightingale"), *([MOVER] if changed else [])]
    floor = [
        *map(_email, _NURSES[1:]),
        *([] if changed else [MOVER]),
        *([JOINERS[1]["Email"]] if changed else []),
    ]
    for email in charge:
        wanted += [
            _want("carepoint", email, {"ward-staff", "ward-admins"}, "charge-nurse"),
            _want("slack", email, {"all-hands"}),
        ]
    for email in floor:
        wanted += [
            _want("carepoint", email, {"ward-staff"}, "nurse"),
            _want("slack", email, {"all-hands"}),
        ]
    for email in map(_email, _CONTRACTORS):
        wanted += [_want("slack", email, {"contractors"}), _want("jira", email, {"contractors"})]
    found = {(a.app, a.email): a for a in wanted}
    if changed:
        for app in ("slack", "jira", "zendesk"):
            found[app, LEAVER] = Account(app, LEAVER, frozenset(), False, frozenset(), None)
    return found
