"""Fuzzing the Slack adapter's response parsing: a valid observation or a clear error.

Slack speaks SCIM as `application/json`, one write per object at a time, with its profile
extension on every user and `""` for an absent externalId. `tests.fuzz.app_bodies` says what
is served and the property held; `PARSER_CASES` cases a run, each within `bounded`'s ceilings.
"""

from __future__ import annotations

import asyncio

from hypothesis import given
from hypothesis import strategies as st

from reconcilers.slack import MEDIA_TYPE, SlackReconciler
from tests.fuzz import scim_bodies
from tests.fuzz.app_bodies import LOOKUPS, Server, exercise
from tests.fuzz.bounds import PARSER_CASES, bounded, fuzz

EXTENSION = "urn:ietf:params:scim:schemas:extension:slack:profile:2.0:User"
ROUTES = scim_bodies.routes(EXTENSION)


@fuzz(PARSER_CASES)
@given(data=st.data(), lookup=LOOKUPS)
def test_slack_responses_give_an_observation_or_a_clear_error(
    data: st.DataObject, lookup: tuple[str, str]
) -> None:
    server = Server(data, ROUTES, scim_bodies.route)
    client = scim_bodies.client(server, media_type=MEDIA_TYPE, one_write_per_object=True)
    reconciler = SlackReconciler(scim_bodies.connection(), client=client)
    case = exercise(reconciler, lookup, scim_bodies.OPERATIONS)
    with bounded("Slack observe, lookup and writes"):
        asyncio.run(case)
