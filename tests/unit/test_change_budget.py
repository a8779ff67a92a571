"""The pace of the change checks: within the share of the org's allowance, never faster than asked.

Properties over any run of checks (costs, usages, a scheduler whose ticks come late), then the
examples an operator would meet: an org too small for the configured pace, one that grows, a
cost at the boundary, an org near its daily limit.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from controller.change_budget import SLOWEST_SECONDS, WINDOW, ChangeBudget

EXAMPLES = settings(max_examples=400, deadline=None)
RELATIVE = 1 + 1e-9


@st.composite
def usages(draw: st.DrawFn) -> tuple[int, int] | None:
    """What a check's responses said of the org's (used, max) daily calls, if anything."""
    if draw(st.booleans()):
        return None
    maximum = draw(st.integers(min_value=0, max_value=20_000_000))
    return draw(st.integers(min_value=0, max_value=maximum + maximum // 10)), maximum


checks = st.lists(st.tuples(st.integers(min_value=0, max_value=60), usages()), max_size=40)
intervals = st.floats(min_value=0.25, max_value=900, allow_nan=False)
shares = st.floats(min_value=0.01, max_value=100, allow_nan=False)


@EXAMPLES
@given(intervals, shares, checks)
def test_the_pace_fits_the_share_and_never_beats_the_configured_interval(
    configured: float, share: float, run: list[tuple[int, tuple[int, int] | None]]
) -> None:
    budget = ChangeBudget(configured, share)
    maximum: int | None = None
    for n, (calls, usage) in enumerate(run):
        budget.spent(calls, usage, now=n * 1e6)
        maximum = usage[1] if usage is not None else maximum
        assert budget.interval >= configured
        ticks = budget.interval / configured
        assert abs(ticks - round(ticks)) < 1e-9  # a whole number of the loop's ticks
        if maximum is None:
            assert budget.interval == configured
        elif budget.interval < SLOWEST_SECONDS:  # slower than an hour, the projection may pass
            assert budget.calls_per_day <= share / 100 * maximum * RELATIVE
            allowance = budget.allowance
            assert allowance is not None and budget.calls_per_day <= allowance * RELATIVE


@EXAMPLES
@given(
    intervals,
    shares,
    checks,
    st.lists(st.floats(min_value=0, max_value=0.499), min_size=1, max_size=200),
)
def test_on_late_ticks_each_check_waits_exactly_the_pace_it_was_given(
    configured: float,
    share: float,
    run: list[tuple[int, tuple[int, int] | None]],
    lateness: list[float],
) -> None:
    # The loop asks at every tick of the configured interval, each a little late (under half
    # an interval). A check is taken on the very tick its pace allows: never sooner, never later.
    budget = ChangeBudget(configured, share)
    costs = iter(run)
    last_tick: int | None = None
    pace = 1
    for tick in range(400):
        now = (tick + lateness[tick % len(lateness)]) * configured
        if not budget.due(now):
            continue
        if last_tick is not None:
            assert tick - last_tick == pace
        calls, usage = next(costs, (3, None))
        budget.spent(calls, usage, now)
        last_tick, pace = tick, round(budget.interval / configured)


def test_without_a_known_usage_the_configured_interval_holds() -> None:
    budget = ChangeBudget(2, 10)
    assert budget.due(0.0) and budget.interval == 2 and budget.calls_per_day == 0
    for n in range(20):
        assert budget.spent(50, None, now=2.0 * n) is None
    assert budget.interval == 2 and budget.allowance is None
    assert budget.calls_per_day == 50 * 86_400 / 2


def test_an_org_too_small_for_the_pace_slows_the_checks_and_says_why() -> None:
    budget = ChangeBudget(2, 10)
    said = budget.spent(3, (1_000, 100_000), now=0.0)
    # 3 calls every 2 s is 129,600 a day; a tenth of 100,000 allows one check every 25.92 s.
    assert budget.interval == 26
    assert budget.calls_per_day == pytest.approx(9_969.2, abs=0.1)
    assert said == (
        "checking for changes every 26 s instead of every 2 s: at 3.0 Salesforce API calls a"
        " check, every 2 s would spend 129,600 a day, over the budget of 10,000 (10% of the"
        " org's 100,000); every 26 s spends 9,969"
    )
    assert not budget.due(24.9)  # the tick at 24 s, even a little late
    assert budget.due(25.1)  # the tick at 26 s, a little early against a late start


def test_an_org_that_grows_gets_the_configured_pace_back() -> None:
    budget = ChangeBudget(2, 10)
    assert budget.spent(3, (1_000, 100_000), now=0.0) is not None
    assert budget.spent(3, (1_000, 100_000), now=26.0) is None  # unchanged: nothing to say
    said = budget.spent(3, (1_000, 2_000_000), now=52.0)
    assert budget.interval == 2
    assert said == (
        "checking for changes every 2 s again: at 3.0 Salesforce API calls a check, that spends"
        " 129,600 a day, within the budget of 200,000 (10% of the org's 2,000,000)"
    )


def test_the_cost_is_a_moving_average_and_the_pace_does_not_flap_at_the_boundary() -> None:
    # 10% of 1,296,000 is 129,600 a day: at 30 calls a check, exactly one check every 20 s.
    budget = ChangeBudget(10, 10)
    usage = (0, 1_296_000)
    now = 0.0

    def checks(calls: int) -> None:
        nonlocal now
        for _ in range(WINDOW):
            budget.spent(calls, usage, now)
            now += budget.interval

    checks(30)
    assert budget.calls_per_check == 30 and budget.interval == 20
    checks(31)  # 20.7 s needed: the next whole tick
    assert budget.interval == 30
    checks(30)  # fits at 20 s again, but only just: it stays at 30 s
    assert budget.interval == 30
    checks(27)  # 18 s needed, 20 s leaves a tenth of the budget spare
    assert budget.interval == 20


def test_near_the_daily_limit_the_checks_give_way() -> None:
    budget = ChangeBudget(2, 10)
    budget.spent(3, (90_000, 100_000), now=0.0)
    assert budget.allowance == pytest.approx(10_000)
    said = budget.spent(3, (95_000, 100_000), now=26.0)
    assert budget.allowance == pytest.approx(5_000) and budget.interval == 52
    assert said is not None and "less as the org has used 95% of them" in said
    said = budget.spent(3, (100_000, 100_000), now=78.0)
    assert budget.interval == SLOWEST_SECONDS
    assert said is not None and said.endswith("(an hour apart is the slowest they go)")


def test_a_check_that_sent_nothing_costs_nothing() -> None:
    # Backing off after REQUEST_LIMIT_EXCEEDED, the source answers without calling Salesforce.
    budget = ChangeBudget(2, 10)
    budget.spent(0, (100_000, 100_000), now=0.0)
    assert budget.interval == 2


@pytest.mark.parametrize(("interval", "share"), [(0, 10), (-1, 10), (2, 0), (2, 100.5)])
def test_a_budget_that_cannot_be_is_refused(interval: float, share: float) -> None:
    with pytest.raises(ValueError, match="must be"):
        ChangeBudget(interval, share)
