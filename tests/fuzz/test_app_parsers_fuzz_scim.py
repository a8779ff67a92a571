"""Fuzzing the plain SCIM adapter's response parsing: a valid observation or a clear error.

See `tests.fuzz.app_bodies` for what is served and the property held; `PARSER_CASES` cases
a run, each within `bounded`'s time and memory ceiling.
"""

from __future__ import annotations

import asyncio

from hypothesis import given
from hypothesis import strategies as st

from reconcilers.scim import ScimReconciler
from tests.fuzz import scim_bodies
from tests.fuzz.app_bodies import LOOKUPS, Server, exercise
from tests.fuzz.bounds import PARSER_CASES, bounded, fuzz

EXTENSION = "urn:example:params:scim:schemas:extension:vendor:2.0:User"
ROUTES = scim_bodies.routes(EXTENSION)


@fuzz(PARSER_CASES)
@given(data=st.data(), lookup=LOOKUPS)
def test_scim_responses_give_an_observation_or_a_clear_error(
    data: st.DataObject, lookup: tuple[str, str]
) -> None:
    server = Server(data, ROUTES, scim_bodies.route)
    connection = scim_bodies.connection()
    reconciler = ScimReconciler(connection, client=scim_bodies.client(server))
    case = exercise(reconciler, lookup, scim_bodies.OPERATIONS)
    with bounded("SCIM observe, lookup and writes"):
        asyncio.run(case)
