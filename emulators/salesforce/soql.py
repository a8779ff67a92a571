"""A recursive-descent parser for exactly the SOQL subset the contract names, nothing more.

SELECT fields (dotted parent paths, one level of child subquery) FROM an object, WHERE
comparisons joined by AND or OR (never both without parentheses, as in SOQL), ORDER BY one
field, LIMIT n. Anything else is a MALFORMED_QUERY located by row and column the way Salesforce
reports it, so a client that drifts from the subset fails here rather than against a real org.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any, Literal

_TOKEN = re.compile(
    r"""(?P<space>\s+)
      | (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?(?:Z|[+-]\d{2}:\d{2}))
      | (?P<date>\d{4}-\d{2}-\d{2}(?![\w:]))
      | (?P<number>[+-]?\d+(?:\.\d+)?(?![\w]))
      | (?P<ident>[A-Za-z][A-Za-z0-9_]*)
      | (?P<string>'(?:[^'\\]|\\.)*')
      | (?P<punct>!=|<>|<=|>=|=|<|>|,|\(|\)|\.)""",
    re.VERBOSE | re.DOTALL,
)
_ESCAPES = {"n": "\n", "t": "\t", "b": "\b", "f": "\f", "r": "\r", '"': '"', "'": "'", "\\": "\\"}
_KEYWORDS = {"SELECT", "FROM", "WHERE", "ORDER", "BY", "ASC", "DESC", "LIMIT", "AND", "OR", "IN"}
_KEYWORDS |= {"TRUE", "FALSE", "NULL", "NOT", "LIKE", "GROUP", "HAVING", "OFFSET", "NULLS"}
_OPERATORS = {"=", "!=", "<>", "<", ">", "<=", ">="}

LiteralKind = Literal["string", "boolean", "null", "number", "date", "datetime"]


class SoqlError(Exception):
    """A query Salesforce would refuse: `code` is the errorCode, `message` its message."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def located(text: str, position: int, what: str, code: str = "MALFORMED_QUERY") -> SoqlError:
    """An error at `position` of `text`, worded like Salesforce's: the line, a caret, Row:Column."""
    row = text.count("\n", 0, position) + 1
    line_start = text.rfind("\n", 0, position) + 1
    column = position - line_start + 1
    line = text[line_start:].split("\n", 1)[0]
    return SoqlError(
        code, f"\n{line}\n{' ' * (column - 1)}^\nERROR at Row:{row}:Column:{column}\n{what}"
    )


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    position: int

    def is_keyword(self, word: str) -> bool:
        return self.kind == "ident" and self.text.upper() == word


@dataclass(frozen=True)
class FieldPath:
    names: tuple[str, ...]
    position: int


@dataclass(frozen=True)
class Value:
    kind: LiteralKind
    value: Any
    position: int


@dataclass(frozen=True)
class Comparison:
    field: FieldPath
    operator: str  # one of _OPERATORS, or "IN"
    values: tuple[Value, ...]


@dataclass(frozen=True)
class Junction:
    operator: Literal["AND", "OR"]
    parts: tuple[Condition, ...]


Condition = Comparison | Junction


@dataclass(frozen=True)
class SubQuery:
    fields: tuple[FieldPath, ...]
    relationship: str
    position: int
    where: Condition | None


@dataclass(frozen=True)
class Query:
    text: str
    fields: tuple[FieldPath | SubQuery, ...]
    object: str
    object_position: int
    where: Condition | None
    order_by: FieldPath | None
    descending: bool
    limit: int | None


def parse(text: str) -> Query:
    """The parsed query, or SoqlError(MALFORMED_QUERY) at the first thing outside the subset."""
    return _Parser(text).query()


