"""The API-limit back-off is kept in the state directory, so a source in another process (here:
another source over the same directory) honours it without calling Salesforce once."""

from __future__ import annotations

import datetime
import json
import logging
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.sources.conftest import Wire, World, user

MakeWorld = Callable[..., World]
FILE = "salesforce-backoff-org.json"


async def test_a_new_source_honours_the_back_off_another_began(
    make_world: MakeWorld, tmp_path: Path
) -> None:
    world = make_world([user(1)])
    state = tmp_path / "state"
    first = world.source(state_dir=state)
    await world.admin("/limits", {"max": 500, "used": 500})
    limited = await first.read()
    assert limited.error is not None and "REQUEST_LIMIT_EXCEEDED" in limited.error
    until = world.clock.now + datetime.timedelta(minutes=15)
    assert json.loads((state / FILE).read_text())["until"] == until.isoformat()

    await world.admin("/limits", {"max": 15000, "used": 0})
    wire = Wire()
    # client credentials: a JWT assertion would be stamped by the source clock moved below
    second = world.source(state_dir=state, wire=wire, flow="client-credentials")
    held = await second.read()
    assert held.error is not None
    assert held.error.startswith("REQUEST_LIMIT_EXCEEDED at ")
    assert held.error.endswith(f"not calling Salesforce until {until.isoformat()}")
    changes = await second.changed_since(None)
    assert changes.error is not None and "not calling Salesforce until" in changes.error
    assert wire.requests == []  # not one call, not even for a token

    world.clock.advance(minutes=15)
    resumed = await second.read()
    assert resumed.ok, resumed.error
    assert len(resumed.users) == 2


async def test_a_corrupt_back_off_file_is_ignored_with_a_warning(
    make_world: MakeWorld, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    world = make_world([user(1)])
    (tmp_path / FILE).write_text('{"org": "x", "until": ')
    with caplog.at_level(logging.WARNING):
        read = await world.source(state_dir=tmp_path).read()
    assert read.ok, read.error
    assert "ignoring the Salesforce back-off file" in caplog.text


async def test_a_back_off_for_another_org_or_too_far_ahead_is_not_honoured(
    make_world: MakeWorld, tmp_path: Path
) -> None:
    world = make_world([user(1)])
    soon = (world.clock.now + datetime.timedelta(minutes=5)).isoformat()
    ahead = (world.clock.now + datetime.timedelta(days=3)).isoformat()
    for org, until in (("https://another.my.salesforce.com", soon), (world.url, ahead)):
        (tmp_path / FILE).write_text(json.dumps({"org": org, "until": until, "why": "limit"}))
        read = await world.source(state_dir=tmp_path).read()
        assert read.ok, read.error
    (tmp_path / FILE).write_text(json.dumps({"org": world.url, "until": soon, "why": "limit"}))
    held = await world.source(state_dir=tmp_path).read()
    assert held.error == f"limit; not calling Salesforce until {soon}"


async def test_deleting_the_back_off_file_ends_the_back_off_in_the_running_source(
    make_world: MakeWorld, tmp_path: Path
) -> None:
    """The README says deleting the file ends the back-off early; the source that began it
    kept backing off from memory until its moment had passed."""
    world = make_world([user(1)])
    source = world.source(state_dir=tmp_path)
    await world.admin("/limits", {"max": 500, "used": 500})
    limited = await source.read()
    assert limited.error is not None and "REQUEST_LIMIT_EXCEEDED" in limited.error
    await world.admin("/limits", {"max": 15000, "used": 0})
    held = await source.read()
    assert held.error is not None and "not calling Salesforce until" in held.error

    (tmp_path / FILE).unlink()
    resumed = await source.read()
    assert resumed.ok, resumed.error
    assert len(resumed.users) == 2


async def test_a_back_off_that_could_not_be_kept_on_disk_still_holds_in_memory(
    make_world: MakeWorld, tmp_path: Path
) -> None:
    world = make_world([user(1)])
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("")
    source = world.source(state_dir=blocked)  # the back-off file cannot be written
    await world.admin("/limits", {"max": 500, "used": 500})
    await source.read()
    await world.admin("/limits", {"max": 15000, "used": 0})
    held = await source.read()
    assert held.error is not None and "not calling Salesforce until" in held.error
