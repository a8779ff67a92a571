"""The file source: Salesforce-named fields from YAML or CSV; a bad row is quarantined."""

from __future__ import annotations

from pathlib import Path

from controller.model import Quarantined, SourceUserId
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


async def test_a_bad_row_is_quarantined_naming_file_line_user_and_field(tmp_path: Path) -> None:
    path = tmp_path / "users.yaml"
    path.write_text(
        "users:\n  - {Id: 005A, Username: a@x, Email: a@x}\n  - {Id: 005B, Username: b@x}\n"
        "  - {Id: 005C, Username: c@x, Email: c@x}\n"
    )
    read = await FileSource("org", path).read()
    assert read.ok
    assert [user.id for user in read.users] == ["005A", "005C"]
    assert read.quarantined == (
        Quarantined(
            field="Email",
            message="missing required field(s): Email",
            source_id=SourceUserId("005B"),
            username="b@x",
            where=f"{path}:3",
        ),
    )
    assert read.quarantined[0].who == f"User 005B (b@x) at {path}:3"


async def test_a_duplicate_id_is_quarantined(tmp_path: Path) -> None:
    path = tmp_path / "users.csv"
    path.write_text("Id,Username,Email\n005A,a@x,a@x\n005A,b@x,b@x\n")
    read = await FileSource("org", path).read()
    (held,) = read.quarantined
    assert held.field == "Id" and held.source_id == "005A" and held.username == "b@x"
    assert held.message == "Id 005A already given at line 2; both rows are held"


async def test_a_bad_boolean_is_quarantined(tmp_path: Path) -> None:
    path = tmp_path / "users.csv"
    path.write_text("Id,Username,Email,IsActive\n005A,a@x,a@x,maybe\n,,,true\n")
    read = await FileSource("org", path).read()
    assert read.ok and read.users == ()
    first, second = read.quarantined
    assert first.field == "IsActive" and first.source_id == "005A"
    assert first.message == "IsActive must be true or false, not 'maybe'"
    assert second.field == "Id, Username, Email" and second.source_id is None
    assert second.who == f"a user with no Id at {path}:3"


async def test_a_row_that_is_not_a_mapping_fails_the_read(tmp_path: Path) -> None:
    path = tmp_path / "users.yaml"
    path.write_text("users:\n  - {Id: 005A, Username: a@x, Email: a@x}\n  - just a string\n")
    read = await FileSource("org", path).read()
    assert not read.ok and read.users == () and "user #2 is not a mapping" in str(read.error)


async def test_missing_file_fails_the_read(tmp_path: Path) -> None:
    read = await FileSource("org", tmp_path / "nope.yaml").read()
    assert not read.ok and "nope.yaml" in str(read.error)
