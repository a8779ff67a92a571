"""Signals to a real `provisioner run` process (DESIGN.md section 5, Signals)."""

from __future__ import annotations

import signal
from collections.abc import Callable

import pytest

from tests.process.conftest import Running, wait_for

Start = Callable[..., Running]


def test_sigusr1_reconciles_and_is_counted(controller: Start) -> None:
    running = controller()
    running.wait_cycles(1)  # the startup run
    assert len(running.accounts()) == 16

    running.signal(signal.SIGUSR1)
    running.wait_cycles(2)
    wait_for(
        lambda: running.metric("provisioner_reconcile_triggers_total", trigger="signal") == 1.0,
        "the signal trigger counted",
    )
    assert running.metric("provisioner_last_trigger_handled_timestamp_seconds") is not None
    requests = running.metric(
        "provisioner_http_requests_total", target="tool", method="GET", code="200"
    )
    assert requests is not None and requests > 0
    started = running.events("cycle started")
    assert started[1]["triggers"] == ["signal"]
    assert running.stop() == 0


def test_three_signals_during_a_slow_run_cause_exactly_one_follow_up(controller: Start) -> None:
    running = controller()
    running.wait_cycles(1)
    running.slow.delay = 0.5  # every request now takes half a second
    running.signal(signal.SIGUSR1)
    wait_for(lambda: len(running.events("cycle started")) >= 2, "the slow run to start")
    for count in (2.0, 3.0, 4.0):
        # One at a time: the kernel merges identical signals still pending delivery.
        running.signal(signal.SIGUSR1)
        wait_for(
            lambda count=count: (
                running.metric(  # type: ignore[misc]
                    "provisioner_reconcile_triggers_total", trigger="signal"
                )
                == count
            ),
            f"signal {count:.0f} acknowledged",
        )
    assert len(running.events("cycle started")) == 2  # still the slow run
    running.slow.delay = 0.0
    running.wait_cycles(3)
    assert running.stop() == 0
    # Stopping lets a run in flight finish, so a wrongly queued fourth run would show here.
    assert len(running.events("cycle started")) == 3
    assert running.cycles_finished() == 3
    assert sum(event["coalesced"] for event in running.events("trigger received")) == 3


BREAKAGES = {
    "a typo": lambda text: text.replace("type: scim", "type: [broken"),
    # PyYAML raised ValueError here, not a PolicyError: the reload task died unseen (issue 17).
    "an invalid date": lambda text: text.replace(
        "metadata: {name: org}", "metadata: {name: org}\nreviewed: 2024-02-30"
    ),
}


@pytest.mark.parametrize("breakage", sorted(BREAKAGES))
def test_sighup_with_a_broken_policy_keeps_the_old_one_and_goes_on(
    controller: Start, breakage: str
) -> None:
    running = controller()
    running.wait_cycles(1)
    assert running.metric("provisioner_policy_valid") == 1.0
    good = (running.policy / "policy.yaml").read_text()
    (running.policy / "policy.yaml").write_text(BREAKAGES[breakage](good))

    running.signal(signal.SIGHUP)
    wait_for(lambda: running.metric("provisioner_policy_valid") == 0.0, "policy_valid to drop")
    assert running.events("policy invalid; keeping the last good one")
    running.wait_cycles(2)  # the SIGHUP still reconciled, with the old policy

    running.write_users([])  # nobody left: the guard must hold, not the broken policy
    (running.policy / "policy.yaml").write_text(good)
    running.signal(signal.SIGHUP)
    wait_for(lambda: running.metric("provisioner_policy_valid") == 1.0, "policy valid again")
    running.wait_cycles(3)
    assert running.metric("provisioner_policy_load_errors_total") == 1.0
    assert all(account["active"] for account in running.accounts().values())
    assert running.stop() == 0


def test_sigterm_during_apply_exits_0_and_records_every_operation(controller: Start) -> None:
    running = controller(users=60)
    running.slow.delay = 0.05
    wait_for(lambda: len(running.events("operation")) >= 5, "apply to be under way")
    running.signal(signal.SIGTERM)
    assert running.process.wait(timeout=120) == 0
    running.slow.delay = 0.0

    logged = {
        event["subject"]
        for event in running.events("operation")
        if event["operation"] == "create" and event["result"] == "success"
    }
    assert logged == set(running.accounts())  # every account made was recorded, and no more
    assert running.events("stopped")
