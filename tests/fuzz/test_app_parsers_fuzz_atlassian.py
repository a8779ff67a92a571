"""Fuzzing the Atlassian adapter's response parsing: a valid observation or a clear error.

Atlassian's directory speaks SCIM with its own user extension, pages of at most 100 and no
sort, and looks users up by externalId and userName only. `tests.fuzz.app_bodies` says what
is served and the property held; `PARSER_CASES` cases a run, each within `bounded`'s ceilings.
"""

from __future__ import annotations

import asyncio

from hypothesis import given
from hypothesis import strategies as st

from reconcilers.atlassian import AtlassianReconciler
from tests.fuzz import scim_bodies
from tests.fuzz.app_bodies import LOOKUPS, Server, exercise
from tests.fuzz.bounds import PARSER_CASES, bounded, fuzz

EXTENSION = "urn:ietf:params:scim:schemas:extension:atlassian-external:2.0:User"
ROUTES = scim_bodies.routes(EXTENSION)


@fuzz(PARSER_CASES)
@given(data=st.data(), lookup=LOOKUPS)
def test_atlassian_responses_give_an_observation_or_a_clear_error(
    data: st.DataObject, lookup: tuple[str, str]
) -> None:
    server = Server(data, ROUTES, scim_bodies.route)
    reconciler = AtlassianReconciler(scim_bodies.connection(), client=scim_bodies.client(server))
    case = exercise(reconciler, lookup, scim_bodies.OPERATIONS)
    with bounded("Atlassian observe, lookup and writes"):
        asyncio.run(case)
