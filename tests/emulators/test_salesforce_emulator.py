"""The emulator's query resource and admin endpoints, over a real socket, checked on the wire.

Record shapes (attributes, nested parents, null lookups, child subqueries or null), ids and
datetimes as Salesforce writes them, SOQL errors worded as Salesforce words them, and the
admin changes that move SystemModstamp and UserLogin.LastModifiedDate.
"""

from __future__ import annotations

import re

from emulators.salesforce import Org, ids
from tests.emulators.conftest import API, FULL_READ, FakeClock, Salesforce

ADA = "005Hs0000U8JZpDIQW"
MARGARET = "005Hs0000baEPFjIAO"  # has Jira Admin
DENNIS = "005Hs0000klZDOCIA4"  # frozen
INTEGRATION = "005Hs0000IntGr8IQE"  # no role
DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.000\+0000$")


def _by_id(salesforce: Salesforce, soql: str) -> dict[str, dict[str, object]]:
    return {str(r["Id"]): r for r in salesforce.records(soql)}


def test_parents_come_back_nested_with_attributes_and_null_when_empty(
    salesforce: Salesforce,
) -> None:
    users = _by_id(salesforce, FULL_READ)

    ada = users[ADA]
    assert ada["attributes"] == {"type": "User", "url": f"{API}/sobjects/User/{ADA}"}
    profile = ada["Profile"]
    assert isinstance(profile, dict)
    assert profile["Name"] == "Standard User"
    assert profile["attributes"]["type"] == "Profile"
    assert re.fullmatch(rf"{API}/sobjects/Profile/00e\w{{15}}", profile["attributes"]["url"])
    assert ada["UserRole"] == {
        "attributes": ada["UserRole"]["attributes"],  # type: ignore[index]
        "Name": "Engineering Manager",
    }
    assert users[INTEGRATION]["UserRole"] is None
    assert ada["IsActive"] is True
    assert ada["FederationIdentifier"] is None
    assert list(ada)[:4] == ["attributes", "Id", "Username", "Email"]  # the order selected


def test_child_subquery_is_a_nested_result_or_null_when_empty(salesforce: Salesforce) -> None:
    users = _by_id(salesforce, FULL_READ)

    assignments = users[MARGARET]["PermissionSetAssignments"]
    assert isinstance(assignments, dict)
    assert assignments["totalSize"] == 1
    assert assignments["done"] is True
    (record,) = assignments["records"]
    assert record["attributes"]["type"] == "PermissionSetAssignment"
    assert record["PermissionSet"]["Name"] == "Jira Admin"
    assert record["PermissionSet"]["attributes"]["type"] == "PermissionSet"
    assert users[ADA]["PermissionSetAssignments"] is None


def test_profile_owned_assignments_show_unless_filtered(salesforce: Salesforce) -> None:
    unfiltered = (
        "SELECT Id, (SELECT PermissionSet.Name, PermissionSet.IsOwnedByProfile"
        " FROM PermissionSetAssignments) FROM User"
    )
    users = _by_id(salesforce, unfiltered)

    for user in users.values():  # every user holds its profile's permission set
        owned = [
            r
            for r in user["PermissionSetAssignments"]["records"]  # type: ignore[index]
            if r["PermissionSet"]["IsOwnedByProfile"]
        ]
        assert len(owned) == 1
        assert owned[0]["PermissionSet"]["Name"].startswith("X00e")
    margaret = users[MARGARET]["PermissionSetAssignments"]
    assert margaret["totalSize"] == 2  # type: ignore[index]
    top_level = salesforce.records(
        "SELECT AssigneeId, PermissionSet.Name FROM PermissionSetAssignment"
        " WHERE PermissionSet.IsOwnedByProfile = false"
    )
    assert [(r["AssigneeId"], r["PermissionSet"]["Name"]) for r in top_level] == [
        (MARGARET, "Jira Admin")
    ]


def test_ids_are_18_characters_with_checksums_and_the_right_prefixes(
    salesforce: Salesforce,
) -> None:
    assert ids.to_18("001A0000006Vm9r") == "001A0000006Vm9rIAC"  # Salesforce's documented example
    soql = (
        "SELECT Id, ProfileId, UserRoleId, Profile.Id,"
        " (SELECT Id, PermissionSetId FROM PermissionSetAssignments) FROM User"
    )
    seen: dict[str, set[str]] = {}
    for user in salesforce.records(soql):
        values = [("005", user["Id"]), ("00e", user["ProfileId"]), ("00e", user["Profile"]["Id"])]
        if user["UserRoleId"] is not None:
            values.append(("00E", user["UserRoleId"]))
        for child in user["PermissionSetAssignments"]["records"]:
            values += [("0Pa", child["Id"]), ("0PS", child["PermissionSetId"])]
        for prefix, value in values:
            assert ids.is_valid(value), value
            seen.setdefault(prefix, set()).add(value[:3])
    logins = salesforce.records("SELECT Id, UserId FROM UserLogin")
    assert all(ids.is_valid(r["Id"]) and r["Id"].startswith("060") for r in logins)
    assert seen == {p: {p} for p in ("005", "00e", "00E", "0Pa", "0PS")}


