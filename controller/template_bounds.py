"""The template sandbox, bounded in time and memory: templates come from policy, run per user.

A template builds one attribute value, so nothing in it needs a large number, a long text or
many loop steps. Jinja's sandbox stops attribute escapes, not blow-ups: `user.Email.ljust(10 **
9)` takes a gigabyte, `(2 ** 64) ** 64 ...` seconds and hundreds of megabytes, two nested
`range(20000)` loops most of a minute. `validate`, and every policy load under `run` (a thread
holding the policy lock), renders each template once, so each must end quickly whatever it says.
Refusals raise `Refused`, whose message names the rule, never a value.
"""

from __future__ import annotations

import functools
import re
import string
import threading
from collections.abc import Callable, Iterator
from typing import Any

from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.exceptions import SecurityError
from jinja2.runtime import Macro
from jinja2.sandbox import ImmutableSandboxedEnvironment

MAX_ARGUMENT = 10_000
"""The largest whole number a call or filter takes (a width, a count): `ljust(10 ** 9)`."""
MAX_POWER_BITS = 4_096
"""The longest whole number `**` or `*` may make, in bits: `((2 ** 64) ** 64) ** 64` is 262,144."""
MAX_REPEATED = 10_000
"""The longest text or list `*` may make: `user.Email * 10 ** 8` would take 100 MB per user."""
MAX_TEXT = 64 * 1024
"""The most characters any step (a call, filter, operator, `~`) makes, or a template writes."""
MAX_STEPS = 10_000
"""The most loop steps and calls a template may take in all: nested loops multiply."""

