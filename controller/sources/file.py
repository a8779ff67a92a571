"""Users from a YAML or CSV file with Salesforce field names: the source for trials and the demo.

It reads the same fields the Salesforce source reads (`Id`, `Username`, `Email`, `FirstName`,
`LastName`, `IsActive`, `Profile.Name`, `UserRole.Name`, `Department`, custom `X__c` fields), plus
`PermissionSets` (a list, or `;`-separated in CSV) and `IsFrozen`. YAML may nest parent fields
(`Profile: {Name: Standard User}`) or write them dotted. A row that cannot be a user (no Email, a
bad boolean, an Id given twice, a date that is no date) is quarantined, named by file and line,
and the rest are read: a typo must not look like a leaver, nor stop everyone else's joiners and
leavers. A file that cannot be parsed at all (broken YAML or CSV, not UTF-8, a NUL, larger than
64 MiB, an alias bomb) is a failed read, never a shorter list, and never an exception. YAML is
read by the policy's restricted reader (`controller.policy.yamlsource`, `USERS` limits). No error
quotes the file's text: it is personal data, and errors go to logs and the journal.
"""

from __future__ import annotations

import csv
import datetime
import io
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from controller.model import Quarantined, SourceRead, SourceUser
from controller.policy.yamlsource import USERS, Path_, dotted, read_documents
from controller.sources.base import RecordError, quarantine, user_from_fields

Row = tuple[int, Mapping[str, Any], list[tuple[str, str]]]
"""(line, fields, (field, problem) pairs found while reading the row)."""


class _Failed(Exception):
    """The file cannot be read as a whole; the message names file and line, never a value."""


def _text(path: Path) -> str:
    with path.open("rb") as stream:
        content = stream.read(USERS.max_bytes + 1)
    if len(content) > USERS.max_bytes:
        mib = USERS.max_bytes // 2**20
        raise _Failed(f"{path}: larger than the {mib} MiB a users file may be; split the source")
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError as error:
        line = content[: error.start].count(b"\n") + 1
        raise _Failed(f"{path}:{line}: not UTF-8 text; save the file as UTF-8") from None


def _yaml_rows(path: Path, text: str) -> list[Row]:
    documents, broken = read_documents(text, None, USERS)
    if broken is not None:
        raise _Failed(f"{path}:{broken[0]}: {broken[1]}")
    if len(documents) > 1:
        line = documents[1].line(())
        raise _Failed(f"{path}:{line}: a second YAML document; put every user in one list")
    document = documents[0] if documents else None
    data = document.data if document else None
    prefix: Path_ = ("users",) if isinstance(data, dict) else ()
    rows = data.get("users") if isinstance(data, dict) else data
    if document is None or not isinstance(rows, list):
        raise _Failed(f"{path}: expected a list of users, or a mapping with a `users:` list")
    problems: dict[int, list[tuple[str, str]]] = {}
    for where, line, message in document.problems:
        index = where[len(prefix)] if len(where) > len(prefix) else None
        if where[: len(prefix)] != prefix or not isinstance(index, int):
            raise _Failed(f"{path}:{line}: {message}")
        field = dotted(where[len(prefix) + 1 :]) or "record"
        problems.setdefault(index, []).append((field, message))
    result: list[Row] = []
    for position, row in enumerate(rows):
        line = document.line((*prefix, position))
        if not isinstance(row, dict):
            number = position + 1
            raise _Failed(
                f"{path}:{line}: user #{number} is not a mapping of field names to values"
            )
        result.append((line, row, problems.get(position, [])))
    return result


def _csv_rows(path: Path, text: str) -> list[Row]:
    if (nul := text.find("\0")) >= 0:
        line = text.count("\n", 0, nul) + 1
        raise _Failed(f"{path}:{line}: a NUL byte; a users file is text, remove it")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    rows: list[Row] = []
    start = 1  # the first line of the record being read
    try:
        _ = reader.fieldnames  # reads the header
        start = reader.line_num + 1
        for row in reader:
            fields = {key: (value or None) for key, value in row.items() if key}
            rows.append((reader.line_num, fields, []))
            start = reader.line_num + 1
    except csv.Error as error:
        where = f"{path}:{start}"
        if "field larger than field limit" in str(error):
            most = csv.field_size_limit()
            raise _Failed(
                f"{where}: a field longer than {most} characters; is a quote left open?"
            ) from None
        raise _Failed(f"{where}: not valid CSV ({error})") from None  # csv's texts quote no data
    return rows


class FileSource:
    """Reads users from one file each time; no caching, so edits take effect on the next cycle."""

    def __init__(self, name: str, path: Path, *, clock: Any = None) -> None:
        self.name = name
        self.path = path
        self._clock = clock or (lambda: datetime.datetime.now(datetime.UTC))

    async def read(self) -> SourceRead:
        now = self._clock()
        users: list[SourceUser] = []
        quarantined: list[Quarantined] = []
        try:
            self._read_into(users, quarantined)
        except _Failed as failed:
            return SourceRead(self.name, (), now, error=str(failed))
        except OSError as error:
            why = error.strerror or type(error).__name__
            return SourceRead(self.name, (), now, error=f"{self.path}: cannot be read ({why})")
        return SourceRead(self.name, tuple(users), now, quarantined=tuple(quarantined))

    async def aclose(self) -> None:
        return None

    def _read_into(self, users: list[SourceUser], quarantined: list[Quarantined]) -> None:
        text = _text(self.path)
        csv_file = self.path.suffix.lower() == ".csv"
        rows = _csv_rows(self.path, text) if csv_file else _yaml_rows(self.path, text)
        seen: dict[str, int] = {}
        for line, row, problems in rows:
            where = f"{self.path}:{line}"
            try:
                if problems:
                    field, message = problems[0]
                    raise RecordError(field, f"{field}: {message}")
                user = user_from_fields(row)
            except ValueError as error:
                quarantined.append(quarantine(row, error, where=where))
                continue
            except (TypeError, AttributeError):  # a list or mapping where text belongs
                wrong = RecordError("record", "a field holds a list or mapping where text belongs")
                quarantined.append(quarantine(row, wrong, where=where))
                continue
            if user.id in seen:
                twice = ValueError(
                    f"Id {user.id} already given at line {seen[user.id]}; both rows are held"
                )
                quarantined.append(quarantine(row, twice, field="Id", where=where))
                continue
            seen[user.id] = line
            users.append(user)
