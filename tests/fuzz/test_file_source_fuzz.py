"""Fuzzing the file source: any users file gives a failed read or users and quarantined rows.

Mutated YAML and CSV users files (structured fragments written where a value stands, and
byte-level inserts, deletes, flips, NUL, invalid UTF-8, huge fields) must give a SourceRead,
never an exception, within the bounds of `tests/fuzz/bounds.py`. A read that fails names the
file and never quotes it: the file's values (here, planted markers) are personal data.
"""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from controller.model import SourceRead
from controller.sources.file import FileSource
from tests.fuzz.bounds import PARSER_CASES, bounded, fuzz

MARKER = "zq7marker"
"""Planted in every value of the base files; no error may contain it."""
YAML = f"""\
users:
  - {{Id: 005A{MARKER}, Username: a{MARKER}@x, Email: a{MARKER}@x, Profile: {{Name: S{MARKER}}}}}
  - Id: 005B{MARKER}
    Username: b{MARKER}@x
    Email: b{MARKER}@x
    IsActive: true
    Contractor_End_Date__c: 2027-01-31
    PermissionSets: [Jira {MARKER}, Slack {MARKER}]
  - &c {{Id: 005C{MARKER}, Username: c{MARKER}@x, Email: c{MARKER}@x, Department: D{MARKER}}}
"""
CSV = f"""\
Id,Username,Email,IsActive,Profile.Name,PermissionSets
005A{MARKER},a{MARKER}@x,a{MARKER}@x,true,S{MARKER},J{MARKER};K{MARKER}
005B{MARKER},"b{MARKER}@x",b{MARKER}@x,false,,
"005C{MARKER}","c,{MARKER}@x","c""{MARKER}@x",yes,"multi
line {MARKER}",
"""
FRAGMENTS = st.sampled_from(
    [
        "2024-02-30",
        "!!timestamp foo",
        "!!bool maybe",
        "!!python/object/apply:os.system [ls]",
        "!!binary aGk=",
        "!x y",
        "[x]",
        "{a: b}",
        "[" * 600 + "]" * 600,
        "*c",
        "*nope",
        "&d [*d]",
        "{<<: *c}",
        "9" * 5000,
        f"'{MARKER}",
        f'"{MARKER}',
        f"{MARKER}: {MARKER}: x",
        f'"a{MARKER}\\q"',
        f"\t{MARKER}",
        f"@{MARKER}",
        "~",
        "---",
        f'"{MARKER}" * 1',
        '"' + MARKER * 20_000,
        MARKER * 20_000,
        f"{MARKER},{MARKER}\n",
        '"',
        "\r",
        "\0",
    ]
)
_counter = itertools.count()


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("file-source-fuzz")


@st.composite
def _mutated(draw: st.DrawFn, base: str) -> bytes:
    text = base
    for _ in range(draw(st.integers(1, 3))):
        lines = text.split("\n")
        index = draw(st.integers(0, len(lines) - 1))
        line = lines[index]
        fragment = draw(FRAGMENTS)
        separator = ": " if ":" in line else ","
        if draw(st.booleans()) and separator in line:
            cut = draw(st.integers(0, len(line)))
            lines[index] = line[:cut] + fragment + line[cut:]
        else:
            lines.insert(index, f"  - {{Id: {fragment}}}" if ":" in base else fragment)
        text = "\n".join(lines)
    content = bytearray(text.encode())
    for _ in range(draw(st.integers(0, 4))):
        at = draw(st.integers(0, len(content)))
        operation = draw(st.sampled_from(["insert", "delete", "flip", "nul", "utf8"]))
        if operation == "insert":
            content[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif operation == "delete":
            del content[at : at + draw(st.integers(1, 32))]
        elif operation == "flip" and at < len(content):
            content[at] ^= 1 << draw(st.integers(0, 7))
        elif operation == "nul":
            content[at:at] = b"\0"
        else:
            content[at:at] = draw(st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80"]))
    return bytes(content)


_LOOP = asyncio.new_event_loop()
"""One loop for every case: starting one per case would cost more than most reads."""


def _read(root: Path, name: str, content: bytes) -> SourceRead:
    path = root / f"{next(_counter)}-{name}"
    path.write_bytes(content)
    try:
        with bounded(f"reading {path.name}"):
            read = _LOOP.run_until_complete(FileSource("org", path).read())
    finally:
        path.unlink()
    assert isinstance(read, SourceRead)
    if read.error is not None:
        assert read.users == () and read.quarantined == ()
        assert read.error.startswith(str(path)), read.error
        assert MARKER not in read.error, read.error
    for held in read.quarantined:
        assert held.where is not None and held.where.startswith(f"{path}:")
    return read


def test_the_base_files_read_whole(root: Path) -> None:
    for name, base in (("users.yaml", YAML), ("users.csv", CSV)):
        read = _read(root, name, base.encode())
        assert read.ok and len(read.users) == 3 and read.quarantined == (), read


@fuzz(PARSER_CASES)
@given(content=_mutated(YAML))
def test_mutated_yaml_users_files_read_or_fail_cleanly(root: Path, content: bytes) -> None:
    _read(root, "users.yaml", content)


@fuzz(PARSER_CASES)
@given(content=_mutated(CSV))
def test_mutated_csv_users_files_read_or_fail_cleanly(root: Path, content: bytes) -> None:
    _read(root, "users.csv", content)
