"""The values a YAML scalar may become, and `${NAME}` references expanded in policy strings.

Only YAML's standard scalar tags are accepted: str, int, float, bool, null, and timestamp (a
real date). Anything else (`!!python/...`, `!!binary`, a local `!tag`) or a scalar its tag cannot
hold (`!!bool maybe`, `!!timestamp foo`, `2024-02-30`) is a problem at its line, never an
exception: `ScalarProblem` carries a message that quotes no value, so the same rules serve a
users file, whose values must never reach a log.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

import yaml

_TAG = "tag:yaml.org,2002:"
_CONSTRUCTOR = yaml.SafeLoader("")
"""PyYAML's own scalar constructors, called on one scalar node at a time; never composes."""
_CONSTRUCT: dict[str, Callable[[yaml.ScalarNode], Any]] = {
    f"{_TAG}null": _CONSTRUCTOR.construct_yaml_null,
    f"{_TAG}bool": _CONSTRUCTOR.construct_yaml_bool,
    f"{_TAG}int": _CONSTRUCTOR.construct_yaml_int,
    f"{_TAG}float": _CONSTRUCTOR.construct_yaml_float,
    f"{_TAG}timestamp": _CONSTRUCTOR.construct_yaml_timestamp,
}
_CONSTRUCTOR.dispose()
STR = f"{_TAG}str"
MAP = f"{_TAG}map"
SEQ = f"{_TAG}seq"
MERGE = f"{_TAG}merge"
ACCEPTED = "!!str, !!int, !!float, !!bool, !!null, !!timestamp"
REFERENCE_DEPTH = 8
"""How deeply `${A:-${B:-...}}` defaults may nest."""
_MALFORMED = ("malformed", "references nested")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_WHAT = {
    "bool": "true or false",
    "int": "an integer",
    "float": "a number",
    "null": "null",
    "timestamp": "a real date or time",
}


class ScalarProblem(ValueError):
    """A scalar that cannot be read; the message names no value."""


def shown_tag(tag: str) -> str:
    """tag:yaml.org,2002:binary -> !!binary; kept short, since it is the file's text."""
    short = "!!" + tag.removeprefix(_TAG) if tag.startswith(_TAG) else tag
    return short if len(short) <= 40 else short[:37] + "..."


def construct(tag: str, value: str, *, show_tag: bool) -> Any:
    """The Python value of a scalar whose (resolved) tag is `tag`; ScalarProblem otherwise."""
    if tag == STR:
        return value
    build = _CONSTRUCT.get(tag)
    if build is None:
        named = f" {shown_tag(tag)}" if show_tag else ""
        raise ScalarProblem(f"unsupported tag{named}; only {ACCEPTED} are accepted")
    kind = tag.removeprefix(_TAG)
    try:
        if kind == "bool" and value.lower() not in _CONSTRUCTOR.bool_values:
            raise KeyError(kind)  # PyYAML would raise KeyError quoting the value
        return build(yaml.ScalarNode(tag, value))
    except Exception as error:  # any failure of a PyYAML constructor is the value's
        why = f" ({error})" if kind == "timestamp" and isinstance(error, ValueError) else ""
        form = " (YYYY-MM-DD)" if kind == "timestamp" else ""
        raise ScalarProblem(
            f"not {_WHAT[kind]}{why}; correct it{form}, or quote it to keep it as text"
        ) from None


class References:
    """Expands `${NAME}`, `${NAME:-default}` (defaults may nest) and `$${` in one string."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ

    def expand(self, text: str) -> tuple[str, list[tuple[str, str]], list[str]]:
        """(expanded text, the (variable, value) pairs filled in, problems found)."""
        filled: list[tuple[str, str]] = []
        problems: list[str] = []
        result, _ = self._expand(text, 0, 0, filled, problems, closing=False)
        return result, filled, problems

    def _expand(
        self,
        text: str,
        start: int,
        depth: int,
        filled: list[tuple[str, str]],
        problems: list[str],
        *,
        closing: bool,
    ) -> tuple[str, int]:
        """Expand from `start` to the end, or (`closing`) to the `}` closing a default; returns
        the text and the index after it. Problems are appended; the text then is approximate."""
        out: list[str] = []
        index = start
        while index < len(text):
            char = text[index]
            if closing and char == "}":
                return "".join(out), index + 1
            if text.startswith("$${", index):
                out.append("${")
                index += 3
            elif text.startswith("${", index):
                piece, index = self._reference(text, index, depth, filled, problems)
                out.append(piece)
            else:
                out.append(char)
                index += 1
        if closing:
            problems.append("malformed reference: a ${NAME:-default} is not closed by }")
        return "".join(out), index

    def _reference(
        self,
        text: str,
        start: int,
        depth: int,
        filled: list[tuple[str, str]],
        problems: list[str],
    ) -> tuple[str, int]:
        found = _NAME.match(text, start + 2)
        end = found.end() if found else start + 2
        if found is None or not text.startswith(("}", ":-"), end):
            problems.append("malformed reference: write ${NAME} or ${NAME:-default}")
            return text[start:end], end
        name = found.group(0)
        value = self._environ.get(name)
        if text.startswith("}", end):
            if value is None:
                problems.append(
                    f"environment variable {name} is not set; set it or write ${{{name}:-default}}"
                )
                return text[start : end + 1], end + 1
            filled.append((name, value))
            return value, end + 1
        if depth + 1 >= REFERENCE_DEPTH:
            problems.append(f"references nested more than {REFERENCE_DEPTH} deep; simplify them")
            return "", len(text)
        unused: list[str] = []  # as in the shell, a default that is not used is not expanded
        default, after = self._expand(
            text,
            end + 2,
            depth + 1,
            [] if value else filled,
            unused if value else problems,
            closing=True,
        )
        problems.extend(problem for problem in unused if problem.startswith(_MALFORMED))
        if value:  # as in the shell, `:-` also stands in for an empty value
            filled.append((name, value))
            return value, after
        return default, after
