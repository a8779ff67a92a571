"""The file source: Salesforce-named fields from YAML or CSV; a bad row is quarantined."""

from __future__ import annotations

from pathlib import Path

from controller.model import Quarantined, SourceUserId
from controller.sources.file import FileSource
from tests.fuzz.bounds import bounded


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


# --- Inputs that used to crash the read or leak a value into its error (issue 17) -------------

MARKER = "grace.hopper-7f3a@orion.example"
"""A value from the users file: it must never show in an error."""


async def test_a_users_file_yaml_error_quotes_no_value(tmp_path: Path) -> None:
    path = tmp_path / "users.yaml"
    first = "{Id: 005A, Username: a@x, Email: a@x}"
    path.write_text(f"users:\n  - {first}\n  - {{Id: 005B, Email: {MARKER}: x}}\n")

    read = await FileSource("org", path).read()

    assert not read.ok and read.users == ()
    assert str(read.error).startswith(f"{path}:3: invalid YAML: ")
    assert "column" in str(read.error)
    assert MARKER not in str(read.error) and "005B" not in str(read.error)


async def test_an_invalid_date_quarantines_only_its_user_and_quotes_no_value(
    tmp_path: Path,
) -> None:
    path = tmp_path / "users.yaml"
    path.write_text(
        "users:\n  - {Id: 005A, Username: a@x, Email: a@x, Contractor_End_Date__c: 2024-02-30}\n"
        "  - {Id: 005B, Username: b@x, Email: b@x, IsFrozen: !!bool maybe}\n"
        "  - {Id: 005C, Username: c@x, Email: c@x, Start: !!timestamp foo}\n"
        "  - {Id: 005D, Username: d@x, Email: d@x}\n"
    )

    read = await FileSource("org", path).read()

    assert read.ok and [user.id for user in read.users] == ["005D"]
    assert [(held.source_id, held.field, held.where) for held in read.quarantined] == [
        ("005A", "Contractor_End_Date__c", f"{path}:2"),
        ("005B", "IsFrozen", f"{path}:3"),
        ("005C", "Start", f"{path}:4"),
    ]
    assert read.quarantined[0].message.startswith("Contractor_End_Date__c: not a real date")
    assert not any(
        "2024-02-30" in held.message or "maybe" in held.message for held in read.quarantined
    )


async def test_a_nul_byte_or_bytes_not_utf8_fail_the_read_at_their_line(tmp_path: Path) -> None:
    for name in ("users.yaml", "users.csv"):
        path = tmp_path / name
        text = (
            "Id,Username,Email\n005A,a@x,a@x\n" if name.endswith("csv") else "users:\n- {Id: 1}\n"
        )
        path.write_bytes(text.encode() + b"x\0y\n")
        read = await FileSource("org", path).read()
        assert not read.ok and str(read.error).startswith(f"{path}:3: a NUL byte"), read.error

        path.write_bytes(text.encode() + b"\xff\xfe\n")
        read = await FileSource("org", path).read()
        assert read.error == f"{path}:3: not UTF-8 text; save the file as UTF-8"


async def test_a_csv_field_over_128_kib_fails_the_read_clearly(tmp_path: Path) -> None:
    path = tmp_path / "users.csv"
    path.write_text(f'Id,Username,Email\n005A,a@x,a@x\n005B,"{MARKER * 5000}\n005C,c@x,c@x\n')

    read = await FileSource("org", path).read()

    assert not read.ok and read.users == ()
    assert read.error == (f"{path}:3: a field longer than 131072 characters; is a quote left open?")


async def test_an_alias_bomb_in_a_users_file_fails_the_read(tmp_path: Path) -> None:
    path = tmp_path / "users.yaml"
    bomb = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    for previous, name in zip("abcdefghi", "bcdefghij", strict=True):
        bomb += f"{name}: &{name} [" + ",".join([f"*{previous}"] * 9) + "]\n"
    path.write_text(bomb)

    with bounded("an alias bomb in a users file", seconds=1.0, mib=100):
        read = await FileSource("org", path).read()

    assert not read.ok and "aliases here stand for more than" in str(read.error)
    assert "*a" not in str(read.error)


async def test_nesting_deeper_than_490_in_a_users_file_fails_the_read(tmp_path: Path) -> None:
    path = tmp_path / "users.yaml"
    path.write_text("users:\n  - {Id: 1, Deep: " + "[" * 600 + "]" * 600 + "}\n")

    read = await FileSource("org", path).read()

    assert read.error == f"{path}:2: nested deeper than 64 levels; flatten this structure"


async def test_a_field_of_the_wrong_kind_quarantines_its_user(tmp_path: Path) -> None:
    path = tmp_path / "users.yaml"
    path.write_text(
        "users:\n  - {Id: 005A, Username: a@x, Email: a@x, PermissionSets: 5}\n"
        "  - {Id: 005B, Username: b@x, Email: b@x}\n"
    )

    read = await FileSource("org", path).read()

    assert [user.id for user in read.users] == ["005B"]
    (held,) = read.quarantined
    assert held.source_id == "005A" and held.where == f"{path}:2"
