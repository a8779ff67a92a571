"""The safety guards, each named for the rule it enforces (DESIGN.md section 6)."""

from __future__ import annotations

import pytest

from controller import guard, plan
from controller.operations import OpKind
from controller.policy.schema import SafetySpec
from tests.fakes import account, desired_account, desired_app, observed

MATCH = ["externalId", "userName"]


def leavers(count: int, staying: int = 0) -> plan.Plan:
    """A plan suspending `count` leavers in an app that also has `staying` active users."""
    wanted = desired_app(
        *(desired_account(f"005L{i}", f"l{i}@x", active=False) for i in range(count)),
        *(desired_account(f"005S{i}", f"s{i}@x") for i in range(staying)),
        desired_account("005NEW", "new@x"),
    )
    app = observed(
        *(account(f"l{i}", f"l{i}@x", external_id=f"005L{i}") for i in range(count)),
        *(account(f"s{i}", f"s{i}@x", external_id=f"005S{i}") for i in range(staying)),
    )
    return plan.compute(wanted, app, match=MATCH)


def test_rule1_failed_read_is_untrusted() -> None:
    verdict = guard.judge_source(
        error="HTTP 503", active=100, last_good_active=100, max_drop_percent=10
    )
    assert not verdict.trusted and "HTTP 503" in str(verdict.reason)


def test_rule1_zero_active_users_is_untrusted_even_when_the_operator_allows() -> None:
    verdict = guard.judge_source(
        error=None, active=0, last_good_active=None, max_drop_percent=10, accept_drop=True
    )
    assert not verdict.trusted and "zero active users" in str(verdict.reason)


def test_rule1_drop_above_the_limit_is_untrusted_unless_accepted() -> None:
    verdict = guard.judge_source(error=None, active=85, last_good_active=100, max_drop_percent=10)
    assert not verdict.trusted
    assert verdict.reason == (
        "active users dropped from 100 to 85 (15.0%), more than maxActiveDropPercent 10%"
    )
    accepted = guard.judge_source(
        error=None, active=85, last_good_active=100, max_drop_percent=10, accept_drop=True
    )
    assert accepted.trusted


def test_rule1_drop_within_the_limit_is_trusted() -> None:
    verdict = guard.judge_source(error=None, active=91, last_good_active=100, max_drop_percent=10)
    assert verdict.trusted


def test_rule4_deprovisions_above_the_per_run_limit_are_all_held_creates_proceed() -> None:
    held = guard.hold_deprovisions(
        leavers(3, staying=100),
        accounts=103,
        safety=SafetySpec(max_deprovisions_per_run=2, max_deprovisions_percent=50),
    )
    assert [op.kind for op in held.operations] == [OpKind.CREATE]
    assert [op.kind for op in held.blocked] == [OpKind.SUSPEND] * 3
    assert held.blocked_reason is not None
    assert held.blocked_reason.startswith("3 deprovisions exceed maxDeprovisionsPerRun 2;")
    assert "--allow-deprovisions" in held.blocked_reason
    assert not held.in_sync


def test_rule4_deprovisions_above_the_percent_limit_are_held() -> None:
    held = guard.hold_deprovisions(
        leavers(2, staying=8),
        accounts=10,
        safety=SafetySpec(max_deprovisions_per_run=10, max_deprovisions_percent=10),
    )
    assert len(held.blocked) == 2
    assert "2 deprovisions of 10 accounts (20.0%) exceed maxDeprovisionsPercent 10%" in str(
        held.blocked_reason
    )


def test_rule4_one_leaver_in_a_small_app_is_not_a_mass_deletion() -> None:
    original = leavers(1, staying=3)
    safety = SafetySpec(max_deprovisions_per_run=10, max_deprovisions_percent=5)
    kept = guard.hold_deprovisions(original, accounts=4, safety=safety)
    assert kept == original
    strict = SafetySpec(max_deprovisions_percent=5, min_deprovisions_for_percent=1)
    held = guard.hold_deprovisions(original, accounts=4, safety=strict)
    assert len(held.blocked) == 1


@pytest.mark.parametrize(("count", "limit"), [(2, 2), (0, 0)])
def test_rule4_at_or_under_the_limit_nothing_is_held(count: int, limit: int) -> None:
    original = leavers(count, staying=100)
    held = guard.hold_deprovisions(
        original,
        accounts=100 + count,
        safety=SafetySpec(max_deprovisions_per_run=limit, max_deprovisions_percent=100),
    )
    assert held == original


def test_rule4_operator_override_lets_them_through_and_says_so() -> None:
    held = guard.hold_deprovisions(
        leavers(3, staying=1),
        accounts=4,
        safety=SafetySpec(max_deprovisions_per_run=1, max_deprovisions_percent=5),
        release=guard.FLAG_RELEASE,
    )
    assert [op.kind for op in held.operations].count(OpKind.SUSPEND) == 3
    assert held.blocked == ()
    assert any("allowed once by --allow-deprovisions" in note for note in held.notes)
