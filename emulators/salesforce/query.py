"""Runs a parsed SOQL query against the org and shapes the records the way the REST API does.

Field paths are checked against the schema first (INVALID_FIELD, INVALID_TYPE, the type of each
filter value), then the query reads one consistent copy of the org. Records carry `attributes`,
parents come back nested (or `null` for an empty lookup), child subqueries as a nested query
result (or `null` when empty), values in the wire formats. Each record comes with its weight
(itself plus its children) because children count toward the batch size.
"""

from __future__ import annotations

import datetime as dt
import operator
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from emulators.salesforce import ids, soql
from emulators.salesforce.org import Org, Row, Tables
from emulators.salesforce.schema import Field, Parent, SObject, to_wire
from emulators.salesforce.soql import FieldPath, SubQuery, Value, located

_NO_FIELD = (
    "No such column '{field}' on entity '{entity}'. If you are attempting to use a custom field,"
    " be sure to append the '__c' after the custom field name. Please reference your WSDL or the"
    " describe call for the appropriate names."
)
_NO_RELATIONSHIP = (
    "Didn't understand relationship '{name}' in {where}. If you are attempting to use a custom"
    " relationship, be sure to append the '__r' after the custom relationship name. Please"
    " reference your WSDL or the describe call for the appropriate names."
)
_NO_TYPE = (
    "sObject type '{name}' is not supported. If you are attempting to use a custom object, be"
    " sure to append the '__c' after the entity name. Please reference your WSDL or the describe"
    " call for the appropriate names."
)
_ORDERING = {"<": operator.lt, ">": operator.gt, "<=": operator.le, ">=": operator.ge}
_WIRE_TYPE = {"datetime": "dateTime", "id": "string"}


@dataclass(frozen=True)
class Path:
    parents: tuple[Parent, ...]
    field: Field


@dataclass(frozen=True)
class Test:
    path: Path
    operator: str
    values: tuple[Any, ...]
    members: frozenset[Any]
    """The values again, for IN and = (a long IN list of ids is the client's usual filter)."""


@dataclass(frozen=True)
class Junction:
    operator: str
    parts: tuple[Test | Junction, ...]


@dataclass(frozen=True)
class Child:
    name: str
    object: SObject
    field: str
    paths: tuple[Path, ...]
    where: Test | Junction | None


class _Compiler:
    def __init__(self, org: Org, text: str) -> None:
        self.org = org
        self.text = text

    def path(self, obj: SObject, field: FieldPath) -> Path:
        parents: list[Parent] = []
        for offset, name in enumerate(field.names[:-1]):
            parent = obj.parents.get(name.lower())
            if parent is None:
                what = _NO_RELATIONSHIP.format(name=name, where="field path")
                if offset == 0 and len(field.names) == 2 and name.lower() in obj.fields:
                    what = _NO_FIELD.format(field=".".join(field.names), entity=obj.name)
                raise located(self.text, field.position, what, "INVALID_FIELD")
            parents.append(parent)
            obj = self.org.describe(parent.target) or obj
        found = obj.fields.get(field.names[-1].lower())
        if found is None:
            what = _NO_FIELD.format(field=field.names[-1], entity=obj.name)
            raise located(self.text, field.position, what, "INVALID_FIELD")
        return Path(tuple(parents), found)

    def paths(self, obj: SObject, fields: tuple[FieldPath, ...]) -> tuple[Path, ...]:
        seen: set[str] = set()
        paths = []
        for field in fields:
            path = self.path(obj, field)
            label = ".".join([p.name for p in path.parents] + [path.field.name])
            if label.lower() in seen:
                raise located(self.text, field.position, f"duplicate field selected: {label}")
            seen.add(label.lower())
            paths.append(path)
        return tuple(paths)

    def condition(self, obj: SObject, condition: soql.Condition) -> Test | Junction:
        if isinstance(condition, soql.Junction):
            return Junction(
                condition.operator, tuple(self.condition(obj, c) for c in condition.parts)
            )
        path = self.path(obj, condition.field)
        values = tuple(self.value(path.field, value) for value in condition.values)
        return Test(path, condition.operator, values, frozenset(values))

    def value(self, field: Field, value: Value) -> Any:
        if value.kind == "null":
            return None
        kind = {"string": "string", "id": "string", "double": "number"}.get(field.type, field.type)
        if value.kind != kind:
            quoted = "be" if kind == "string" else "not be"
            wire = _WIRE_TYPE.get(field.type, field.type)
            what = (
                f"value of filter criterion for field '{field.name}' must be of type {wire} and"
                f" should {quoted} enclosed in quotes"
            )
            raise located(self.text, value.position, what, "INVALID_FIELD")
        if field.type == "id":
            try:
                return ids.to_18(value.value).casefold()
            except ValueError:
                what = f"invalid ID field: {value.value}"
                raise located(
                    self.text, value.position, what, "INVALID_QUERY_FILTER_OPERATOR"
                ) from None
        return _normal(value.value)


def _normal(value: Any) -> Any:
    """Values as SOQL compares them: text case-insensitively, datetimes in UTC."""
    if isinstance(value, str):
        return value.casefold()
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC)
    return value


def _get(row: Row | None, path: Path, tables: Tables) -> Any:
    for parent in path.parents:
        if row is None:
            return None
        row = tables[parent.target].get(row.get(parent.field) or "")
    return None if row is None else row.get(path.field.name)


