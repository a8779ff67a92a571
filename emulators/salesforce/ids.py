"""Salesforce record ids: 15-character keys, their 18-character checksummed form, and prefixes.

The API returns 18-character ids and accepts either form; a client that compares ids as
case-sensitive 15-character strings, or that mixes the forms, goes wrong only against ids
shaped like the real ones. Every id the emulator makes comes from here, deterministically
(from a name or a seeded random source), so runs repeat.
"""

from __future__ import annotations

import hashlib
import random
import string

USER = "005"
PROFILE = "00e"
USER_ROLE = "00E"
PERMISSION_SET = "0PS"
PERMISSION_SET_ASSIGNMENT = "0Pa"
ORG = "00D"
USER_LOGIN = "060"
QUERY_LOCATOR = "01g"

POD = "Hs"
"""The two characters after the key prefix: the pod (instance) the record was created on."""

_CHECKSUM_ALPHABET = string.ascii_uppercase + "012345"
_BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase


def checksum(id15: str) -> str:
    """The 3-character suffix: one character per 5-character chunk, bit i set when char i is A-Z."""
    suffix = ""
    for start in (0, 5, 10):
        bits = sum(1 << i for i, char in enumerate(id15[start : start + 5]) if char.isupper())
        suffix += _CHECKSUM_ALPHABET[bits]
    return suffix


def to_18(record_id: str) -> str:
    """The 18-character form of a 15- or 18-character id; ValueError for anything else."""
    if len(record_id) == 18 and record_id.isalnum():
        # Salesforce re-derives the case from the checksum; ids that do not match are invalid.
        if checksum(record_id[:15]) != record_id[15:].upper():
            raise ValueError(f"invalid ID: {record_id}")
        return record_id[:15] + record_id[15:].upper()
    if len(record_id) == 15 and record_id.isalnum():
        return record_id + checksum(record_id)
    raise ValueError(f"invalid ID: {record_id}")


def is_valid(record_id: str) -> bool:
    """True for an 18-character id whose suffix is the checksum of its first 15 characters."""
    return (
        len(record_id) == 18 and record_id.isalnum() and checksum(record_id[:15]) == record_id[15:]
    )


def _build(prefix: str, body: str) -> str:
    id15 = (prefix + POD + "0000" + body)[:15]
    return id15 + checksum(id15)


def from_name(prefix: str, *parts: str) -> str:
    """A stable id for a record known by name (a profile, a role): the same name, the same id."""
    digest = hashlib.sha256("\x1f".join((prefix, *parts)).encode()).digest()
    body = "".join(_BASE62[byte % 62] for byte in digest[:6])
    return _build(prefix, body)


def from_random(prefix: str, rng: random.Random) -> str:
    """A fresh id drawn from `rng` (seeded by the caller, so runs repeat)."""
    return _build(prefix, "".join(rng.choice(_BASE62) for _ in range(6)))
