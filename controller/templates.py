"""Attribute templates: Jinja2 expressions that turn a source user into an app attribute value.

A ConnectedApp maps each app attribute to a template over `user`, the source user's fields by
Salesforce name (`"{{ user.Email | lower }}"`, `"{{ user.Profile.Name }}"`). Templates come from
policy in git, so they run sandboxed (no attribute access beyond the fields), strictly (a missing
field is an error, never a silently empty value) and without HTML escaping. Error messages name
fields, never their values: those are personal data.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import jinja2
from jinja2 import meta, nodes
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from controller import template_fastpath as fastpath
from controller.errors import ProvisionerError

USER = "user"
"""The one variable a template sees."""


class TemplateError(ProvisionerError):
    """A template could not be rendered for one user; the message names fields, not values."""


class _Fields:
    """One level of the `user` object: fields by name, its dotted prefix, which were empty.

    Not a dict, so that no method (`items`, `keys`) can shadow a field of the same name: Jinja
    looks attributes up first, finds none here, and falls back to `__getitem__`.
    """

    __slots__ = ("_empty", "_prefix", "_values")

    def __init__(self, prefix: str) -> None:
        self._prefix = prefix
        self._values: dict[str, Any] = {}
        self._empty: set[str] = set()

    def __getitem__(self, name: str) -> Any:
        return self._values[name]


class _Undefined(jinja2.StrictUndefined):
    """StrictUndefined whose message says which source field is missing or empty."""

    @property
    def _undefined_message(self) -> str:
        owner = self._undefined_obj
        if self._undefined_hint is None and isinstance(owner, _Fields):
            name = f"{owner._prefix}{self._undefined_name}"
            if self._undefined_name in owner._empty:
                return f"field {name} has no value"
            return f"the source user has no field {name}"
        return str(super()._undefined_message)


_ENVIRONMENT = ImmutableSandboxedEnvironment(undefined=_Undefined, autoescape=False)


@functools.lru_cache(maxsize=1024)
def _compile(text: str) -> jinja2.Template:
    return _ENVIRONMENT.from_string(text)


def check(text: str) -> str | None:
    """Why `text` is not a usable template (syntax, unknown filter, unknown variable), or None."""
    try:
        _compile(text)
        names = meta.find_undeclared_variables(_ENVIRONMENT.parse(text))
    except jinja2.TemplateSyntaxError as error:
        return f"template syntax error: {error.message or error}"
    except (ValueError, OverflowError, RecursionError):  # a 5,000-digit number, deep nesting
        return "template cannot be read: a number too long or nesting too deep; simplify it"
    unknown = sorted(names - {USER})
    if unknown:
        return f"unknown template variable {', '.join(unknown)}; templates can use only `user`"
    return None


def fields_used(text: str) -> set[str]:
    """The source fields a valid template reads, dotted: `{{ user.Profile.Name }}` -> Profile.Name.

    A method call on a field (`user.Email.split("@")`) names the field and then the method; the
    caller treats any known prefix as known.
    """
    found: set[str] = set()

    def chain(node: nodes.Node) -> list[str] | None:
        if isinstance(node, nodes.Name):
            return [] if node.name == USER else None
        if isinstance(node, nodes.Getattr):
            inner = chain(node.node)
            return None if inner is None else [*inner, node.attr]
        if isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
            inner = chain(node.node)
            key = node.arg.value
            return None if inner is None or not isinstance(key, str) else [*inner, key]
        return None

    def visit(node: nodes.Node) -> None:
        path = chain(node)
        if path:
            found.add(".".join(path))
            return  # the longest chain only, not each of its prefixes
        for child in node.iter_child_nodes():
            visit(child)

    visit(_ENVIRONMENT.parse(text))
    return found


def _nest(fields: Mapping[str, Any]) -> _Fields:
    """{"Profile.Name": "x"} -> {"Profile": {"Name": "x"}}; None values count as missing."""
    root = _Fields("")
    for dotted, value in fields.items():
        *parents, leaf = dotted.split(".")
        level = root
        for part in parents:
            child = level._values.get(part)
            if not isinstance(child, _Fields):
                child = _Fields(f"{level._prefix}{part}.")
                level._values[part] = child
                level._empty.discard(part)
            level = child
        if isinstance(level._values.get(leaf), _Fields):
            continue  # a relationship's own fields beat a flat value of the same name
        if value is None:
            level._empty.add(leaf)
        else:
            level._values[leaf] = value
    return root


def render(text: str, fields: Mapping[str, Any]) -> str:
    """The template rendered for one user's fields, stripped; `TemplateError` if it cannot be."""
    return Renderer(fields).render(text)


class Renderer:
    """One user's templates: each text rendered once however many apps use it, by plain
    lookups when it only places fields (`template_fastpath`), else by Jinja over the fields
    nested once."""

    def __init__(self, fields: Mapping[str, Any]) -> None:
        self._fields = fields
        self._nested: _Fields | None = None
        self._parents: frozenset[str] | None = None
        self._done: dict[str, str | TemplateError] = {}

    def render(self, text: str) -> str:
        if text not in self._done:
            try:
                self._done[text] = self._render(text)
            except TemplateError as error:
                self._done[text] = error
        done = self._done[text]
        if isinstance(done, TemplateError):
            raise done
        return done

    def _render(self, text: str) -> str:
        try:
            template = _compile(text)
        except jinja2.TemplateSyntaxError as error:
            raise TemplateError(f"template syntax error: {error.message or error}") from None
        pieces = fastpath.compile_simple(text, _ENVIRONMENT)
        if pieces is not None:
            if self._parents is None:
                self._parents = fastpath.parents(self._fields)
            try:
                return fastpath.render_simple(pieces, self._fields, self._parents).strip()
            except fastpath.MissingField as error:
                raise TemplateError(str(error)) from None
            except fastpath.NotSimple:
                pass
        if self._nested is None:
            self._nested = _nest(self._fields)
        try:
            return template.render({USER: self._nested}).strip()
        except (jinja2.UndefinedError, SecurityError) as error:
            raise TemplateError(error.message or type(error).__name__) from None
        except Exception as error:
            # Other failures (a filter given the wrong type, say) may quote the value.
            raise TemplateError(f"template failed ({type(error).__name__})") from None
