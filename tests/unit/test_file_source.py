"""The file source: Salesforce-named fields from YAML or CSV, and a bad row fails the whole read."""

from __future__ import annotations

from pathlib import Path

from controller.sources.file import FileSource


async def test_yaml_users_with_nested_and_dotted_parent_fields(tmp_path: Path) -> None:
    path = tmp_path / "users.yaml"
    path.write_text(
        "users:\n"
        "  - {Id: 005A, Username: a@x, Email: a@x, Profile: {Name: Standard User},\n"
        "     PermissionSets: [Jira Admin], Contractor_End_Date__c: 2027-01-31}\n"
        "  - {Id: 005B, Username: b@x, Email: b@x, UserRole.Name: Floor Nurse, IsActive: false,\n"
        "     IsFrozen: true}\n"
    )
    read = await FileSource("org", path).read()
    assert read.ok
    a, b = read.users
    assert a.profile == "Standard User" and a.permission_sets == {"Jira Admin"}
    assert str(a.fields["Contractor_End_Date__c"]) == "2027-01-31"
    assert b.role == "Floor Nurse" and not b.is_active and b.frozen


async def test_csv_users(tmp_path: Path) -> None:
    path = tmp_path / "users.csv"
    path.write_text(
        "Id,Username,Email,IsActive,Profile.Name,PermissionSets\n"
        "005A,a@x,a@x,true,Standard User,Jira Admin;Slack Admin\n"
        "005B,b@x,b@x,false,,\n"
    )
    read = await FileSource("org", path).read()
    assert read.ok
    a, b = read.users
    assert a.permission_sets == {"Jira Admin", "Slack Admin"}
    assert a.profile == "Standard User" and b.profile is None and not b.is_active


async def test_a_bad_row_fails_the_read_naming_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "users.yaml"
    path.write_text(
        "users:\n  - {Id: 005A, Username: a@x, Email: a@x}\n  - {Id: 005B, Username: b@x}\n"
    )
    read = await FileSource("org", path).read()
    assert not read.ok
    assert read.users == ()
    assert read.error == f"{path}:3: missing required field(s): Email"


async def test_duplicate_ids_fail_the_read(tmp_path: Path) -> None:
    path = tmp_path / "users.csv"
    path.write_text("Id,Username,Email\n005A,a@x,a@x\n005A,b@x,b@x\n")
    read = await FileSource("org", path).read()
    assert read.error == f"{path}:3: Id 005A already given at line 2"


async def test_bad_boolean_fails_the_read(tmp_path: Path) -> None:
    path = tmp_path / "users.csv"
    path.write_text("Id,Username,Email,IsActive\n005A,a@x,a@x,maybe\n")
    read = await FileSource("org", path).read()
    assert read.error is not None and "IsActive must be true or false" in read.error


async def test_missing_file_fails_the_read(tmp_path: Path) -> None:
    read = await FileSource("org", tmp_path / "nope.yaml").read()
    assert not read.ok and "nope.yaml" in str(read.error)
