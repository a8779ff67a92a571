"""The pure half of the Salesforce source: the exact SOQL sent, and records -> SourceUsers."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest

from controller.desired import as_date
from controller.policy import NamedSource
from controller.policy.schema import SourceSpec
from controller.sources import FileSource, SalesforceSource, build_source
from controller.sources.salesforce import records, soql
from controller.sources.salesforce.client import parse_limit_info
from controller.sources.salesforce.errors import scrub

BASE = (
    "SELECT Id, Username, Email, FirstName, LastName, IsActive, Profile.Name, UserRole.Name, "
    "Department, Title, FederationIdentifier, EmployeeNumber, ManagerId, SystemModstamp"
)
CHILD = (
    "(SELECT PermissionSet.Name FROM PermissionSetAssignments"
    " WHERE PermissionSet.IsOwnedByProfile = false)"
)


def test_full_read_query_is_the_contracts() -> None:
    fields = soql.user_fields(["Contractor_End_Date__c", "title", "Manager.Email"])
    assert soql.users(fields) == (
        f"{BASE}, Contractor_End_Date__c, Manager.Email, {CHILD} FROM User ORDER BY Id"
    )
    assert soql.users(fields[:14], "UserType = 'Standard' OR IsActive = true") == (
        f"{BASE}, {CHILD} FROM User WHERE (UserType = 'Standard' OR IsActive = true) ORDER BY Id"
    )
    assert soql.frozen() == "SELECT UserId FROM UserLogin WHERE IsFrozen = true ORDER BY UserId"


def test_incremental_queries_floor_the_watermark_to_whole_utc_seconds() -> None:
    moment = datetime.datetime(
        2026, 11, 28, 11, 0, 0, 999000, tzinfo=datetime.timezone(datetime.timedelta(hours=1))
    )
    assert soql.datetime_literal(moment) == "2026-11-28T10:00:00Z"
    assert soql.changed_users(moment) == (
        "SELECT Id, SystemModstamp FROM User WHERE SystemModstamp > 2026-11-28T10:00:00Z"
        " ORDER BY SystemModstamp"
    )
    assert soql.changed_logins(moment) == (
        "SELECT UserId, IsFrozen, LastModifiedDate FROM UserLogin"
        " WHERE LastModifiedDate > 2026-11-28T10:00:00Z ORDER BY LastModifiedDate"
    )
    assert soql.changed_assignments(moment) == (
        "SELECT AssigneeId, SystemModstamp FROM PermissionSetAssignment"
        " WHERE SystemModstamp > 2026-11-28T10:00:00Z ORDER BY SystemModstamp"
    )
    with pytest.raises(ValueError, match="time zone"):
        soql.datetime_literal(datetime.datetime(2026, 11, 28))


def test_changed_ids_are_quoted_and_chunked() -> None:
    ids = [f"005{n:015d}" for n in range(450)]
    chunks = list(soql.chunks(ids))
    assert [len(chunk) for chunk in chunks] == [200, 200, 50]
    query = soql.users(soql.USER_FIELDS, "Department = 'R&D'", ["005A", "005B"])
    assert query.endswith(
        f"{CHILD} FROM User WHERE Id IN ('005A', '005B') AND (Department = 'R&D') ORDER BY Id"
    )
    assert soql.frozen(["005A"]) == (
        "SELECT UserId FROM UserLogin WHERE IsFrozen = true AND UserId IN ('005A')"
    )


def test_string_literals_escape_quotes_backslashes_and_controls() -> None:
    assert soql.quote("O'Brien") == "'O\\'Brien'"
    assert soql.quote('a\\b"c\nd\te') == "'a\\\\b\\\"c\\nd\\te'"
    assert soql.quote("x' OR Id != '") == "'x\\' OR Id != \\''"


@pytest.mark.parametrize("bad", ["Name, (SELECT Id FROM Cases)", "X__c) FROM User --", "", "1a"])
def test_extra_fields_must_be_field_names(bad: str) -> None:
    with pytest.raises(ValueError, match="not a Salesforce field name"):
        soql.user_fields([bad])


def _user(**extra: object) -> dict[str, object]:
    return {
        "attributes": {"type": "User", "url": "/services/data/v62.0/sobjects/User/005A"},
        "Id": "005A",
        "Username": "ana@example.com",
        "Email": "ana@example.com",
        "FirstName": "Ana",
        "LastName": "Ng",
        "IsActive": True,
        "Profile": {"attributes": {"type": "Profile", "url": "/x"}, "Name": "Standard User"},
        "UserRole": None,
        "Department": None,
        **extra,
    }


def test_a_record_becomes_a_source_user_with_dotted_fields() -> None:
    record = _user(
        Contractor_End_Date__c="2027-03-31",
        SystemModstamp="2026-11-28T10:00:00.000+0000",
        PermissionSetAssignments={
            "totalSize": 1,
            "done": True,
            "records": [
                {
                    "attributes": {"type": "PermissionSetAssignment"},
                    "PermissionSet": {"attributes": {"type": "PermissionSet"}, "Name": "Jira"},
                }
            ],
        },
    )
    requested = soql.user_fields(["Contractor_End_Date__c"])
    child = records.child_result(record)
    names = records.permission_set_names(child.records)
    user = records.source_user(record, requested=requested, permission_sets=names, frozen=True)
    assert user.profile == "Standard User" and user.role is None and user.department is None
    assert user.permission_sets == {"Jira"} and user.frozen and user.is_active
    assert user.fields["UserRole.Name"] is None and "UserRole" not in user.fields
    assert user.fields["Title"] is None  # asked for, so present even if the record left it out
    assert "attributes" not in user.fields and "Profile.attributes.type" not in user.fields
    assert "PermissionSetAssignments" not in user.fields
    assert as_date(user.fields["Contractor_End_Date__c"]) == datetime.date(2027, 3, 31)
    assert as_date(user.fields["SystemModstamp"]) == datetime.date(2026, 11, 28)


def test_an_empty_child_subquery_may_be_null() -> None:
    child = records.child_result(_user(PermissionSetAssignments=None))
    assert child.done and child.records == () and child.total_size == 0
    with pytest.raises(ValueError, match="PermissionSetAssignments of 005A"):
        records.child_result(_user(PermissionSetAssignments={"done": True, "records": []}))


def test_a_record_without_an_email_is_refused() -> None:
    with pytest.raises(ValueError, match="Email"):
        records.source_user(_user(Email=None), requested=(), permission_sets=(), frozen=False)


def test_query_results_are_checked_for_shape() -> None:
    page = records.query_result(
        {"totalSize": 3, "done": False, "nextRecordsUrl": "/n", "records": [{}]}, what="q"
    )
    assert page.next_records_url == "/n" and not page.done
    bad_pages: list[object] = [
        {"totalSize": "3", "done": True, "records": []},
        [],
        {"totalSize": 0},
    ]
    for bad in bad_pages:
        with pytest.raises(ValueError, match=r"^q: "):
            records.query_result(bad, what="q")


def test_datetimes_parse_from_salesforce_form() -> None:
    assert records.parse_datetime("2026-11-28T10:00:00.250+0000") == datetime.datetime(
        2026, 11, 28, 10, 0, 0, 250000, tzinfo=datetime.UTC
    )
    with pytest.raises(ValueError):
        records.parse_datetime("2026-11-28T10:00:00")


def test_limit_info_header() -> None:
    assert parse_limit_info("api-usage=18/5000") == (18, 5000)
    assert parse_limit_info("api-usage=10018/100000; api-bursts=1/750") == (10018, 100000)
    assert parse_limit_info(None) is None and parse_limit_info("per-app") is None


def test_scrub_hides_secrets() -> None:
    assert scrub("token 00Dx!AR.secret-token seen", ["00Dx!AR.secret-token", None]) == (
        "token *** seen"
    )


async def test_build_source_picks_the_kind_the_policy_names(tmp_path: Path) -> None:
    salesforce = SourceSpec.model_validate(
        {
            "salesforce": {
                "instanceUrl": "https://orion.my.salesforce.com/",
                "auth": {"flow": "client-credentials", "clientId": "x", "clientSecretEnv": "S"},
            }
        }
    )
    built = build_source(NamedSource("org", salesforce, tmp_path), environ={}, clock=_now)
    assert isinstance(built, SalesforceSource) and built.name == "org"
    read = await built.read()
    await built.aclose()
    assert read.error == "environment variable S (clientSecretEnv) is not set or empty"

    file = SourceSpec.model_validate({"file": {"path": "users.yaml"}})
    built = build_source(NamedSource("people", file, tmp_path), environ={}, clock=_now)
    assert isinstance(built, FileSource) and built.path == tmp_path / "users.yaml"


def _now() -> datetime.datetime:
    return datetime.datetime(2026, 11, 28, tzinfo=datetime.UTC)
