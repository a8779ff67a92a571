"""What a change check costs in Salesforce API calls, counted by the source and by the org.

Against the running emulator, which bills every authenticated call under /services/data/ to the
org's daily allowance and reports it in `Sforce-Limit-Info`; the OAuth token request is not
billed there (nor by Salesforce), but the source counts it as the request it is.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from tests.sources.conftest import Wire, World, user

MakeWorld = Callable[..., World]


def ids_by_username(world: World) -> dict[str, str]:
    return {row["Username"]: row["Id"] for row in world.org.users()}


def used(usage: tuple[int, int] | None) -> int:
    assert usage is not None
    return usage[0]


async def test_a_quiet_check_costs_three_calls_and_changed_users_two_more_per_chunk(
    make_world: MakeWorld,
) -> None:
    world = make_world([user(n, PermissionSets=["Slack User"]) for n in range(1, 211)])
    wire = Wire()
    source = world.source(wire=wire)
    ids = ids_by_username(world)

    # Starting to watch: the token (1), the newest stamp of User, UserLogin and
    # PermissionSetAssignment (3), then the three change queries from that mark (3).
    start = await source.changed_since(None)
    assert start.ok and start.calls == 7
    assert source.requests_sent == len(wire.requests) == 7
    usage = used(source.api_usage)

    # Nothing changed: one query per watched timestamp (User, UserLogin, PermissionSetAssignment
    # changes), each one page, with the token already held. The org bills exactly those.
    quiet = await source.changed_since(start.watermark)
    assert quiet.ok and quiet.users == () and quiet.calls == 3
    assert used(source.api_usage) - usage == 3
    assert source.requests_sent == len(wire.requests) == 10

    # One user changed: the same three, then that user read by Id (users with their permission
    # sets, one query; their frozen state, another).
    await world.change(ids["user0001@orion.example"], Title="Lead")
    one = await source.changed_since(quiet.watermark)
    assert [u.username for u in one.users] == ["user0001@orion.example"] and one.calls == 5

    # 201 users changed: the ids are read 200 at a time, so two chunks of two queries each.
    for n in range(1, 202):
        world.org_clock.advance(seconds=1)
        world.org.change_user(ids[f"user{n:04d}@orion.example"], {"Title": "Staff"})
    many = await source.changed_since(one.watermark)
    assert len(many.users) == 201 and many.calls == 3 + 2 * 2
    assert source.requests_sent == len(wire.requests) == 10 + 5 + 7


async def test_a_check_is_billed_its_own_requests_only(make_world: MakeWorld) -> None:
    # The loop's worker may run a full read while a check is under way: the check's `calls`
    # leave the read's requests out; `requests_sent` has both.
    world = make_world([user(n) for n in range(1, 20)])
    source = world.source(batchSize=200)
    start = await source.changed_since(None)
    before = source.requests_sent

    read, check = await asyncio.gather(source.read(), source.changed_since(start.watermark))
    assert read.ok and check.ok
    assert check.calls == 3
    assert source.requests_sent - before == 3 + 2  # the read: its users and frozen queries


async def test_a_failed_check_says_what_it_sent(make_world: MakeWorld) -> None:
    world = make_world([user(1)])
    source = world.source()
    start = await source.changed_since(None)
    await world.admin("/limits", {"max": 500, "used": 500})

    refused = await source.changed_since(start.watermark)
    assert refused.error is not None and "REQUEST_LIMIT_EXCEEDED" in refused.error
    assert refused.calls == 1  # the first query is refused, and the check stops there

    held = await source.changed_since(start.watermark)  # backing off: Salesforce is not asked
    assert held.error is not None and held.calls == 0
