"""The list filters the emulator understands: one `eq` on one attribute, nothing more.

Slack marks its filter documentation "not applicable to SCIM v2.0" (reference B1 "Filters"),
and identity providers send `userName eq "..."` in practice. So: `<attribute> eq "<JSON
string>"`, attribute names and the operator case-insensitive, on userName, externalId and
emails (or emails.value) for users and displayName for groups. Anything else is a 400
`invalid_filter`, which a client must be ready for.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from emulators.slack.errors import invalid

_EQ = re.compile(r"\s*([A-Za-z][\w.]*)\s+eq\s+(\".*\")\s*", re.IGNORECASE | re.DOTALL)

USER_ATTRIBUTES = {
    "username": "userName",
    "externalid": "externalId",
    "emails": "emails",
    "emails.value": "emails",
}
GROUP_ATTRIBUTES = {"displayname": "displayName"}


@dataclass(frozen=True)
class Equals:
    attribute: str
    """The canonical attribute name (`emails` for both email spellings)."""
    value: str


def parse(text: str | None, attributes: dict[str, str]) -> Equals | None:
    """The filter in `text` (None when there is none), or a 400 `invalid_filter`."""
    if text is None or not text.strip():
        return None
    match = _EQ.fullmatch(text)
    if match is None or match[1].lower() not in attributes:
        raise invalid("invalid_filter")
    try:
        value = json.loads(match[2])
    except ValueError:
        raise invalid("invalid_filter") from None
    if not isinstance(value, str):
        raise invalid("invalid_filter")
    return Equals(attributes[match[1].lower()], value)
