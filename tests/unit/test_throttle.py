"""The per-app throttle: writes never above the configured rate, Retry-After pauses everything."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconcilers.throttle import Throttle, WriteRate


class VirtualTime:
    """A clock that moves only when someone sleeps: the order of events, not their speed."""

    def __init__(self) -> None:
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


async def _send_times(throttle: Throttle, time: VirtualTime, writes: int) -> list[float]:
    """When each of `writes` back-to-back writes may go (one after another: virtual time
    cannot run concurrent sleepers side by side; the slots reserved are the same)."""
    sent: list[float] = []
    for _ in range(writes):
        await throttle.wait_turn(write=True)
        sent.append(time.now)
    return sent


@settings(max_examples=50, deadline=None)
@given(
    per_minute=st.integers(min_value=1, max_value=6000),
    burst=st.integers(min_value=1, max_value=30),
    writes=st.integers(min_value=1, max_value=60),
)
def test_writes_never_exceed_the_configured_rate(per_minute: int, burst: int, writes: int) -> None:
    time = VirtualTime()
    throttle = Throttle(WriteRate(per_minute, burst), clock=time.clock, sleep=time.sleep)
    sent = asyncio.run(_send_times(throttle, time, writes))
    interval = 60.0 / per_minute
    # In any window, at most `burst` writes plus one per interval elapsed.
    for first, start in enumerate(sent):
        for last in range(first, len(sent)):
            allowed = burst + (sent[last] - start) / interval + 1e-9
            assert last - first + 1 <= allowed


async def test_a_burst_goes_at_once_then_writes_are_spaced() -> None:
    time = VirtualTime()
    throttle = Throttle(WriteRate(per_minute=60, burst=3), clock=time.clock, sleep=time.sleep)
    sent = await _send_times(throttle, time, 5)
    assert sent == pytest.approx([0.0, 0.0, 0.0, 1.0, 2.0])


async def test_reads_are_not_spaced() -> None:
    time = VirtualTime()
    throttle = Throttle(WriteRate(per_minute=1, burst=1), clock=time.clock, sleep=time.sleep)
    for _ in range(10):
        await throttle.wait_turn(write=False)
    assert time.now == 0.0


async def test_retry_after_pauses_reads_and_writes_alike() -> None:
    time = VirtualTime()
    throttle = Throttle(None, clock=time.clock, sleep=time.sleep)
    throttle.back_off(7.0)
    await throttle.wait_turn(write=False)
    assert time.now == pytest.approx(7.0)
    await throttle.wait_turn(write=True)
    assert time.now == pytest.approx(7.0)
    assert throttle.back_offs == 1


async def test_writes_queued_behind_a_pause_are_spaced_after_it() -> None:
    time = VirtualTime()
    throttle = Throttle(WriteRate(per_minute=60, burst=1), clock=time.clock, sleep=time.sleep)
    throttle.back_off(5.0)
    sent = await _send_times(throttle, time, 3)
    assert sent == pytest.approx([5.0, 6.0, 7.0])


def test_a_rate_must_be_positive() -> None:
    with pytest.raises(ValueError, match="per_minute > 0"):
        WriteRate(0)
