"""provisioner_drift_accounts after a real `provisioner run` cycle, as Prometheus scrapes it.

The gauges show the drift a cycle left, not the drift it planned: what the cycle just repaired
is gone at once (so ProvisionerDriftPersisting never fires for it), and what a guard held stays.
"""

from __future__ import annotations

import signal
from collections.abc import Callable

from tests.e2e.conftest import make_users
from tests.process.conftest import Running

Start = Callable[..., Running]
KINDS = ("missing", "unexpected", "attributes", "groups", "orphaned")


def drift(running: Running) -> dict[str, float | None]:
    return {
        kind: running.metric("provisioner_drift_accounts", app="tool", kind=kind) for kind in KINDS
    }


def test_drift_the_cycle_repaired_is_gone_and_drift_a_guard_held_stays(controller: Start) -> None:
    running = controller(40, MAX_DEPROVISIONS="2")
    running.wait_cycles(1)  # the startup run creates all 27 accounts it planned
    assert len(running.accounts()) == 27
    assert drift(running) == dict.fromkeys(KINDS, 0.0)

    users = make_users(40)
    for index in (0, 1, 3):  # three leavers (7.5% of the source: below the drop guard)
        users[index]["IsActive"] = False
    users[4]["Title"] = "Staff Engineer"  # and one mover
    running.write_users(users)
    running.signal(signal.SIGUSR1)
    running.wait_cycles(2)

    assert running.accounts()["user4@org.example"]["title"] == "Staff Engineer"
    assert all(running.accounts()[f"user{i}@org.example"]["active"] for i in (0, 1, 3))
    assert running.metric("provisioner_safety_blocked", app="tool") == 1.0
    assert drift(running) == {
        "missing": 0.0,
        "unexpected": 3.0,  # held: three deprovisions exceed maxDeprovisionsPerRun 2
        "attributes": 0.0,  # the mover's update succeeded
        "groups": 0.0,
        "orphaned": 0.0,
    }
    assert running.stop() == 0


def test_an_observe_only_app_keeps_reporting_the_drift_it_planned(controller: Start) -> None:
    running = controller(24, TOOL_MODE="observe")
    running.wait_cycles(1)
    assert running.accounts() == {}  # observe-only: nothing written
    assert drift(running)["missing"] == 16.0
    assert running.stop() == 0