_FORMAT_NUMBERS = re.compile(r"\d+")
_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?([-#0 +*\d.]*)")


class Refused(SecurityError):
    """The template would take too much time or memory; the message names the rule."""


def _check_int(value: Any) -> None:
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_ARGUMENT:
        raise Refused(f"a number above {MAX_ARGUMENT:,} as a width or count is refused")


def _check_power(base: Any, exponent: Any) -> None:
    if isinstance(exponent, int | float) and abs(exponent) > 64:
        raise Refused("an exponent above 64 is refused")
    whole = isinstance(base, int) and isinstance(exponent, int) and exponent > 0
    if whole and abs(base).bit_length() * exponent > MAX_POWER_BITS:
        raise Refused(f"`**` making more than {MAX_POWER_BITS:,} bits is refused")


def _weight(value: Any, limit: int) -> int:
    """Characters in `value`, a text or (nested) list of them, each other item one; counted
    only until past `limit`, so a list of one long text repeated is never walked in full."""
    weight, stack = 0, [value]
    while stack and weight <= limit:
        item = stack.pop()
        if isinstance(item, str):
            weight += len(item)
        elif isinstance(item, list | tuple):
            weight += 1
            stack.extend(item[: limit + 1])
        else:
            weight += 1
    return weight


def _check_product(left: Any, right: Any) -> None:
    if isinstance(left, int) and isinstance(right, int):
        if abs(left).bit_length() + abs(right).bit_length() > MAX_POWER_BITS:
            raise Refused(f"`*` making more than {MAX_POWER_BITS:,} bits is refused")
        return
    for repeated, times in ((left, right), (right, left)):
        sized = isinstance(repeated, str | list | tuple) and isinstance(times, int)
        if sized and _weight(repeated, MAX_REPEATED) * times > MAX_REPEATED:
            raise Refused(f"`*` making more than {MAX_REPEATED:,} is refused")


def _check_size(value: Any) -> Any:
    """`value`, unless it is a text or list of more than `MAX_TEXT` characters."""
    if isinstance(value, str | list | tuple) and _weight(value, MAX_TEXT) > MAX_TEXT:
        raise Refused(f"making a text or list of more than {MAX_TEXT:,} characters is refused")
    return value


def _check_spec(spec: str) -> None:
    """A format spec (`>10`, `08.2`): no nested field, no star, no width above the bound."""
    if "{" in spec or "*" in spec:
        raise Refused("a width or precision given as an argument is refused")
    for digits in _FORMAT_NUMBERS.findall(spec):
        if len(digits.lstrip("0")) > len(str(MAX_ARGUMENT)) or int(digits) > MAX_ARGUMENT:
            raise Refused(f"a width or precision above {MAX_ARGUMENT:,} is refused")


def check_format(text: str) -> None:
    """`text` as a `str.format` string: each field's width and precision bounded."""
    try:
        fields = list(string.Formatter().parse(text))
    except ValueError:
        return  # Python refuses it too, when called
    for _, _, spec, _ in fields:
        _check_spec(spec or "")


def check_percent(text: str) -> None:
    """`text` as a `%` format string: each conversion's width and precision bounded."""
    for spec in _PERCENT_SPEC.findall(text):
        _check_spec(spec)


def _check_replace(text: Any, old: Any, new: Any) -> None:
    if isinstance(text, str) and isinstance(old, str) and isinstance(new, str):
        made = len(text) + (text.count(old) if old else len(text) + 1) * len(new)
        if made > MAX_TEXT:
            raise Refused(f"`replace` making more than {MAX_TEXT:,} characters is refused")


def _check_call(obj: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    step(MACRO_STEPS if isinstance(obj, Macro) else 1)
    name = getattr(obj, "__name__", None)
    owner = getattr(getattr(obj, "__wrapped__", obj), "__self__", None)
    formats = isinstance(owner, str) and name in ("format", "format_map")
    for value in (*args, *kwargs.values()):
        if not formats:  # a number formatted is a value; its widths are in the format string
            _check_int(value)
        _check_size(value)
    if formats and isinstance(owner, str):
        check_format(owner)
    if isinstance(owner, str) and name == "replace" and len(args) >= 2:
        _check_replace(owner, args[0], args[1])


def _bounded_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    """`func` refusing a large width or count, and a `format`/`replace` making too much."""
    skip = 2 if hasattr(func, "jinja_pass_arg") else 1  # (context,) value, then arguments

    @functools.wraps(func)
    def bounded(*args: Any, **kwargs: Any) -> Any:
        value, rest = args[skip - 1 : skip], args[skip:]
        for argument in (*rest, *kwargs.values()):
            _check_int(argument)
        if name == "format" and value and isinstance(value[0], str):
            check_percent(value[0])
        if name == "replace" and value and len(rest) >= 2:
            _check_replace(str(value[0]), rest[0], rest[1])
        return _check_size(func(*args, **kwargs))

    return bounded


_steps = threading.local()


def start() -> None:
    """Give the template about to render on this thread its own `MAX_STEPS`."""
    _steps.left = MAX_STEPS


MACRO_STEPS = 20
"""What a macro call costs in steps: it makes a context and renders a body."""


def step(cost: int = 1) -> None:
    """Count one loop step or call against this render's `MAX_STEPS`."""
    _steps.left = getattr(_steps, "left", MAX_STEPS) - cost
    if _steps.left < 0:
        raise Refused(f"more than {MAX_STEPS:,} loop steps and calls are refused")


def counted(iterable: Any) -> Iterator[Any]:
    """`iterable`, each step counted: what every `{% for %}` loops over."""
    for value in iterable:
        step()
        yield value


def bounded_range(*args: int) -> Iterator[int]:
    """`range`, its steps counted (`range(10000) | sum` in a loop is a loop too)."""
    return counted(range(*args))


class _Generator(CodeGenerator):
    """Jinja's compiler, counting every loop's steps and bounding every `~` it makes."""

    def visit_For(self, node: nodes.For, frame: Frame) -> None:
        if not node.recursive:
            counter = nodes.EnvironmentAttribute("counted", lineno=node.lineno)
            node.iter = nodes.Call(counter, [node.iter], [], None, None, lineno=node.lineno)
        super().visit_For(node, frame)

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.check_size(")
        super().visit_Concat(node, frame)
        self.write(")")


class BoundedEnvironment(ImmutableSandboxedEnvironment):
    """The sandbox, with calls, filters, `range`, `*`, `**` and `%` bounded."""

    intercepted_binops = frozenset({"*", "**", "%", "+"})
    code_generator_class = _Generator
    counted = staticmethod(counted)
    check_size = staticmethod(_check_size)

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.globals["range"] = bounded_range
        self.filters = {name: _bounded_filter(name, f) for name, f in self.filters.items()}

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        _check_call(__obj, args, kwargs)
        return _check_size(super().call(__context, __obj, *args, **kwargs))

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**":
            _check_power(left, right)
        if operator == "*":
            _check_product(left, right)
        if operator == "%" and isinstance(left, str):
            check_percent(left)
        return _check_size(super().call_binop(context, operator, left, right))
