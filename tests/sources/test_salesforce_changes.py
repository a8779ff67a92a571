"""The incremental read and the API budget, against the running emulator.

Changes are made through the emulator's admin endpoints, with the org's clock stepped forward
before each, so every change has its own timestamp; the back-off is stepped past on the
source's own clock, so nothing waits.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable

from controller.model import SourceUser
from controller.sources.salesforce import SalesforceSource
from tests.sources.conftest import Wire, World, user

MakeWorld = Callable[..., World]


def ids_by_username(world: World) -> dict[str, str]:
    return {row["Username"]: row["Id"] for row in world.org.users()}


async def test_changes_since_a_watermark_are_exactly_the_changed_users(
    make_world: MakeWorld,
) -> None:
    world = make_world([user(n, PermissionSets=["Slack User"]) for n in range(1, 251)])
    source = world.source(batchSize=200)
    ids = ids_by_username(world)

    start = await source.changed_since(None)
    assert start.ok and start.users == ()
    assert start.watermark.at == world.org_clock.now  # the seeded users' timestamps

    retitled, frozen, granted = (ids[f"user{n:04d}@orion.example"] for n in (7, 70, 207))
    await world.change(retitled, Title="Staff Engineer")
    await world.change(frozen, IsFrozen=True)
    await world.change(granted, PermissionSets={"add": ["Jira Admin"]})

    changed = await source.changed_since(start.watermark)
    assert changed.ok, changed.error
    users: dict[str, SourceUser] = {u.id: u for u in changed.users}
    assert set(users) == {retitled, frozen, granted}
    assert users[retitled].fields["Title"] == "Staff Engineer" and not users[retitled].frozen
    assert users[frozen].frozen
    assert users[granted].permission_sets == {"Slack User", "Jira Admin"}
    assert changed.watermark.at == world.org_clock.now

    again = await source.changed_since(changed.watermark)
    assert again.ok and again.users == () and again.watermark == changed.watermark


async def test_changes_respect_where_and_an_unchanged_org_keeps_its_watermark(
    make_world: MakeWorld,
) -> None:
    world = make_world([user(n) for n in range(1, 7)])
    source = world.source(where="Department = 'Engineering'")
    ids = ids_by_username(world)
    start = await source.changed_since(None)
    await world.change(ids["user0001@orion.example"], Title="Lead")  # Engineering
    await world.change(ids["user0003@orion.example"], Title="Lead")  # Support: not ours
    changed = await source.changed_since(start.watermark)
    assert [u.username for u in changed.users] == ["user0001@orion.example"]
    assert changed.watermark.at > start.watermark.at


async def test_a_change_in_the_same_second_as_the_watermark_is_not_missed(
    make_world: MakeWorld,
) -> None:
    # Salesforce stamps whole seconds: a change can land in the second already looked at.
    world = make_world([user(n) for n in range(1, 5)])
    source = world.source()
    ids = ids_by_username(world)
    start = await source.changed_since(None)
    await world.change(ids["user0001@orion.example"], Title="Lead")
    first = await source.changed_since(start.watermark)
    assert [u.username for u in first.users] == ["user0001@orion.example"]

    # Same second: the org clock does not move before this change.
    await world.admin(f"/users/{ids['user0002@orion.example']}", {"Title": "Lead"})
    second = await source.changed_since(first.watermark)
    assert [u.username for u in second.users] == ["user0002@orion.example"]
    assert second.watermark.at == first.watermark.at

    third = await source.changed_since(second.watermark)
    assert third.ok and third.users == ()


async def test_request_limit_fails_the_read_and_holds_off_calls(make_world: MakeWorld) -> None:
    world = make_world([user(1)])
    wire = Wire()
    source = world.source(wire=wire)
    assert (await source.read()).ok
    await world.admin("/limits", {"max": 500, "used": 500})

    read = await source.read()
    assert read.users == () and read.error is not None
    assert "HTTP 403 REQUEST_LIMIT_EXCEEDED: TotalRequests Limit exceeded." in read.error
    until = world.clock.now + datetime.timedelta(minutes=15)
    assert read.error.endswith(f"not calling Salesforce again until {until.isoformat()}")
    assert source.api_usage is not None and source.api_usage[1] == 500
    assert source.api_usage[0] >= 500

    sent = len(wire.requests)
    world.clock.advance(minutes=14)
    held = await source.read()
    assert held.error is not None and "REQUEST_LIMIT_EXCEEDED" in held.error
    assert "not calling Salesforce until" in held.error
    changes = await source.changed_since(None)
    assert changes.error is not None and "REQUEST_LIMIT_EXCEEDED" in changes.error
    assert len(wire.requests) == sent  # the server was not contacted

    await world.admin("/limits", {"max": 15000, "used": 600})
    world.clock.advance(minutes=1)
    resumed = await source.read()
    assert resumed.ok, resumed.error
    assert source.api_usage is not None and source.api_usage[1] == 15000


async def test_closing_a_source_that_never_read(make_world: MakeWorld) -> None:
    world = make_world([])
    source: SalesforceSource = world.source()
    assert source.api_usage is None
    await source.aclose()


async def test_a_long_settled_second_is_not_read_again(make_world: MakeWorld) -> None:
    # Every seeded row shares one second, as after a bulk load. While that second is recent it
    # is asked for again (a late change could carry it); once settled, only what is after it.
    world = make_world([user(n, PermissionSets=["Slack User"]) for n in range(1, 30)])
    wire = Wire()
    source = world.source(wire=wire)
    start = await source.changed_since(None)

    def rows_returned() -> int:
        return sum(
            len(wire.json(response).get("records", []))
            for response in wire.responses
            if "/query" in str(response.request.url)
        )

    before = rows_returned()
    recent = await source.changed_since(start.watermark)
    assert recent.ok and recent.users == ()
    assert rows_returned() - before >= 29  # the shared second was read again, then skipped

    world.clock.advance(minutes=3)
    before = rows_returned()
    settled = await source.changed_since(recent.watermark)
    assert settled.ok and settled.users == ()
    assert rows_returned() - before == 0
