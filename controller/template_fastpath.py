"""Templates that only place fields, rendered without Jinja: the common case, 30 times cheaper.

Nearly every attribute template is literal text around `{{ user.Field }}`, perhaps with
`| lower`, `| upper` or `| trim`. Rendering one through Jinja costs a context, a sandbox lookup
and a nested copy of the user's fields, which at 100,000 users and several apps dominated a
whole plan (bench/RESULTS.md). Such a template is compiled here into a list of pieces and
rendered by plain lookups, with the same result and the same error messages as Jinja's path;
anything else (conditionals, other filters, arguments) returns None and goes through Jinja.
It also says which field values are text (`as_text`): both paths write a value, or a list of
values joined by `;` as a users file writes it, and nothing else.
"""

from __future__ import annotations

import datetime
import functools
from collections.abc import Callable, Mapping
from typing import Any

from jinja2 import nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment

FILTERS: dict[str, Callable[[str], str]] = {
    "lower": str.lower,
    "upper": str.upper,
    "trim": str.strip,
}
Piece = tuple[str, str | None, tuple[str, ...]]
"""(literal text, a dotted field or None, the filters applied to it in order)."""
SCALARS = (str, int, float, datetime.date, type(None))
"""What a template may write as it is (bool is an int; a datetime a date)."""
LISTS = (list, tuple, set, frozenset)
SEPARATOR = ";"
"""Between a list's values (`PermissionSets`), as a CSV users file writes them: a list from
Salesforce and the same cell from a file render alike."""


def listed(value: Any) -> list[Any] | None:
    """A list of values in the order they are written (a set's sorted); None if it is none."""
    if not isinstance(value, LISTS) or not all(isinstance(item, SCALARS) for item in value):
        return None
    return sorted(value, key=str) if isinstance(value, set | frozenset) else list(value)


def joined(value: Any) -> str | None:
    """A list of values as one text, `;`-separated; None for anything else."""
    items = listed(value)
    return None if items is None else SEPARATOR.join(str(item) for item in items)


class MissingField(Exception):
    """The message names the field, as the Jinja path's StrictUndefined does."""


class NotSimple(Exception):
    """The field is a relationship (`user.Profile`) or another object, not a value: Jinja
    renders it, and says what is wrong."""


def _field(node: nodes.Node) -> str | None:
    parts: list[str] = []
    while isinstance(node, nodes.Getattr):
        parts.append(node.attr)
        node = node.node
    if any(part.startswith("_") for part in parts):
        return None  # the sandbox's business: Jinja refuses these
    if isinstance(node, nodes.Name) and node.name == "user" and parts:
        return ".".join(reversed(parts))
    return None


def _piece(node: nodes.Node) -> Piece | None:
    if isinstance(node, nodes.TemplateData):
        return node.data, None, ()
    filters: list[str] = []
    while isinstance(node, nodes.Filter):
        if node.name not in FILTERS or node.args or node.kwargs or node.dyn_args or node.dyn_kwargs:
            return None
        filters.append(node.name)
        node = node.node  # type: ignore[assignment]
    field = _field(node)
    return None if field is None else ("", field, tuple(reversed(filters)))


@functools.lru_cache(maxsize=1024)
def compile_simple(
    text: str, environment: ImmutableSandboxedEnvironment
) -> tuple[Piece, ...] | None:
    """The pieces of `text` when it only places fields; None when Jinja must render it."""
    body = environment.parse(text).body
    if not all(isinstance(node, nodes.Output) for node in body):
        return None
    pieces: list[Piece] = []
    for output in body:
        for node in output.nodes:  # type: ignore[attr-defined]
            piece = _piece(node)
            if piece is None:
                return None
            pieces.append(piece)
    return tuple(pieces)


def parents(fields: Mapping[str, Any]) -> frozenset[str]:
    """Every relationship in `fields` ("Profile" for "Profile.Name"): computed once per user."""
    found: set[str] = set()
    for name in fields:
        parts = name.split(".")
        found.update(".".join(parts[:depth]) for depth in range(1, len(parts)))
    return frozenset(found)


def _lookup(fields: Mapping[str, Any], relationships: frozenset[str], field: str) -> Any:
    if field in relationships:
        raise NotSimple(field)
    if field in fields:
        value = fields[field]
        if value is None:
            raise MissingField(f"field {field} has no value")
        return value
    parts = field.split(".")
    for depth in range(1, len(parts)):  # the first level that is missing, as Jinja would say
        prefix = ".".join(parts[:depth])
        if prefix in fields and fields[prefix] is None:
            raise MissingField(f"field {prefix} has no value")
        if prefix in fields:
            raise NotSimple(field)  # an attribute of a value (`user.Email.lower`): for Jinja
        if prefix not in relationships:
            raise MissingField(f"the source user has no field {prefix}")
    raise MissingField(f"the source user has no field {field}")


def render_simple(
    pieces: tuple[Piece, ...], fields: Mapping[str, Any], relationships: frozenset[str]
) -> str:
    """`pieces` filled in from `fields`; `relationships` is `parents(fields)`."""
    out: list[str] = []
    for literal, field, filters in pieces:
        if field is None:
            out.append(literal)
            continue
        value = as_text(_lookup(fields, relationships, field), field)
        for name in filters:
            value = FILTERS[name](value)
        out.append(value)
    return "".join(out)


def as_text(value: Any, field: str) -> str:
    """A field's value as the text a template writes; NotSimple when it is no value."""
    if isinstance(value, SCALARS):
        return str(value)
    text = joined(value)
    if text is None:
        raise NotSimple(field)
    return text
