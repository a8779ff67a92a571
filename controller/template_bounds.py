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

from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

MAX_ARGUMENT = 10_000
"""The largest whole number a call or filter takes (a width, a count): `ljust(10 ** 9)`."""
MAX_POWER_BITS = 4_096
"""The longest whole number `**` may make, in bits: `((2 ** 64) ** 64) ** 64` is 262,144."""
MAX_REPEATED = 10_000
"""The longest text or list `*` may make: `user.Email * 10 ** 8` would take 100 MB per user."""
MAX_TEXT = 64 * 1024
"""The longest text `replace` may make, and the most a template may write: a value, not a book."""
MAX_STEPS = 10_000
"""The most steps all of a template's `range`s may take together."""

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
    for value in (*args, *kwargs.values()):
        _check_int(value)
    name = getattr(obj, "__name__", None)
    owner = getattr(getattr(obj, "__wrapped__", obj), "__self__", None)
    if isinstance(owner, str) and name in ("format", "format_map"):
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
        return func(*args, **kwargs)

    return bounded


_steps = threading.local()


def start() -> None:
    """Give the template about to render on this thread its own `MAX_STEPS`."""
    _steps.left = MAX_STEPS


def bounded_range(*args: int) -> Iterator[int]:
    """`range`, its steps counted against this render's `MAX_STEPS`."""
    for value in range(*args):
        _steps.left = getattr(_steps, "left", MAX_STEPS) - 1
        if _steps.left < 0:
            raise Refused(f"loops of more than {MAX_STEPS:,} steps are refused")
        yield value


class BoundedEnvironment(ImmutableSandboxedEnvironment):
    """The sandbox, with calls, filters, `range`, `*`, `**` and `%` bounded."""

    intercepted_binops = frozenset({"*", "**", "%"})

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.globals["range"] = bounded_range
        self.filters = {name: _bounded_filter(name, f) for name, f in self.filters.items()}

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        _check_call(__obj, args, kwargs)
        return super().call(__context, __obj, *args, **kwargs)

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**":
            _check_power(left, right)
        if operator == "*":
            for repeated, times in ((left, right), (right, left)):
                sized = isinstance(repeated, str | list | tuple) and isinstance(times, int)
                if sized and len(repeated) * times > MAX_REPEATED:
                    raise Refused(f"`*` making more than {MAX_REPEATED:,} is refused")
        if operator == "%" and isinstance(left, str):
            check_percent(left)
        return super().call_binop(context, operator, left, right)
