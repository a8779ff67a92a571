"""Server-side rate limits for the app emulators: token buckets that answer 429 + Retry-After.

Slack publishes per-minute limits with bursts per endpoint and org-wide; Zendesk publishes a
per-minute limit per plan and 5 updates a minute per user. Each emulator describes its limits
as `Limit`s and asks a `Limiter` before acting on a request; a refused request has done
nothing, so a client may always retry it. Tests shrink the limits to provoke 429 storms, and
`Limiter.refused` counts what was refused so they can say the storm happened.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass


@dataclass(frozen=True)
class Limit:
    """At most `per_minute` requests a minute on average, and `burst` at once."""

    per_minute: float
    burst: int

    def __post_init__(self) -> None:
        if self.per_minute <= 0 or self.burst < 1:
            raise ValueError(f"a limit needs per_minute > 0 and burst >= 1, not {self}")


class _Bucket:
    def __init__(self, limit: Limit, now: float) -> None:
        self.limit = limit
        self.tokens = float(limit.burst)
        self.stamp = now

    def _refill(self, now: float) -> None:
        rate = self.limit.per_minute / 60.0
        self.tokens = min(float(self.limit.burst), self.tokens + (now - self.stamp) * rate)
        self.stamp = now

    def wait(self, now: float) -> float:
        """Seconds until one token is available; 0 when one is available now."""
        self._refill(now)
        if self.tokens >= 1.0:
            return 0.0
        return (1.0 - self.tokens) * 60.0 / self.limit.per_minute


class Limiter:
    """Named token buckets; a request takes one token from every bucket it falls under."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._buckets: dict[Hashable, _Bucket] = {}
        self._lock = threading.Lock()
        self.refused = 0
        """How many requests were answered 429, for tests to see that a storm happened."""

    def take(self, *scopes: tuple[Hashable, Limit | None]) -> int | None:
        """Take a token from each (key, limit) scope, or none at all.

        Returns None when the request may proceed, else the whole seconds to put in
        Retry-After (at least 1). A scope whose limit is None is unlimited.
        """
        with self._lock:
            now = self._clock()
            buckets = []
            for key, limit in scopes:
                if limit is None:
                    continue
                bucket = self._buckets.get(key)
                if bucket is None or bucket.limit != limit:
                    bucket = self._buckets[key] = _Bucket(limit, now)
                buckets.append(bucket)
            wait = max((bucket.wait(now) for bucket in buckets), default=0.0)
            if wait > 0:
                self.refused += 1
                return max(1, math.ceil(wait))
            for bucket in buckets:
                bucket.tokens -= 1.0
            return None

    def remaining(self, key: Hashable) -> int | None:
        """Whole tokens left in one bucket (for X-Rate-Limit-Remaining), None if never used."""
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                return None
            bucket._refill(self._clock())
            return int(bucket.tokens)
