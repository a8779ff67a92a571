"""Attribute templates: Jinja2 expressions that turn a source user into an app attribute value.

A ConnectedApp maps each app attribute to a template over `user`, the source user's fields by
Salesforce name (`"{{ user.Email | lower }}"`, `"{{ user.Profile.Name }}"`). Templates come from
policy in git, so they run sandboxed (no attribute access beyond the fields), strictly (a missing
field is an error, never a silently empty value) and without HTML escaping. Error messages name
fields, never their values: those are personal data.

A template writes a value: text, a number, a date, or a list of values joined by `;`. One that
would write an object (`{{ user.UserRole }}`, a related record, rather than its `.Name`) fails
with `NotAValue`, for that user at run time and at its line in `validate`: Python's description
of an object is no one's title, and its address would rewrite every account on every cycle.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any

import jinja2
from jinja2 import meta, nodes
from jinja2.exceptions import SecurityError

from controller import template_bounds as bounds
from controller import template_fastpath as fastpath
from controller.errors import ProvisionerError

USER = "user"
"""The one variable a template sees."""


class TemplateError(ProvisionerError):
    """A template could not be rendered for one user; the message names fields, not values."""


class NotAValue(TemplateError):
    """The template would write an object (a related record, a method), not a value."""


class TooCostly(TemplateError):
    """The template would take too much time or memory (`template_bounds`), whatever the user."""


_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+>")
"""How Python describes an object that has no text of its own: never a value to write."""


def _not_a_value(name: str, fields: _Fields | None = None) -> NotAValue:
    if fields is not None:
        known = sorted(fields._values) or sorted(fields._empty)
        child = "Name" if "Name" in known else (known[0] if known else "Name")
        instead = f"{name}.{child}" if name else "user.Email"
        what = f"{name} is a related record" if name else "user is the whole user"
        return NotAValue(f"{what}, not a value; write {{{{ {instead} }}}} instead")
    return NotAValue(f"{name} holds no text, number, date or list of them: it cannot be written")


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

    def _refuse(self, *_: Any) -> str:
        raise _not_a_value(f"user.{self._prefix[:-1]}" if self._prefix else "", self)

    __str__ = __repr__ = __format__ = _refuse


class _Names(list[Any]):
    """A list field (`PermissionSets`): its values when iterated or joined, `a;b` as text."""

    def __str__(self) -> str:
        return fastpath.joined(self) or ""


class _Opaque:
    """A field whose value is neither a value nor a list of them: any use of it as text fails."""

    __slots__ = ("_name",)

    def __init__(self, name: str) -> None:
        self._name = name

    def _refuse(self, *_: Any) -> str:
        raise _not_a_value(f"user.{self._name}")

    __str__ = __repr__ = __format__ = _refuse


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


def _finalize(value: Any) -> Any:
    """What each `{{ }}` writes: a value as it is, a list joined, anything else refused."""
    if isinstance(value, _Fields | _Opaque):
        value._refuse()
    if isinstance(value, (*fastpath.SCALARS, jinja2.Undefined)):
        return value
    text = fastpath.joined(value)
    if text is None and callable(value):
        raise NotAValue("the template writes a method, not a value; call it, with ()")
    if text is None:
        raise NotAValue(f"the template writes a {type(value).__name__}, not a value")
    return text


_ENVIRONMENT = bounds.BoundedEnvironment(undefined=_Undefined, autoescape=False, finalize=_finalize)


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
        elif isinstance(value, fastpath.SCALARS):
            level._values[leaf] = value
        elif (items := fastpath.listed(value)) is not None:
            level._values[leaf] = _Names(items)
        else:
            level._values[leaf] = _Opaque(dotted)
    return root


def render(text: str, fields: Mapping[str, Any]) -> str:
    """The template rendered for one user's fields, stripped; `TemplateError` if it cannot be."""
    return Renderer(fields).render(text)


def _bounded_render(template: jinja2.Template, nested: _Fields) -> str:
    """`template` rendered, stopped once it has written more than `MAX_TEXT`."""
    bounds.start()
    pieces: list[str] = []
    size = 0
    for piece in template.generate({USER: nested}):
        size += len(piece)
        if size > bounds.MAX_TEXT:
            raise bounds.Refused(f"writing more than {bounds.MAX_TEXT:,} characters is refused")
        pieces.append(piece)
    return "".join(pieces)


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
            text = _bounded_render(template, self._nested).strip()
        except NotAValue:
            raise
        except bounds.Refused as error:
            raise TooCostly(f"{error.message}; simplify the template") from None
        except (jinja2.UndefinedError, SecurityError) as error:
            raise TemplateError(error.message or type(error).__name__) from None
        except Exception as error:
            # Other failures (a filter given the wrong type, say) may quote the value.
            raise TemplateError(f"template failed ({type(error).__name__})") from None
        if _ADDRESS.search(text):  # an object made text some other way (`| string`)
            raise NotAValue("the template writes an object's description, not a value")
        return text
