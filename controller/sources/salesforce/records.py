"""Salesforce query records -> the flat, Salesforce-named fields `user_from_fields` reads. Pure.

A REST query nests parents (`"Profile": {"attributes": {...}, "Name": "x"}`), writes an empty
lookup as `null`, and returns child subqueries as their own query results, or `null` when empty.
This module undoes that shape so a Salesforce user and a file user look the same: dotted names
(`Profile.Name`), `None` for every asked-for field behind a null parent, `PermissionSets` as the
assignment names and `IsFrozen` from UserLogin. Values stay as Salesforce sent them: datetimes
and dates are ISO strings (`2026-11-28T10:00:00.000+0000`, `2027-03-31`), which is what
`desired.as_date` and templates expect.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from controller.model import SourceUser
from controller.sources.base import FROZEN, PERMISSION_SETS, user_from_fields
from controller.sources.salesforce.soql import ASSIGNMENTS

ATTRIBUTES = "attributes"


@dataclass(frozen=True)
class QueryResult:
    """One page of a query (or a child subquery) as Salesforce sent it, checked for shape."""

    total_size: int
    done: bool
    records: tuple[Mapping[str, Any], ...]
    next_records_url: str | None


def query_result(body: Any, *, what: str) -> QueryResult:
    """Parse a query page; ValueError names what is wrong with it."""
    if not isinstance(body, Mapping):
        raise ValueError(f"{what}: the response is not a query result")
    total, done, records = body.get("totalSize"), body.get("done"), body.get("records")
    if not isinstance(total, int) or isinstance(total, bool) or total < 0:
        raise ValueError(f"{what}: totalSize is {total!r}, not a count")
    if not isinstance(done, bool):
        raise ValueError(f"{what}: done is {done!r}, not true or false")
    if not isinstance(records, list) or not all(isinstance(r, Mapping) for r in records):
        raise ValueError(f"{what}: records is not a list of records")
    next_url = body.get("nextRecordsUrl")
    if next_url is not None and not isinstance(next_url, str):
        raise ValueError(f"{what}: nextRecordsUrl is {next_url!r}, not a path")
    return QueryResult(total, done, tuple(records), next_url or None)


def flatten_record(record: Mapping[str, Any], requested: Sequence[str] = ()) -> dict[str, Any]:
    """Dotted names for parent fields, `attributes` dropped, null parents as None fields.

    `requested` names the fields the query asked for, so a null parent (`"UserRole": null`)
    becomes `"UserRole.Name": None` rather than a key no template asks for.
    """
    flat: dict[str, Any] = {}
    _flatten_into(flat, record, "", requested)
    return flat


def _flatten_into(
    flat: dict[str, Any], record: Mapping[str, Any], prefix: str, requested: Sequence[str]
) -> None:
    for key, value in record.items():
        if key == ATTRIBUTES:
            continue
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            _flatten_into(flat, value, f"{name}.", requested)
        elif value is None and (below := [f for f in requested if f.startswith(f"{name}.")]):
            flat.update(dict.fromkeys(below))
        else:
            flat[name] = value


def child_result(record: Mapping[str, Any], relationship: str = ASSIGNMENTS) -> QueryResult:
    """A record's child subquery result; `null` (Salesforce's empty) as an empty, done result."""
    body = record.get(relationship)
    if body is None:
        return QueryResult(0, True, (), None)
    return query_result(body, what=f"{relationship} of {record.get('Id')}")


def permission_set_names(assignments: Iterable[Mapping[str, Any]]) -> list[str]:
    """`PermissionSet.Name` of each assignment record; ValueError if one has none."""
    names = []
    for assignment in assignments:
        name = flatten_record(assignment).get("PermissionSet.Name")
        if not isinstance(name, str) or not name:
            raise ValueError(f"a permission set assignment has no PermissionSet.Name: {name!r}")
        names.append(name)
    return names


def source_user(
    record: Mapping[str, Any],
    *,
    requested: Sequence[str],
    permission_sets: Iterable[str],
    frozen: bool,
) -> SourceUser:
    """The SourceUser of one User record, with its permission sets and frozen state added."""
    fields = {key: value for key, value in record.items() if key != ASSIGNMENTS}
    flat = flatten_record(fields, requested)
    for name in requested:
        flat.setdefault(name, None)
    flat[PERMISSION_SETS] = sorted(set(permission_sets))
    flat[FROZEN] = frozen
    return user_from_fields(flat)


def parse_datetime(value: Any) -> datetime.datetime:
    """`2026-11-28T10:00:00.000+0000` -> an aware datetime; ValueError for anything else."""
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not a Salesforce datetime")
    moment = datetime.datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError(f"{value!r} has no time zone")
    return moment.astimezone(datetime.UTC)
