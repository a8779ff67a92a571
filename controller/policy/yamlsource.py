"""YAML documents that remember where every key came from, with `${NAME}` references expanded.

PyYAML's constructors forget positions, so this composes the node tree and builds plain Python
values itself, recording the line of every mapping key and sequence item by its path
(`("spec", "grant", 0, "app")`). The loader then names the line of any problem pydantic finds.
Environment references are expanded in string values here, before validation; which variables
filled which path is kept, so that no message ever has to show a value taken from the environment.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

Path_ = tuple[str | int, ...]
"""A location inside one document: mapping keys and sequence indexes."""
Parsed = tuple[list["Document"], tuple[int, str] | None]
"""A file's documents, and the (line, message) of an error that cut reading it short."""

_REFERENCE = re.compile(
    r"\$\$\{|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>[^}]*))?\}|\$\{"
)
_MERGE = "tag:yaml.org,2002:merge"
_STR = "tag:yaml.org,2002:str"


@dataclass
class Document:
    """One non-empty YAML document of a policy file."""

    data: Any
    lines: dict[Path_, int]
    """1-based line of each key and item; () is the document's first line."""
    from_environ: dict[Path_, list[tuple[str, str]]] = field(default_factory=dict)
    """Per string value, the (variable, value) pairs the environment filled into it."""
    problems: list[tuple[Path_, int, str]] = field(default_factory=list)
    """Problems found while building: unset variables, duplicate keys, odd YAML."""

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
        return self.lines[()]

    def redact(self, path: Path_, message: str) -> str:
        """`message` with any environment value at or under `path` replaced by its `${NAME}`."""
        for where, pairs in self.from_environ.items():
            if where[: len(path)] == path or path[: len(where)] == where:
                for name, value in pairs:
                    if value:
                        message = message.replace(value, "${" + name + "}")
        return message


class _Builder:
    """Builds one document's values from its node tree, recording lines as it goes."""

    def __init__(self, loader: yaml.SafeLoader, environ: Mapping[str, str], root: yaml.Node):
        self._loader = loader
        self._environ = environ
        self._active: set[int] = set()
        self.document = Document(data=None, lines={(): root.start_mark.line + 1})

    def build(self, node: yaml.Node, path: Path_) -> Any:
        if id(node) in self._active:
            self._problem(path, node, "an alias refers to a node that contains it")
            return None
        self._active.add(id(node))
        try:
            if isinstance(node, yaml.MappingNode):
                return self._mapping(node, path)
            if isinstance(node, yaml.SequenceNode):
                return self._sequence(node, path)
            return self._scalar(node, path)
        finally:
            self._active.discard(id(node))

    def _mapping(self, node: yaml.MappingNode, path: Path_) -> dict[str, Any]:
        own = sum(1 for key, _ in node.value if key.tag != _MERGE)
        self._loader.flatten_mapping(node)  # `<<: *anchor` pairs come first, own keys last
        merged = len(node.value) - own
        result: dict[str, Any] = {}
        own_lines: dict[str, int] = {}
        for position, (key_node, value_node) in enumerate(node.value):
            if not isinstance(key_node, yaml.ScalarNode):
                self._problem(path, key_node, "a key must be a plain string")
                continue
            key = str(key_node.value)
            line = key_node.start_mark.line + 1
            if position >= merged:
                if key in own_lines:
                    message = f"duplicate key {key!r} (first given on line {own_lines[key]})"
                    self._problem((*path, key), key_node, message)
                    continue
                own_lines[key] = line
            self.document.lines[(*path, key)] = line
            result[key] = self.build(value_node, (*path, key))
        return result

    def _sequence(self, node: yaml.SequenceNode, path: Path_) -> list[Any]:
        items = []
        for index, item in enumerate(node.value):
            self.document.lines[(*path, index)] = item.start_mark.line + 1
            items.append(self.build(item, (*path, index)))
        return items

    def _scalar(self, node: yaml.Node, path: Path_) -> Any:
        value = self._loader.construct_object(node)
        if node.tag != _STR or "$" not in value:
            return value
        filled: list[tuple[str, str]] = []

        def expand(found: re.Match[str]) -> str:
            if found.group(0) == "$${":
                return "${"
            name = found["name"]
            if name is None:
                self._problem(path, node, "malformed reference: write ${NAME} or ${NAME:-default}")
                return found.group(0)
            default = found["default"]
            if name in self._environ and (self._environ[name] or default is None):
                filled.append((name, self._environ[name]))
                return self._environ[name]
            if default is not None:  # as in the shell, `:-` also stands in for an empty value
                return str(default)
            self._problem(
                path,
                node,
                f"environment variable {name} is not set; set it or write ${{{name}:-default}}",
            )
            return found.group(0)

        expanded = _REFERENCE.sub(expand, value)
        if filled:
            self.document.from_environ[path] = filled
        return expanded

    def _problem(self, path: Path_, node: yaml.Node, message: str) -> None:
        self.document.problems.append((path, node.start_mark.line + 1, message))


def read_file(path: Path, environ: Mapping[str, str]) -> Parsed:
    """The documents of one YAML file; see `read_documents`."""
    content = path.read_bytes()
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as error:
        return [], (content[: error.start].count(b"\n") + 1, "not UTF-8 text")
    return read_documents(text, environ)


def read_documents(text: str, environ: Mapping[str, str]) -> Parsed:
    """The non-empty documents of `text`, and the (line, message) of an error cutting it short.

    Documents before a syntax error are returned, so their own problems are still reported.
    """
    loader = yaml.SafeLoader(text)
    documents: list[Document] = []
    try:
        while loader.check_node():
            root = loader.get_node()
            if root is None:
                continue
            builder = _Builder(loader, environ, root)
            builder.document.data = builder.build(root, ())
            if builder.document.data is not None or builder.document.problems:
                documents.append(builder.document)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark is not None else 1
        detail = "; ".join(part for part in (error.context, error.problem) if part)
        return documents, (line, f"invalid YAML: {detail}")
    finally:
        loader.dispose()
    return documents, None


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
