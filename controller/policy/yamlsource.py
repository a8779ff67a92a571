"""YAML documents that remember where every key came from, read so that no input can crash them.

PyYAML's loaders forget positions, trust tags, expand aliases without bound and recurse on
nesting, so this reads the parser's events (libyaml's when present: fast) and builds plain Python
values itself, iteratively. It records the line of every mapping key and sequence item by its
path (`("spec", "grant", 0, "app")`) so the loader can name the line of any problem pydantic
finds. What it refuses is a problem at its line, never an exception: tags other than the standard
scalar ones, values those tags cannot hold (`2024-02-30`), NUL and other control characters,
bytes that are not UTF-8, nesting deeper than `Limits.max_depth`, and aliases standing for more
values than the limits allow, counted before anything is expanded (aliases share the value
built once). Environment references (`${NAME}`, see `yamlscalars`) are expanded in policy string
values; which variables filled which path is kept, so no message has to show their values.
The users file of a file Source is read by the same code, with `USERS` limits and messages that
never quote the file's text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from controller.policy.yamlbuild import Builder, Limit

Path_ = tuple[str | int, ...]
"""A location inside one document: mapping keys and sequence indexes."""
Parsed = tuple[list["Document"], tuple[int, str] | None]
"""A file's documents, and the (line, message) of an error that cut reading it short."""
MIB = 2**20


@dataclass(frozen=True)
class Limits:
    """What one file may hold; past any of these, reading stops with an error at that line."""

    max_bytes: int
    what: str
    """What the file is, for messages: "a policy file", "a users file"."""
    max_aliases: int
    """Alias uses in one document."""
    max_alias_values: int
    """Values that the aliases of one document stand for, each counted as often as it is used."""
    max_file_alias_values: int
    """The same over a whole file."""
    max_depth: int = 64
    """Nested mappings and sequences: far beyond any policy, far below Python's recursion."""
    line_depth: int | None = None
    """Record the lines of paths at most this long (None: every path)."""
    show_text: bool = True
    """Whether messages may name a tag or anchor from the file (never for a users file)."""


POLICY = Limits(
    max_bytes=8 * MIB,
    what="a policy file",
    max_aliases=1_000,
    max_alias_values=10_000,
    max_file_alias_values=1_000_000,
)
"""A policy file of 8 MiB holds some 40,000 rules; split bigger policies into several files."""
USERS = Limits(
    max_bytes=64 * MIB,
    what="a users file",
    max_aliases=100_000,
    max_alias_values=1_000_000,
    max_file_alias_values=1_000_000,
    line_depth=2,
    show_text=False,
)
"""64 MiB is some 200,000 users with a dozen fields each."""

_NOT_YAML = re.compile("[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
"""Characters YAML does not allow in a stream (PyYAML's and libyaml's rule)."""
_PARSER: type[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass
class Document:
    """One non-empty YAML document of a policy file."""

    data: Any
    lines: dict[Path_, int]
    """1-based line of each key and item; () is the document's first line."""
    from_environ: dict[Path_, list[tuple[str, str]]] = field(default_factory=dict)
    """Per string value, the (variable, value) pairs the environment filled into it."""
    problems: list[tuple[Path_, int, str]] = field(default_factory=list)
    """Problems found while building: bad tags and values, unset variables, duplicate keys."""

    def get(self, path: Path_) -> Any:
        """The value at `path`, or None where the document does not have it."""
        value = self.data
        for part in path:
            if isinstance(part, int) and isinstance(value, list) and part < len(value):
                value = value[part]
            elif isinstance(part, str) and isinstance(value, dict):
                value = value.get(part)
            else:
                return None
        return value

    def line(self, path: Path_) -> int:
        """The line of the deepest part of `path` that exists in the document."""
        for end in range(len(path), 0, -1):
            if path[:end] in self.lines:
                return self.lines[path[:end]]
        return self.lines.get((), 1)

    def redact(self, path: Path_, message: str) -> str:
        """`message` with any environment value at or under `path` replaced by its `${NAME}`."""
        for where, pairs in self.from_environ.items():
            if where[: len(path)] == path or path[: len(where)] == where:
                for name, value in pairs:
                    if value:
                        message = message.replace(value, "${" + name + "}")
        return message


def read_file(
    path: Path,
    environ: Mapping[str, str] | None,
    limits: Limits = POLICY,
    *,
    max_documents: tuple[int, str] | None = None,
) -> Parsed:
    """The documents of one YAML file; see `read_documents`. Never raises."""
    try:
        with path.open("rb") as stream:
            content = stream.read(limits.max_bytes + 1)
    except OSError as error:
        return [], (0, f"cannot be read: {error.strerror or type(error).__name__}")
    if len(content) > limits.max_bytes:
        mib = limits.max_bytes // MIB
        return [], (0, f"larger than the {mib} MiB {limits.what} may be; split it into several")
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as error:
        line = content[: error.start].count(b"\n") + 1
        return [], (line, "not UTF-8 text: save the file as UTF-8")
    return read_documents(text, environ, limits, max_documents=max_documents)


def read_documents(
    text: str,
    environ: Mapping[str, str] | None,
    limits: Limits = POLICY,
    *,
    max_documents: tuple[int, str] | None = None,
) -> Parsed:
    """The non-empty documents of `text`, and the (line, message) of an error cutting it short.

    Documents before a syntax error are returned, so their own problems are still reported.
    `environ` None expands no references (data). `max_documents` is (how many, message).
    """
    bad = _NOT_YAML.search(text)
    if bad is not None:
        line = text.count("\n", 0, bad.start()) + 1
        code = f"U+{ord(bad.group()):04X}"
        kind = "a NUL byte" if code == "U+0000" else f"control character {code}"
        return [], (line, f"{kind} is not allowed in YAML; remove it")
    parser = _PARSER(text)
    builder = Builder(parser, environ, limits, Document)
    try:
        builder.read(max_documents)
    except Limit as limit:
        return builder.documents, (limit.line, limit.message)
    except yaml.MarkedYAMLError as error:
        return builder.documents, _syntax_error(error, text)
    except yaml.YAMLError as error:  # a ReaderError: a character the parser refused
        position = getattr(error, "position", 0)
        line = text.count("\n", 0, position) + 1 if isinstance(position, int) else 1
        return builder.documents, (line, "invalid YAML: a character YAML does not allow")
    finally:
        parser.dispose()
    return builder.documents, None


def _syntax_error(error: yaml.MarkedYAMLError, text: str) -> tuple[int, str]:
    """(line, message) naming the column and the kind of problem, never the text at fault."""
    mark = error.problem_mark or error.context_mark
    line = mark.line + 1 if mark is not None else 1
    column = f" at column {mark.column + 1}" if mark is not None else ""
    detail = "; ".join(str(part) for part in (error.context, error.problem) if part)
    if "maximum nesting depth" in detail:  # libyaml's own limit, met while scanning ahead
        return line, f"nested deeper than {POLICY.max_depth} levels; flatten this structure"
    message = f"invalid YAML: {detail}{column}"
    marks = [m.line for m in (error.context_mark, error.problem_mark) if m is not None]
    lines = text.splitlines()
    if "flow" in detail and any(0 <= n < len(lines) and "${" in lines[n] for n in marks):
        message += '; a ${...} reference inside [...] or {...} must be quoted: "${NAME}"'
    return line, message


def dotted(path: Path_) -> str:
    """("spec", "grant", 0, "app") -> spec.grant[0].app; keys with dots are quoted."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        elif "." in part or not part:
            text += f"[{part!r}]"
        else:
            text += f".{part}" if text else part
    return text
