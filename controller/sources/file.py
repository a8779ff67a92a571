"""Users from a YAML or CSV file with Salesforce field names: the source for trials and the demo.

It reads the same fields the Salesforce source reads (`Id`, `Username`, `Email`, `FirstName`,
`LastName`, `IsActive`, `Profile.Name`, `UserRole.Name`, `Department`, custom `X__c` fields), plus
`PermissionSets` (a list, or `;`-separated in CSV) and `IsFrozen`. YAML may nest parent fields
(`Profile: {Name: Standard User}`) or write them dotted. A row that cannot be a user (no Email, a
bad boolean, an Id given twice) is quarantined, named by file and line, and the rest are read: a
typo must not look like a leaver, nor stop everyone else's joiners and leavers. A file that cannot
be parsed at all is a failed read, never a shorter list.
"""

from __future__ import annotations

import csv
import datetime
import io
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

from controller.model import Quarantined, SourceRead, SourceUser
from controller.sources.base import quarantine, user_from_fields

LINE_KEY = "__line__"


class _LineLoader(yaml.SafeLoader):
    """Remembers the line each mapping starts on, so a bad row can be named by its line."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        mapping = super().construct_mapping(node, deep=deep)
        mapping[LINE_KEY] = node.start_mark.line + 1
        return mapping


def _yaml_rows(text: str) -> Iterator[tuple[int, Mapping[str, Any]]]:
    document = yaml.load(text, Loader=_LineLoader)  # noqa: S506 - a SafeLoader subclass
    rows = document.get("users") if isinstance(document, dict) else document
    if not isinstance(rows, list):
        raise ValueError("expected a list of users, or a mapping with a `users:` list")
    for position, row in enumerate(rows, start=1):
        if not isinstance(row, dict):
            raise ValueError(f"user #{position} is not a mapping of field names to values")
        line = row.pop(LINE_KEY)
        yield line, {key: value for key, value in row.items() if key != LINE_KEY}


def _csv_rows(text: str) -> Iterator[tuple[int, Mapping[str, Any]]]:
    reader = csv.DictReader(io.StringIO(text))
    for row in reader:
        yield reader.line_num, {key: (value or None) for key, value in row.items() if key}


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
        except (OSError, ValueError, yaml.YAMLError) as error:
            return SourceRead(self.name, (), now, error=str(error))
        return SourceRead(self.name, tuple(users), now, quarantined=tuple(quarantined))

    async def aclose(self) -> None:
        return None

    def _read_into(self, users: list[SourceUser], quarantined: list[Quarantined]) -> None:
        text = self.path.read_text(encoding="utf-8")
        rows = _csv_rows(text) if self.path.suffix.lower() == ".csv" else _yaml_rows(text)
        seen: dict[str, int] = {}
        for line, row in rows:
            where = f"{self.path}:{line}"
            try:
                user = user_from_fields(row)
            except ValueError as error:
                quarantined.append(quarantine(row, error, where=where))
                continue
            if user.id in seen:
                twice = ValueError(
                    f"Id {user.id} already given at line {seen[user.id]}; both rows are held"
                )
                quarantined.append(quarantine(row, twice, field="Id", where=where))
                continue
            seen[user.id] = line
            users.append(user)