def _matches(condition: Test | Junction, row: Row, tables: Tables) -> bool:
    if isinstance(condition, Junction):
        results = (_matches(part, row, tables) for part in condition.parts)
        return all(results) if condition.operator == "AND" else any(results)
    actual = _normal(_get(row, condition.path, tables))
    if condition.operator in ("=", "IN"):
        return actual in condition.members
    if condition.operator == "!=":
        return bool(actual != condition.values[0])
    expected = condition.values[0]
    if actual is None or expected is None:
        return False
    return bool(_ORDERING[condition.operator](actual, expected))


def _attributes(obj: str, record_id: str, version: str) -> dict[str, Any]:
    return {
        "attributes": {"type": obj, "url": f"/services/data/v{version}/sobjects/{obj}/{record_id}"}
    }


def _put(out: dict[str, Any], row: Row, path: Path, tables: Tables, version: str) -> None:
    """Write `path` of `row` into `out`, nesting parents (or `null` for an empty lookup)."""
    if not path.parents:
        out[path.field.name] = to_wire(row.get(path.field.name))
        return
    parent = path.parents[0]
    target = tables[parent.target].get(row.get(parent.field) or "")
    if target is None:
        out.setdefault(parent.name, None)
        return
    nested = out.get(parent.name)
    if nested is None:
        nested = out[parent.name] = _attributes(parent.target, target["Id"], version)
    _put(nested, target, Path(path.parents[1:], path.field), tables, version)


def _record(
    obj: str, row: Row, paths: tuple[Path, ...], tables: Tables, version: str
) -> dict[str, Any]:
    out = _attributes(obj, row["Id"], version)
    for path in paths:
        _put(out, row, path, tables, version)
    return out


def run(org: Org, text: str, version: str) -> list[tuple[dict[str, Any], int]]:
    """Every record `text` selects, in order, each with its weight toward a batch."""
    query = soql.parse(text)
    obj = org.describe(query.object)
    if obj is None:
        raise located(
            text, query.object_position, _NO_TYPE.format(name=query.object), "INVALID_TYPE"
        )
    compiler = _Compiler(org, text)
    plain = iter(compiler.paths(obj, tuple(f for f in query.fields if isinstance(f, FieldPath))))
    items: list[Path | Child] = [
        _child(compiler, obj, item) if isinstance(item, SubQuery) else next(plain)
        for item in query.fields
    ]
    where = None if query.where is None else compiler.condition(obj, query.where)
    order = None if query.order_by is None else compiler.path(obj, query.order_by)

    with org.reading() as tables:
        rows = sorted(tables[obj.name].values(), key=lambda r: str(r["Id"]))
        rows = [row for row in rows if where is None or _matches(where, row, tables)]
        if order is not None:
            kind = order.field.type
            rows.sort(
                key=lambda r: _sort_key(_get(r, order, tables), kind), reverse=query.descending
            )
        if query.limit is not None:
            rows = rows[: query.limit]
        return _records(obj, rows, items, tables, version)


def _records(
    obj: SObject, rows: list[Row], items: list[Path | Child], tables: Tables, version: str
) -> list[tuple[dict[str, Any], int]]:
    """The selected rows as the REST API writes them (new dicts: nothing aliases the org)."""
    wanted = {str(row["Id"]) for row in rows}
    children = {
        item.name: _group(tables, item, wanted) for item in items if isinstance(item, Child)
    }
    results = []
    for row in rows:
        out = _attributes(obj.name, row["Id"], version)
        weight = 1
        for item in items:
            if isinstance(item, Child):
                records = [
                    _record(item.object.name, child, item.paths, tables, version)
                    for child in children[item.name].get(row["Id"], [])
                ]
                weight += len(records)
                out[item.name] = (
                    {"totalSize": len(records), "done": True, "records": records}
                    if records
                    else None
                )
            else:
                _put(out, row, item, tables, version)
        results.append((out, weight))
    return results


def _child(compiler: _Compiler, obj: SObject, sub: SubQuery) -> Child:
    relationship = obj.children.get(sub.relationship.lower())
    target = None if relationship is None else compiler.org.describe(relationship.object)
    if relationship is None or target is None:
        what = _NO_RELATIONSHIP.format(name=sub.relationship, where="FROM part of query call")
        raise located(compiler.text, sub.position, what, "INVALID_TYPE")
    paths = compiler.paths(target, sub.fields)
    where = None if sub.where is None else compiler.condition(target, sub.where)
    return Child(relationship.name, target, relationship.field, paths, where)


def _group(tables: Tables, child: Child, parents: set[str]) -> dict[str, list[Row]]:
    """The child rows of each of `parents` that pass the subquery's filter, in Id order."""
    groups: dict[str, list[Row]] = defaultdict(list)
    for row in tables[child.object.name].values():
        if row[child.field] in parents and (
            child.where is None or _matches(child.where, row, tables)
        ):
            groups[row[child.field]].append(row)
    for rows in groups.values():
        rows.sort(key=lambda r: str(r["Id"]))
    return groups


def _sort_key(value: Any, kind: str) -> tuple[int, Any]:
    """Nulls first (ascending), text without regard to case, ids in key order (0-9, A-Z, a-z)."""
    if value is None:
        return (0, "")
    return (1, value if kind == "id" else _normal(value))
