"""One rate limiter per app target, shared by every request the controller sends to that app.

Slack, Zendesk and Atlassian answer bursts with 429 and a Retry-After; a client that keeps
sending while throttled only stretches the penalty, and one that retries each request on its own
schedule turns one 429 into a storm. So every reconciler of an app routes its requests through
one `Throttle`: writes are spaced to the configured rate (a token bucket, in its GCRA form, so
queued writes get evenly spaced slots rather than racing for tokens), and a Retry-After from the
app pauses every request to that app, reads included, until it has passed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True)
class WriteRate:
    """At most `per_minute` writes a minute on average, with bursts of up to `burst` at once."""

    per_minute: float
    burst: int = 1

    def __post_init__(self) -> None:
        if self.per_minute <= 0 or self.burst < 1:
            raise ValueError(f"a write rate needs per_minute > 0 and burst >= 1, not {self}")


class Throttle:
    """Spaces writes to one app and makes every request wait out the app's Retry-After."""

    def __init__(
        self,
        rate: WriteRate | None = None,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.rate = rate
        self._clock = clock
        self._sleep = sleep
        self._next_write = 0.0
        """The theoretical arrival time of the next write (GCRA); in the past when idle."""
        self._paused_until = 0.0
        self.waited_seconds = 0.0
        """Total time requests spent waiting here, for logs and benchmarks."""
        self.back_offs = 0
        """How many times the app told us to slow down."""

    async def wait_turn(self, *, write: bool) -> None:
        """Return when this request may be sent: its write slot has come, and no pause holds."""
        if write and self.rate is not None:
            interval = 60.0 / self.rate.per_minute
            now = self._clock()
            slot = max(self._next_write, now)
            allowed_at = slot - (self.rate.burst - 1) * interval
            self._next_write = slot + interval  # reserved before sleeping: no await in between
            await self._wait_until(allowed_at)
        while True:  # again if a new pause began while we slept
            until = self._paused_until
            await self._wait_until(until)
            if self._paused_until == until:
                return

    async def _wait_until(self, moment: float) -> None:
        delay = moment - self._clock()
        if delay > 0:
            self.waited_seconds += delay
            await self._sleep(delay)

    def back_off(self, seconds: float) -> None:
        """The app said 429 (or 503) with Retry-After `seconds`: pause every request to it."""
        self.back_offs += 1
        until = self._clock() + max(0.0, seconds)
        self._paused_until = max(self._paused_until, until)
        # Writes queued behind the pause are spaced from its end, not released all at once.
        if self.rate is not None:
            self._next_write = max(self._next_write, self._paused_until)
