"""What the parser fuzz tests serve the app adapters, and the property every adapter must hold.

Each app's fuzz test drives the real reconciler (observe, a lookup, a write or two) against an
in-process `httpx.MockTransport` that answers every request with a drawn response: a body of the
right shape with wrong types, missing keys, huge or odd values, unicode and nulls, numbers as
strings, impossible totals and paging that never ends, or plain junk bytes; a drawn status
(429 and 5xx are retried, so paging and retries are exercised too) and odd headers. The
subject is the parsing, so a real server, at a second a case, would buy nothing here.

The property (`exercise`): `observe` returns an `ObservedApp` whose accounts and groups the
planner can use, or one with its `error` said; a lookup returns accounts or raises one of
`controller.errors`; `apply` returns `Applied` or raises one of them. Anything else (a
TypeError, a KeyError, a RecursionError...) is a failure no adapter mapped, which the engine
could only report as "observing failed: TypeError ..." (`controller.alone`): a bug. No
message may carry the app's token. Paging that never ends must stop at `MAX_PAGES`, and each
case must stay within `bounds.bounded`'s time and memory ceilings.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from hypothesis import strategies as st

from controller import errors, plan
from controller.model import AppName, ObservedAccount, ObservedApp
from controller.operations import Applied, Operation
from reconcilers.base import LOOKUP_ATTRIBUTES
from reconcilers.http import RetryPolicy
from tests.fakes import desired_account, desired_app

APP = AppName("fuzzed")
TOKEN = "fuzz-token-9f3c1d"
ECHO = "$TOKEN"
"""A body holding this gets the request's Authorization header in its place: a server that
echoes what it was sent must not get the token into a message."""
PAGE_SIZE = 2
MAX_PAGES = 6
NO_WAIT = RetryPolicy(attempts=2, max_wait_seconds=10.0, rate_limited_attempts=2)


async def no_sleep(seconds: float) -> None:
    """Retries and back-offs cost nothing here: what is measured is the parsing."""


# --- values -------------------------------------------------------------------------------

ODD_VALUES: list[Any] = [
    None,
    True,
    False,
    0,
    -1,
    2**64,
    -(2**63),
    1.5,
    float("inf"),
    "",
    " ",
    "0",
    "-1",
    "true",
    "null",
    "99999999999999999999999",
    "José Müller",
    "😀",
    "a\x00b",
    "\ud800",
    "\u202e",
    '"',
    "\\",
    "x" * 70_000,
    ECHO,
    "u1",
    [],
    {},
    [[[]]],
    {"value": None},
]
"""The values a fuzzed field is set to: wrong types, odd numbers, odd and huge text."""
TEXT = st.one_of(
    st.text(max_size=12), st.sampled_from([v for v in ODD_VALUES if isinstance(v, str)])
)
SCALAR = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), TEXT)
VALUE = st.one_of(st.sampled_from(ODD_VALUES), SCALAR)


def _places(value: Any, found: list[tuple[Any, Any]]) -> None:
    """Every (container, key) in `value`, depth first."""
    items = value.items() if isinstance(value, dict) else enumerate(value)
    for key, inner in list(items):
        found.append((value, key))
        if isinstance(inner, dict | list):
            _places(inner, found)


def _mutate(value: Any, mutations: list[tuple[int, str, Any]]) -> Any:
    """`value` (a fresh copy of a valid body) with each mutation done at its drawn place."""
    for where, how, new in mutations:
        places: list[tuple[Any, Any]] = []
        if isinstance(value, dict | list):
            _places(value, places)
        if not places:
            return new if how == "replace" else value
        container, key = places[where % len(places)]
        if how == "replace":
            container[key] = new
        elif how == "delete":
            del container[key]
        elif how == "stringify":
            container[key] = json.dumps(container[key])[:100]
        elif how == "duplicate" and isinstance(container, list):
            container.append(json.loads(json.dumps(container[key])))
        elif how == "wrap":
            container[key] = [container[key]]
    return value


MUTATIONS = st.lists(
    st.tuples(
        st.integers(0, 200),
        st.sampled_from(["replace", "replace", "delete", "stringify", "duplicate", "wrap"]),
        VALUE,
    ),
    min_size=1,
    max_size=3,
)


def mutated(valid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """A valid body, or one with a few of its fields replaced, deleted, turned into strings,
    repeated or wrapped: the right shape gone wrong in a few places."""
    return st.builds(_mutate, valid, MUTATIONS)


# --- responses ----------------------------------------------------------------------------

NASTY_BODIES = [
    b"",
    b"   ",
    b"[" * 50_000,
    b'{"a":' * 2_000 + b"1" + b"}" * 2_000,
    b"1" * 5_000,
    b"\xef\xbb\xbf{}",
    b"\xff\xfe{\x00}\x00",
    b"NaN",
    b"null",
    b'{"Resources": [',
    b"<html><body>502 Bad Gateway</body></html>",
    b'{"totalResults": 1e999}',
]
RAW = st.one_of(st.binary(max_size=64), st.sampled_from(NASTY_BODIES))
STATUS = st.one_of(
    st.just(200),
    st.sampled_from([200, 201, 204, 301, 400, 401, 403, 404, 409, 422, 429, 500, 501, 503, 599]),
)
HEADERS = st.fixed_dictionaries(
    {},
    optional={
        "Retry-After": st.sampled_from(["0", "1", "-1", "1e9", "nan", "inf", "Wed, 21 Oct 2015"]),
        "Content-Encoding": st.sampled_from(["gzip", "deflate", "br", "identity", "x-unknown"]),
        "Content-Type": st.sampled_from(["application/json", "text/html", "application/scim+json"]),
    },
)


@dataclass(frozen=True)
class Answer:
    status: int
    headers: Mapping[str, str]
    body: bytes


def dump(value: Any) -> bytes:
    return json.dumps(value).encode()


def answers(
    ok_body: st.SearchStrategy[Any], error_body: st.SearchStrategy[Any]
) -> st.SearchStrategy[list[Answer]]:
    """One route's answers, served in turn and then again from the first (so a page that
    says more follow is followed by itself: paging that loops). Most are valid, so that a
    case often gets past every other request to the one answer that is not."""
    valid = st.builds(Answer, st.just(200), st.just({}), ok_body.map(dump))
    broken = st.builds(Answer, st.just(200), st.just({}), mutated(ok_body).map(dump))
    raw = st.builds(Answer, st.just(200), st.just({}), RAW)
    failed = st.builds(
        Answer, STATUS, HEADERS, st.one_of(mutated(error_body).map(dump), VALUE.map(dump), RAW)
    )
    answer = st.one_of(*[valid] * 6, broken, broken, raw, failed)
    return st.lists(answer, min_size=1, max_size=2)


class Server:
    """Answers each request with the next of its route's drawn answers; 404 for any other.

    Every route's answers are drawn up front, outside `bounded`: tracemalloc, which measures
    the case's memory, would otherwise trace hypothesis too and triple the run's time.
    """

    def __init__(
        self,
        data: st.DataObject,
        routes: Mapping[str, st.SearchStrategy[list[Answer]]],
        route: Callable[[httpx.Request], str],
    ) -> None:
        self.route = route
        self.drawn = {key: data.draw(answers, label=key) for key, answers in routes.items()}
        self.served: Counter[str] = Counter()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        key = self.route(request)
        found = self.drawn.get(key)
        if not found:
            return httpx.Response(404, json={"detail": "no such route"})
        answer = found[self.served[key] % len(found)]
        self.served[key] += 1
        body = answer.body.replace(ECHO.encode(), request.headers.get("Authorization", "").encode())
        return httpx.Response(answer.status, headers=dict(answer.headers), content=body)


# --- the property -------------------------------------------------------------------------


def said(error: str | BaseException) -> str:
    """A failure's message, checked: not empty, and without the token."""
    message = str(error)
    assert message, f"an error without a message: {error!r}"
    assert TOKEN not in message, "the token got into an error message"
    return message


