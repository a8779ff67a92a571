"""A bad User record in a Salesforce org is quarantined; every other user is read (rule 7).

Against the emulator over a socket: a record with no Email is set aside by the source, named by
its Id and Username, and an end date kept in a text field that does not parse as an ISO date is
quarantined when the policy evaluates it, never read as "no end date".
"""

from __future__ import annotations

import datetime
from collections.abc import Callable

from controller import desired
from controller.model import SourceUserId
from tests.sources.conftest import World, user
from tests.unit.test_desired import ENG, make_policy

MakeWorld = Callable[..., World]


async def test_a_user_with_no_email_is_quarantined_and_the_rest_are_read(
    make_world: MakeWorld,
) -> None:
    world = make_world([user(n) for n in range(1, 41)])
    bad = world.org.user_by_username("user0007@orion.example")
    assert bad is not None
    # The emulator's admin API refuses a null Email, as Salesforce's UI does; records loaded
    # by other integrations can still lack one, so the test writes the row itself.
    with world.org.reading() as tables:
        tables["User"][bad["Id"]]["Email"] = None
    read = await world.source().read()
    assert read.ok, read.error
    assert len(read.users) == 40  # 39 people and the integration user
    assert "user0007@orion.example" not in {u.username for u in read.users}
    (held,) = read.quarantined
    assert (held.source_id, held.username, held.email) == (
        bad["Id"],
        "user0007@orion.example",
        None,
    )
    assert held.field == "Email" and held.message == "missing required field(s): Email"
    assert held.who == f"User {bad['Id']} (user0007@orion.example)"


async def test_an_end_date_that_is_not_iso_quarantines_the_contractor(
    make_world: MakeWorld,
) -> None:
    ends = {1: "31/12/2020", 2: "2020-1-1", 3: "2020-01-01", 4: "2099-01-01", 5: None}
    world = make_world([user(n, Department="Engineering", End_Text__c=v) for n, v in ends.items()])
    read = await world.source(fields=["End_Text__c"]).read()
    assert read.ok and read.quarantined == ()
    policy = make_policy([ENG], accessEndsField="End_Text__c")
    now = datetime.datetime(2026, 11, 28, tzinfo=datetime.UTC)
    result = desired.evaluate(policy, read, now=now)
    ids = {u.username: u.id for u in read.users}
    held = {q.username: (q.field, q.message) for q in result.quarantined}
    assert held == {
        "user0001@orion.example": (
            "End_Text__c",
            "End_Text__c '31/12/2020' is not an ISO date (YYYY-MM-DD)",
        ),
        "user0002@orion.example": (
            "End_Text__c",
            "End_Text__c '2020-1-1' is not an ISO date (YYYY-MM-DD)",
        ),
    }
    accounts = result.apps["tool"].accounts
    active = {
        name: accounts[SourceUserId(ids[name])].active for name in ids if ids[name] in accounts
    }
    assert active == {
        "user0003@orion.example": False,  # a valid end date that has passed
        "user0004@orion.example": True,
        "user0005@orion.example": True,
    }
