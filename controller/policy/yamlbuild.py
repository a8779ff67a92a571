"""Builds plain Python values from a YAML parser's events, without recursion and within limits.

`yamlsource` explains why; this is the machinery. Each open mapping or sequence is a `_Frame` on
an explicit stack (its depth is checked as it grows), each anchor keeps the value built once and
how many values it stands for, and an alias adds that count to the document's budget before
the shared value is used: an alias bomb is refused after a few dozen events, whatever it would
expand to.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import yaml

from controller.policy.yamlscalars import (
    MAP,
    MERGE,
    SEQ,
    STR,
    References,
    ScalarProblem,
    construct,
    shown_tag,
)

if TYPE_CHECKING:
    from controller.policy.yamlsource import Document, Limits, Path_

_EXPECT_KEY: Any = object()
_SKIP: Any = object()
"""The key of a pair that was refused: its value is read and dropped."""
_MERGE_KEY: Any = object()
_ITEM: Any = object()
"""The `key` of a sequence."""
_ESCAPED_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
"""What a double-quoted scalar's escapes (`"\\0"`, `"\\x1b"`) can make but a stream may not
hold: a NUL would reach the OS in a path (`open` refuses it with a ValueError)."""


class Limit(Exception):
    """A limit was passed at `line`: reading the file stops there."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


class _Frame:
    """An open mapping or sequence (a plain class: one is made per collection read)."""

    __slots__ = (
        "anchor",
        "environ_mark",
        "is_key",
        "is_map",
        "key",
        "line",
        "merge_line",
        "merges",
        "nodes",
        "path",
        "value",
    )

    def __init__(
        self, path: Path_, line: int, anchor: str | None, *, is_map: bool, is_key: bool, mark: int
    ) -> None:
        self.path = path
        self.line = line
        self.value: Any = {} if is_map else []
        self.anchor = anchor
        self.is_map = is_map
        self.is_key = is_key
        self.environ_mark = mark
        self.nodes = 1
        self.key: Any = _EXPECT_KEY if is_map else _ITEM
        self.merges: list[dict[str, Any]] = []
        self.merge_line = 0


@dataclass(slots=True)
class _Anchored:
    value: Any
    nodes: int
    raw: str | None
    """The text of a scalar, for use as a key."""
    environ: list[tuple[Path_, list[tuple[str, str]]]]
    """Environment values filled in under the anchor, by path relative to it."""