def test_datetimes_are_written_with_milliseconds_and_offset(
    salesforce: Salesforce, clock: FakeClock
) -> None:
    (user,) = salesforce.records(f"SELECT SystemModstamp FROM User WHERE Id = '{ADA[:15]}'")
    assert DATETIME.match(user["SystemModstamp"])
    assert user["SystemModstamp"] == clock.now.strftime("%Y-%m-%dT%H:%M:%S.000+0000")
    (hedy,) = salesforce.records(
        "SELECT Contractor_End_Date__c FROM User WHERE Contractor_End_Date__c < 2026-06-01"
    )
    assert hedy["Contractor_End_Date__c"] == "2026-01-31"


def test_admin_change_bumps_system_modstamp_of_exactly_that_user(
    salesforce: Salesforce, clock: FakeClock
) -> None:
    before = clock.now.strftime("%Y-%m-%dT%H:%M:%SZ")
    clock.advance(61)
    changed = salesforce.admin(f"users/{ADA}", {"Title": "CTO", "Department": "Leadership"})
    assert changed.status_code == 200
    assert changed.json() == {"id": ADA}

    found = salesforce.records(
        f"SELECT Id, Title, SystemModstamp FROM User WHERE SystemModstamp > {before}"
        " ORDER BY SystemModstamp"
    )

    assert [(r["Id"], r["Title"]) for r in found] == [(ADA, "CTO")]
    assert found[0]["SystemModstamp"] == clock.now.strftime("%Y-%m-%dT%H:%M:%S.000+0000")
    # A freeze moves UserLogin.LastModifiedDate, not the user's SystemModstamp.
    later = clock.now.strftime("%Y-%m-%dT%H:%M:%S+00:00")
    clock.advance(30)
    assert salesforce.admin(f"users/{MARGARET}", {"IsFrozen": True}).status_code == 200
    assert salesforce.records(f"SELECT Id FROM User WHERE SystemModstamp > {later}") == []
    logins = salesforce.records(
        "SELECT UserId, IsFrozen, LastModifiedDate FROM UserLogin"
        f" WHERE LastModifiedDate > {later} ORDER BY LastModifiedDate"
    )
    assert [(r["UserId"], r["IsFrozen"]) for r in logins] == [(MARGARET, True)]
    frozen = salesforce.records(
        "SELECT UserId FROM UserLogin WHERE IsFrozen = true ORDER BY UserId"
    )
    assert [r["UserId"] for r in frozen] == sorted([DENNIS, MARGARET])


def test_permission_set_changes_add_stamped_rows_and_remove_without_trace(
    salesforce: Salesforce, clock: FakeClock
) -> None:
    before = clock.now.strftime("%Y-%m-%dT%H:%M:%SZ")
    clock.advance(5)
    body = {"PermissionSets": {"add": ["Slack Admin"], "remove": ["Jira Admin"]}}
    assert salesforce.admin(f"users/{MARGARET}", body).status_code == 200
    assert salesforce.admin(f"users/{ADA}", {"PermissionSets": {"add": ["Jira Admin"]}}).is_success

    changed = salesforce.records(
        "SELECT AssigneeId, PermissionSet.Name, SystemModstamp FROM PermissionSetAssignment"
        f" WHERE SystemModstamp > {before} ORDER BY SystemModstamp"
    )

    assert sorted((r["AssigneeId"], r["PermissionSet"]["Name"]) for r in changed) == sorted(
        [(MARGARET, "Slack Admin"), (ADA, "Jira Admin")]
    )
    users = _by_id(salesforce, FULL_READ)
    names = users[MARGARET]["PermissionSetAssignments"]["records"]  # type: ignore[index]
    assert [r["PermissionSet"]["Name"] for r in names] == ["Slack Admin"]
    assert salesforce.records(f"SELECT Id FROM User WHERE SystemModstamp > {before}") == []


def test_admin_adds_users_and_reports_state(salesforce: Salesforce, org: Org) -> None:
    count = len(org)
    added = salesforce.admin(
        "users",
        {
            "Username": "new.hire@orion.example",
            "LastName": "Hire",
            "Profile": {"Name": "Contractor"},
        },
    )
    assert added.status_code == 201
    new_id = added.json()["id"]
    assert ids.is_valid(new_id)
    assert new_id.startswith("005")
    (user,) = salesforce.records(f"SELECT Username, Profile.Name FROM User WHERE Id = '{new_id}'")
    assert user["Profile"]["Name"] == "Contractor"
    state = salesforce.http.get(f"{salesforce.url}/_emulator/state").json()
    assert state == {"apiUsage": {"used": 1, "max": 15000}, "users": count + 1}
    bad = salesforce.admin(f"users/{ADA}", {"Nickname__x": 1})
    assert bad.status_code == 400
    nobody = ids.to_18("005Hs0000AAAAAA")
    assert salesforce.admin(f"users/{nobody}", {"Title": "x"}).status_code == 404