def check_account(account: ObservedAccount) -> None:
    assert isinstance(account.id, str) and account.id
    assert isinstance(account.user_name, str) and account.user_name
    assert isinstance(account.active, bool)
    assert account.external_id is None or (
        isinstance(account.external_id, str) and account.external_id
    )
    for name, value in account.attributes.items():
        assert isinstance(name, str)
        assert value is None or isinstance(value, str | bool | int | float), (name, value)


def check_observed(seen: ObservedApp) -> None:
    """An observation the planner can use, or a failed one that says why."""
    assert isinstance(seen, ObservedApp)
    if seen.error is not None:
        said(seen.error)
        assert not seen.accounts and not seen.groups
        return
    for account in seen.accounts:
        check_account(account)
    assert len({a.id for a in seen.accounts}) == len(seen.accounts), "an account listed twice"
    for group in seen.groups:
        assert isinstance(group.id, str) and group.id
        assert isinstance(group.name, str)
        assert all(isinstance(member, str) and member for member in group.members)
    assert len({g.id for g in seen.groups}) == len(seen.groups), "a group listed twice"
    # and the planner takes it: any shape the adapter let through must be plannable
    wanted = desired_app(
        desired_account("005A", "u1", groups=frozenset({"u1"})),
        desired_account("005B", "someone@example.com", active=False),
    )
    plan.compute(wanted, seen, match=["externalId", "userName", "email"])


LOOKUPS = st.tuples(st.sampled_from(LOOKUP_ATTRIBUTES), st.one_of(TEXT, st.just("u1")))


async def exercise(
    reconciler: Any, lookup: tuple[str, str], operations: list[Operation]
) -> ObservedApp:
    """Observe, look up and write through `reconciler`; every outcome must be a clear one."""
    try:
        seen = await reconciler.observe()
        check_observed(seen)
        try:
            found = await reconciler.accounts_where(*lookup)
        except errors.AppError as error:
            said(error)
        else:
            assert isinstance(found, tuple)
            for account in found:
                check_account(account)
        for operation in operations:
            try:
                applied = await reconciler.apply(operation)
            except errors.AppError as error:
                said(error)
            else:
                assert isinstance(applied, Applied)
        return seen
    finally:
        await reconciler.aclose()
