"""PURE: which users Search Users (`GET /api/v2/users/search`) finds, for a query it is given.

Zendesk's endpoint takes either `query`, in Zendesk's search syntax, or `external_id`, which
"does not support the search syntax; it only accepts ids" (Search Users in the Users API
reference). The syntax is terms separated by spaces, each a bare word or `keyword:value`, a
value in double quotes when it holds spaces, and a user must match every term. The emulator
knows the user keywords a provisioning client needs: `email:` (one of the user's email
identities, whole and ignoring case), `external_id:`, `role:` and `name:` (part of the name),
and bare words, found in the name or an email. A keyword it does not know matches no user, so
a client relying on one sees nothing rather than everything. No query at all finds no user.

What the emulator leaves out: Zendesk indexes users for search, and "it can take up to a few
minutes for new tickets, users, and other resources to be indexed" (Search API reference); the
emulator finds a user the moment it is written. It searches live users only, as List Users
lists them (soft-deleted ones are read through /deleted_users); the reference does not say
whether Zendesk's search returns deleted users. Results are offset-paged (`page`, `per_page`
up to 100, at most 10,000 records): "offset pagination only".
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from emulators.zendesk.users import User

_TERM = re.compile(r'(?:(\w+):)?(?:"([^"]*)"|(\S+))')


@dataclass(frozen=True)
class Term:
    keyword: str | None
    """None for a bare word."""
    value: str


def parse(query: str) -> list[Term]:
    """The terms of a query, each value lower-cased (Zendesk's search ignores case)."""
    return [
        Term(match[1].lower() if match[1] else None, (match[2] or match[3] or "").lower())
        for match in _TERM.finditer(query)
    ]


def _matches(user: User, term: Term) -> bool:
    emails = [identity.value for identity in user.identities]  # stored lower-cased
    external_id = (user.external_id or "").lower()
    if term.keyword == "email":
        return term.value in emails
    if term.keyword == "external_id":
        return bool(external_id) and external_id == term.value
    if term.keyword == "role":
        return user.role == term.value
    if term.keyword == "name":
        return term.value in user.name.lower()
    if term.keyword is None:
        return term.value in user.name.lower() or any(term.value in e for e in emails)
    return False


def finder(query: str | None, external_id: str | None) -> Callable[[User], bool]:
    """Whether a user is found by the request's `query`, or else by its `external_id`."""
    if query is not None:
        terms = parse(query)
        return lambda user: bool(terms) and all(_matches(user, term) for term in terms)
    if external_id:
        return lambda user: _matches(user, Term("external_id", external_id.lower()))
    return lambda _: False
