"""`validate` renders each template for a sample user, to refuse one that writes an object.

`{{ user.UserRole }}` names a field the Source reads, so the field check passes it, yet it
renders a related record, not its name: every account would get Python's description of an
object, rewritten on every cycle. Rendering for a sample user with every field the Source reads,
each of its type (text, a boolean, a list for `PermissionSets`, a related record for
`UserRole.Name`), finds that before any user is touched. Only that mistake, and a template
too costly for any user (`TooCostly`: `ljust(10 ** 9)`), are reported here:
other render failures depend on the data (a field empty for some users) and are per-user
errors at run time. A template that reaches an object only on a branch the sample does not take
is caught at run time, for each user, and never written.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from controller import templates
from controller.sources.base import FROZEN, PERMISSION_SETS
from controller.sources.salesforce import soql

_TYPED: Mapping[str, Any] = {
    "Id": "005000000000001AAA",
    "Username": "sample.user@example.org",
    "Email": "sample.user@example.org",
    "FirstName": "Sample",
    "LastName": "User",
    "IsActive": True,
    FROZEN: False,
    PERMISSION_SETS: ["Sample Set A", "Sample Set B"],
    "ManagerId": "005000000000002AAA",
    "SystemModstamp": "2026-01-01T00:00:00.000+0000",
}
TEXT = "sample"
"""Every other field's value: a custom field's type is known only to the org."""


def _prefixes(name: str) -> set[str]:
    parts = name.split(".")
    return {".".join(parts[:depth]) for depth in range(1, len(parts) + 1)}


def sample_user(extra: Any, used: set[str]) -> dict[str, Any]:
    """A user with every field a Salesforce Source reads (its standard fields and `extra`, the
    raw `salesforce.fields`), plus each field in `used` that none of those covers (a file
    Source's own columns)."""
    sample: dict[str, Any] = {name: _TYPED.get(name, TEXT) for name in soql.USER_FIELDS}
    sample.update({name: _TYPED[name] for name in (FROZEN, PERMISSION_SETS)})
    for name in extra if isinstance(extra, list) else ():
        if isinstance(name, str) and name not in sample:
            sample[name] = TEXT
    parents = {prefix for name in sample for prefix in _prefixes(name) - {name}}
    for name in sorted(used):
        if not _prefixes(name) & sample.keys() and name not in parents:
            sample[name] = TEXT
    return sample


def object_written(text: str, extra: Any) -> str | None:
    """Why the valid template `text` writes an object rather than a value, or None. `extra` is
    the Source's raw `salesforce.fields`, if any."""
    try:
        templates.render(text, sample_user(extra, templates.fields_used(text)))
    except (templates.NotAValue, templates.TooCostly) as error:
        return str(error)
    except templates.TemplateError:
        return None  # depends on the data: a per-user error at run time
    return None