class Builder:
    """Reads every document of one parser into `documents`; raises `Limit` or YAMLError."""

    def __init__(
        self,
        parser: Any,
        environ: Mapping[str, str] | None,
        limits: Limits,
        document: Callable[..., Document],
    ) -> None:
        self._parser = parser
        self._references = References(environ) if environ is not None else None
        self._limits = limits
        self._new_document = document
        self._file_alias_values = 0
        self._resolved: dict[tuple[str, tuple[bool, bool]], str] = {}
        self._special = frozenset(getattr(parser, "yaml_implicit_resolvers", {None: ()}))
        """First characters of a plain scalar that may be other than a string (`1`, `true`)."""
        self.documents: list[Document] = []
        self._start_document()

    def read(self, max_documents: tuple[int, str] | None) -> None:
        parser = self._parser
        while parser.check_event():
            event = parser.get_event()
            if isinstance(event, yaml.DocumentStartEvent):
                self._start_document()
                document = self._read_document(parser.peek_event().start_mark.line + 1)
                if document.data is not None or document.problems:
                    self.documents.append(document)
                    if max_documents is not None and len(self.documents) > max_documents[0]:
                        raise Limit(document.lines.get((), 1), max_documents[1])

    def _start_document(self) -> None:
        self._document = self._new_document(data=None, lines={})
        self._anchors: dict[str, _Anchored] = {}
        self._environ_log: list[tuple[Path_, list[tuple[str, str]]]] = []
        self._aliases = 0
        self._alias_values = 0
        self._stack: list[_Frame] = []

    def _read_document(self, start_line: int) -> Document:  # noqa: PLR0912, PLR0915 - the hot loop
        """Builds one document. The common events are handled inline: 10,000 rules in under 2 s."""
        stack = self._stack
        get_event = self._parser.get_event
        lines = self._document.lines
        lines[()] = start_line
        depth = self._limits.line_depth or 1_000_000
        expand = self._references is not None
        special = self._special
        scalar_event = yaml.ScalarEvent
        while True:
            event = get_event()
            kind = type(event)
            line = event.start_mark.line + 1
            if kind is scalar_event and stack and event.anchor is None and event.tag is None:
                # The common case, inline: a plain or quoted scalar as a key, a value or an item.
                top = stack[-1]
                text = event.value
                if top.key is _EXPECT_KEY:
                    if text != "<<" and text not in top.value:
                        top.value[text] = None
                        top.key = text
                        if len(top.path) < depth:
                            lines[(*top.path, text)] = line
                        continue
                elif top.key is not _SKIP and top.key is not _MERGE_KEY:
                    is_str = not event.implicit[0] or (text and text[0] not in special)
                    escaped = event.style == '"' and _ESCAPED_CONTROL.search(text)
                    if is_str and not (expand and "$" in text) and not escaped:
                        top.nodes += 1
                        if top.is_map:
                            top.value[top.key] = text
                            top.key = _EXPECT_KEY
                        else:
                            if len(top.path) < depth:
                                lines[(*top.path, len(top.value))] = line
                            top.value.append(text)
                        continue
            if kind is yaml.DocumentEndEvent:
                return self._document
            if kind is yaml.MappingEndEvent or kind is yaml.SequenceEndEvent:
                done = stack.pop()
                if stack and not (done.merges or done.is_key) and done.anchor is None:
                    top = stack[-1]  # the common case, inline: see `_close` and `_deliver`
                    top.nodes += done.nodes
                    if not top.is_map:
                        top.value.append(done.value)
                        continue
                    if top.key is not _SKIP and top.key is not _MERGE_KEY:
                        top.value[top.key] = done.value
                        top.key = _EXPECT_KEY
                        continue
                    stack[-1].nodes -= done.nodes
                self._close(done)
                continue
            path, is_key = self._child(line)
            if kind is scalar_event:
                self._scalar(event, path, is_key, line)
            elif kind is yaml.AliasEvent:
                self._alias(event.anchor, path, is_key, line)
            else:
                if len(stack) >= self._limits.max_depth:
                    most = self._limits.max_depth
                    raise Limit(line, f"nested deeper than {most} levels; flatten this structure")
                is_map = kind is yaml.MappingStartEvent
                if event.tag not in (None, "!", MAP if is_map else SEQ):
                    self._unsupported(path, line, event.tag)
                mark = len(self._environ_log)
                stack.append(
                    _Frame(path, line, event.anchor, is_map=is_map, is_key=is_key, mark=mark)
                )

    def _child(self, line: int) -> tuple[Path_, bool]:
        """The path of the node starting at `line`, and whether it is a mapping key."""
        if not self._stack:
            return (), False
        top = self._stack[-1]
        if not top.is_map:
            path = (*top.path, len(top.value))
            self._line(path, line)
            return path, False
        if top.key is _EXPECT_KEY:
            return top.path, True
        if top.key is _SKIP or top.key is _MERGE_KEY:
            return top.path, False
        return (*top.path, top.key), False

    def _scalar(self, event: yaml.ScalarEvent, path: Path_, is_key: bool, line: int) -> None:
        text = event.value
        tag = event.tag
        if is_key:
            merge = text == "<<" and tag is None and self._resolve(text, event.implicit) == MERGE
            if event.anchor is not None:
                self._anchors[event.anchor] = _Anchored(text, 1, text, [])
            self._key(_MERGE_KEY if merge else text, line)
            return
        if event.style == '"' and (bad := _ESCAPED_CONTROL.search(text)) is not None:
            code = f"U+{ord(bad.group()):04X}"
            self._problem(path, line, f"an escaped control character ({code}); remove it")
            if event.anchor is not None:
                self._anchors[event.anchor] = _Anchored(None, 1, "", [])
            self._deliver(None, 1, line)
            return
        if tag is None or tag == "!":
            tag = self._resolve(text, event.implicit)
        value: Any = text
        mark = len(self._environ_log)
        if tag != STR:
            try:
                value = construct(tag, text, show_tag=self._limits.show_text)
            except ScalarProblem as problem:
                value = None
                self._problem(path, line, str(problem))
        if tag == STR and self._references is not None and "$" in text:
            value, filled, problems = self._references.expand(text)
            for problem_text in problems:
                self._problem(path, line, problem_text)
            if filled:
                self._document.from_environ[path] = filled
                self._environ_log.append((path, filled))
        if event.anchor is not None:
            self._anchors[event.anchor] = _Anchored(value, 1, text, self._relative(path, mark))
        self._deliver(value, 1, line)

    def _resolve(self, text: str, implicit: tuple[bool, bool]) -> str:
        """The tag of an untagged scalar; most recur (keys, kinds, booleans), so it is cached."""
        cache = self._resolved
        tag = cache.get((text, implicit))
        if tag is None:
            tag = self._parser.resolve(yaml.ScalarNode, text, implicit)
            if len(text) <= 64 and len(cache) < 10_000:
                cache[(text, implicit)] = tag
        return str(tag)

    def _alias(self, anchor: str, path: Path_, is_key: bool, line: int) -> None:
        anchored = self._anchors.get(anchor)
        if anchored is None:
            open_ = any(frame.anchor == anchor for frame in self._stack)
            named = f" *{anchor}" if self._limits.show_text else ""
            why = "refers to a node that contains it" if open_ else "names no anchor above it"
            self._problem(path, line, f"the alias{named} {why}")
            if is_key:
                self._key(_SKIP, line)
            else:
                self._deliver(None, 1, line)
            return
        self._count(anchored.nodes, line)
        if is_key:
            if anchored.raw is None:
                self._problem(path, line, "a key must be a plain string")
            self._key(_SKIP if anchored.raw is None else anchored.raw, line)
            return
        for relative, filled in anchored.environ:
            self._document.from_environ[(*path, *relative)] = filled
            self._environ_log.append(((*path, *relative), filled))
        self._deliver(anchored.value, anchored.nodes, line)

    def _count(self, nodes: int, line: int) -> None:
        limits = self._limits
        self._aliases += 1
        self._alias_values += nodes
        self._file_alias_values += nodes
        if self._aliases > limits.max_aliases:
            raise Limit(
                line,
                f"more than {limits.max_aliases} aliases in one document; write the values out",
            )
        if self._alias_values > limits.max_alias_values:
            raise Limit(
                line,
                f"aliases here stand for more than {limits.max_alias_values} "
                "values in one document (an alias bomb?); write the values out",
            )
        if self._file_alias_values > limits.max_file_alias_values:
            raise Limit(
                line,
                f"aliases stand for more than {limits.max_file_alias_values} "
                "values in this file; write the values out",
            )

    def _close(self, frame: _Frame) -> None:
        value = frame.value
        if frame.merges:
            merged: dict[str, Any] = {}
            for source in reversed(frame.merges):  # the first mapping merged wins
                merged.update(source)
            for key in merged:
                if key not in value:
                    self._line((*frame.path, key), frame.merge_line)
            merged.update(value)
            value = merged
        if frame.anchor is not None:
            self._anchors[frame.anchor] = _Anchored(
                value, frame.nodes, None, self._relative(frame.path, frame.environ_mark)
            )
        if frame.is_key:
            self._problem(frame.path, frame.line, "a key must be a plain string")
            self._stack[-1].nodes += frame.nodes
            self._key(_SKIP, frame.line)
            return
        self._deliver(value, frame.nodes, frame.line)

    def _relative(self, path: Path_, mark: int) -> list[tuple[Path_, list[tuple[str, str]]]]:
        size = len(path)
        return [(where[size:], filled) for where, filled in self._environ_log[mark:]]

    def _key(self, key: Any, line: int) -> None:
        frame = self._stack[-1]
        if key is _MERGE_KEY:
            frame.merge_line = line
        elif key is not _SKIP:
            if key in frame.value:
                first = self._document.lines.get((*frame.path, key))
                since = f" (first given on line {first})" if first else ""
                self._problem((*frame.path, key), line, f"duplicate key {key!r}{since}")
                key = _SKIP
            else:
                frame.value[key] = None  # holds its place, and shows a duplicate
                self._line((*frame.path, key), line)
        frame.key = key

    def _deliver(self, value: Any, nodes: int, line: int) -> None:
        """A finished value goes to the open mapping or sequence, or is the document."""
        if not self._stack:
            self._document.data = value
            return
        top = self._stack[-1]
        top.nodes += nodes
        if not top.is_map:
            top.value.append(value)
            return
        if top.key is _MERGE_KEY:
            sources = value if isinstance(value, list) else [value]
            if all(isinstance(source, dict) for source in sources):
                top.merges.extend(sources)
            else:
                self._problem(top.path, line, "<< takes a mapping, or a list of mappings")
        elif top.key is not _SKIP:
            top.value[top.key] = value
        top.key = _EXPECT_KEY

    def _line(self, path: Path_, line: int) -> None:
        depth = self._limits.line_depth
        if line and (depth is None or len(path) <= depth):
            self._document.lines[path] = line

    def _unsupported(self, path: Path_, line: int, tag: str) -> None:
        named = f" {shown_tag(tag)}" if self._limits.show_text else ""
        self._problem(path, line, f"unsupported tag{named} on a mapping or sequence")

    def _problem(self, path: Path_, line: int, message: str) -> None:
        self._document.problems.append((path, line, message))