def _tokens(text: str) -> list[Token]:
    tokens, position = [], 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            what = f"no viable alternative at character '{text[position]}'"
            raise located(text, position, what)
        kind = match.lastgroup or ""
        if kind != "space":
            tokens.append(Token(kind, match.group(), position))
        position = match.end()
    tokens.append(Token("eof", "<EOF>", len(text)))
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokens(text)
        self.index = 0

    @property
    def token(self) -> Token:
        return self.tokens[self.index]

    def unexpected(self) -> SoqlError:
        return located(self.text, self.token.position, f"unexpected token: '{self.token.text}'")

    def advance(self) -> Token:
        token = self.token
        self.index += 1
        return token

    def accept(self, word: str) -> bool:
        if self.token.is_keyword(word) or (self.token.kind == "punct" and self.token.text == word):
            self.index += 1
            return True
        return False

    def expect(self, word: str) -> None:
        if not self.accept(word):
            raise self.unexpected()

    def name(self) -> Token:
        if self.token.kind != "ident" or self.token.text.upper() in _KEYWORDS:
            raise self.unexpected()
        return self.advance()

    def field(self) -> FieldPath:
        first = self.name()
        names = [first.text]
        while self.accept("."):
            names.append(self.name().text)
        return FieldPath(tuple(names), first.position)

    def query(self) -> Query:
        self.expect("SELECT")
        fields: list[FieldPath | SubQuery] = []
        while True:
            fields.append(self.subquery() if self.accept("(") else self.field())
            if not self.accept(","):
                break
        self.expect("FROM")
        obj = self.name()
        where = self.condition() if self.accept("WHERE") else None
        order_by, descending, limit = None, False, None
        if self.accept("ORDER"):
            self.expect("BY")
            order_by = self.field()
            descending = self.accept("DESC")
            if not descending:
                self.accept("ASC")
        if self.accept("LIMIT"):
            if self.token.kind != "number" or not self.token.text.isdigit():
                raise self.unexpected()
            limit = int(self.advance().text)
        if self.token.kind != "eof":
            raise self.unexpected()
        return Query(
            self.text, tuple(fields), obj.text, obj.position, where, order_by, descending, limit
        )

    def subquery(self) -> SubQuery:
        self.expect("SELECT")
        fields = [self.field()]
        while self.accept(","):
            fields.append(self.field())
        self.expect("FROM")
        relationship = self.name()
        where = self.condition() if self.accept("WHERE") else None
        self.expect(")")
        return SubQuery(tuple(fields), relationship.text, relationship.position, where)

    def condition(self) -> Condition:
        parts = [self.atom()]
        operator: Literal["AND", "OR"] | None = None
        while self.token.is_keyword("AND") or self.token.is_keyword("OR"):
            word: Literal["AND", "OR"] = "AND" if self.token.is_keyword("AND") else "OR"
            if operator is not None and word != operator:
                raise self.unexpected()  # SOQL needs parentheses to mix AND and OR
            operator = word
            self.advance()
            parts.append(self.atom())
        return parts[0] if operator is None else Junction(operator, tuple(parts))

    def atom(self) -> Condition:
        if self.accept("("):
            condition = self.condition()
            self.expect(")")
            return condition
        field = self.field()
        if self.accept("IN"):
            self.expect("(")
            values = [self.value()]
            while self.accept(","):
                values.append(self.value())
            self.expect(")")
            return Comparison(field, "IN", tuple(values))
        if self.token.kind == "punct" and self.token.text in _OPERATORS:
            operator = self.advance().text
            return Comparison(field, "!=" if operator == "<>" else operator, (self.value(),))
        raise self.unexpected()

    def value(self) -> Value:
        token = self.token
        word = token.text.upper() if token.kind == "ident" else ""
        if word in ("TRUE", "FALSE"):
            self.advance()
            return Value("boolean", word == "TRUE", token.position)
        if word == "NULL":
            self.advance()
            return Value("null", None, token.position)
        if token.kind == "string":
            self.advance()
            return Value("string", self.unescape(token), token.position)
        if token.kind == "number":
            self.advance()
            number = float(token.text) if "." in token.text else int(token.text)
            return Value("number", number, token.position)
        if token.kind == "date":
            self.advance()
            try:
                return Value("date", dt.date.fromisoformat(token.text), token.position)
            except ValueError:
                raise located(self.text, token.position, f"invalid date: {token.text}") from None
        if token.kind == "datetime":
            self.advance()
            try:
                moment = dt.datetime.fromisoformat(token.text)
            except ValueError:
                raise located(self.text, token.position, f"invalid date: {token.text}") from None
            return Value("datetime", moment, token.position)
        raise self.unexpected()

    def unescape(self, token: Token) -> str:
        body, out, index = token.text[1:-1], [], 0
        while index < len(body):
            char = body[index]
            if char == "\\":
                escaped = body[index + 1]
                if escaped.lower() not in _ESCAPES:
                    what = (
                        f"Invalid string literal '{body}'. Illegal character sequence"
                        f" '\\{escaped}' in string literal."
                    )
                    raise located(self.text, token.position, what)
                out.append(_ESCAPES[escaped.lower()])
                index += 2
            else:
                out.append(char)
                index += 1
        return "".join(out)
