"""The state file: what apply remembers survives a restart, and a corrupt file is a clear error."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest

from controller.errors import ProvisionerError
from controller.model import AccountId
from controller.state import State, StateStore
from tests.fakes import account, observed

NOW = datetime.datetime(2026, 11, 28, 12, tzinfo=datetime.UTC)


def test_round_trip(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state")
    state = State({"salesforce": 120}, {"slack": {AccountId("U1"): NOW}})
    store.save(state)
    assert StateStore(tmp_path / "state").load() == state


def test_no_directory_remembers_nothing() -> None:
    store = StateStore(None)
    store.save(State({"salesforce": 1}))
    assert store.load() == State()


def test_corrupt_state_names_the_file_and_what_to_do(tmp_path: Path) -> None:
    (tmp_path / "state.json").write_text("{not json")
    with pytest.raises(ProvisionerError, match=r"state\.json: unreadable state .*move it aside"):
        StateStore(tmp_path).load()


def test_suspensions_start_on_first_sight_and_end_on_reactivation() -> None:
    state = State()
    app = observed(
        account("1", "a@x", external_id="005A", active=False),
        account("2", "b@x", external_id="005B", active=False),
        account("3", "orphan@x", active=False),
    )
    managed = frozenset({AccountId("1"), AccountId("2")})
    state.observe_suspensions(app, managed, NOW)
    assert state.suspensions("app") == {"1": NOW, "2": NOW}

    later = NOW + datetime.timedelta(days=1)
    again = observed(
        account("1", "a@x", external_id="005A", active=False),
        account("2", "b@x", external_id="005B", active=True),
    )
    state.observe_suspensions(again, managed, later)
    assert state.suspensions("app") == {"1": NOW}  # the first sight stands; b is back
