"""How often to ask Salesforce what changed: at most a set share of the org's daily API allowance.

A change check is cheap but frequent: 3 calls every 2 s is 129,600 a day, more than a Developer
Edition org's whole allowance (15,000) and most of a small Enterprise org's (100,000 plus 1,000
per licence). The allowance is a rolling 24 hours shared by every integration of the org, and
once it is spent Salesforce refuses every call, the full reconcile's too. So the loop asks this
budget before each check (`due`) and tells it what the check cost (`spent`); the checks slow
down when their projected daily spend would pass the share, and say so.

Pure: no clock and no I/O. The caller passes monotonic seconds, the calls the check sent and the
(used, max) of the org's `Sforce-Limit-Info` header.
"""

from __future__ import annotations

import collections
import math

DAY_SECONDS = 86_400.0
WINDOW = 10
"""Checks in the moving average of a check's cost: a burst of changes raises it for a while."""
TAPER_FROM = 0.9
"""Share of the org's daily allowance used past which the checks' budget shrinks (see below)."""
SPEED_UP_HEADROOM = 0.9
"""A faster pace is taken only when its projection is within this share of the budget, so the
pace does not flap at the boundary as the average moves a little."""
SLOWEST_SECONDS = 3_600.0
"""The checks never wait longer than an hour (rounded up to whole intervals): the budget only
hears the org's usage when a check runs, so the pace recovers within an hour once it falls."""
EPSILON = 1e-9


class ChangeBudget:
    """The pace of the change checks, from what they cost and what the org has left.

    The rule: a check's cost is the mean of the last `WINDOW` checks' calls, and the projected
    daily spend is cost x 86,400 / interval. The budget is `share_percent` of the org's daily
    maximum. When the projection at the configured interval passes it, the interval becomes the
    smallest that fits, cost x 86,400 / budget, rounded up to a whole number of configured
    intervals (the loop asks at each of those ticks, so a check can only happen on one). It is
    never shorter than the configured interval, and never longer than `SLOWEST_SECONDS`.

    Past 90% of the daily maximum used, the budget shrinks in proportion to what is left of the
    last 10%: the whole share at 90% used, half at 95%, none at 100% (then the checks run once an
    hour). Near the limit every integration of the org is about to be refused, the full
    reconcile included, and the change checks are the one consumer that can wait: the full
    reconcile still catches every change. Until a usage is known, the configured interval holds.
    """

    def __init__(self, interval_seconds: float, share_percent: float) -> None:
        if not interval_seconds > 0:
            raise ValueError(f"the change interval must be positive, not {interval_seconds}")
        if not 0 < share_percent <= 100:
            raise ValueError(f"the budget must be over 0% and at most 100%, not {share_percent}%")
        self.configured = float(interval_seconds)
        self.share_percent = float(share_percent)
        self._costs: collections.deque[int] = collections.deque(maxlen=WINDOW)
        self._usage: tuple[int, int] | None = None
        self._ticks = 1
        """The effective interval, in configured intervals."""
        self._last: float | None = None
        """When the last check recorded started (the caller's monotonic seconds)."""

    @property
    def interval(self) -> float:
        """Seconds between checks now: a whole number of configured intervals."""
        return self._ticks * self.configured

    @property
    def calls_per_check(self) -> float:
        """The mean cost of the last checks; 0 before the first."""
        return sum(self._costs) / len(self._costs) if self._costs else 0.0

    @property
    def calls_per_day(self) -> float:
        """The calls the checks spend in a day at the current pace and cost."""
        return self.calls_per_check * DAY_SECONDS / self.interval

    @property
    def allowance(self) -> float | None:
        """The calls a day the checks may spend; None until the org's usage is known."""
        if self._usage is None:
            return None
        used, maximum = self._usage
        if maximum <= 0:
            return 0.0
        left = (maximum - used) / ((1 - TAPER_FROM) * maximum)
        return self.share_percent / 100 * maximum * min(1.0, max(0.0, left))

    def due(self, now: float) -> bool:
        """Whether a check is due at `now`: the first always is, then one every `interval`.

        Half a configured interval of slack: the loop's ticks come a little late, unevenly, and
        a tick that came early relative to a late one must not cost a whole extra interval.
        """
        return self._last is None or now - self._last >= self.interval - self.configured / 2

    def spent(self, calls: int, usage: tuple[int, int] | None, now: float) -> str | None:
        """Record a check started at `now` that sent `calls` requests, and the org's (used, max)
        daily calls as Salesforce last reported them (None: unknown, the last known stands).
        Returns what to log when the pace changed, else None."""
        self._last = now
        self._costs.append(max(0, calls))
        if usage is not None:
            self._usage = usage
        before = self._ticks
        fitting = self._fitting(1.0)
        if fitting < before:  # faster only with headroom, and never slower than now
            fitting = min(before, max(fitting, self._fitting(SPEED_UP_HEADROOM)))
        self._ticks = fitting
        return None if fitting == before else self._message()

    def _fitting(self, margin: float) -> int:
        """The fewest configured intervals between checks whose projection is within `margin`
        of the allowance, capped at the slowest pace."""
        allowance, cost = self.allowance, self.calls_per_check
        if allowance is None or cost <= 0:
            return 1
        slowest = max(1, math.ceil(SLOWEST_SECONDS / self.configured - EPSILON))
        if allowance * margin <= 0:
            return slowest
        needed = cost * DAY_SECONDS / (allowance * margin)
        return min(slowest, max(1, math.ceil(needed / self.configured - EPSILON)))

    def _message(self) -> str:
        assert self._usage is not None  # the pace only changes once the usage is known
        used, maximum = self._usage
        allowance = self.allowance or 0.0
        cost, per_day = self.calls_per_check, self.calls_per_day
        budget = f"the budget of {allowance:,.0f} ({self.share_percent:g}% of the org's {maximum:,}"
        if maximum > 0 and used > TAPER_FROM * maximum:
            budget += f", less as the org has used {used / maximum:.0%} of them"
        budget += ")"
        if self._ticks == 1:
            return (
                f"checking for changes every {self.configured:g} s again: at {cost:.1f} Salesforce"
                f" API calls a check, that spends {per_day:,.0f} a day, within {budget}"
            )
        at_configured = cost * DAY_SECONDS / self.configured
        slowest = "" if per_day <= allowance else " (an hour apart is the slowest they go)"
        return (
            f"checking for changes every {self.interval:g} s instead of every"
            f" {self.configured:g} s: at {cost:.1f} Salesforce API calls a check, every"
            f" {self.configured:g} s would spend {at_configured:,.0f} a day, over {budget};"
            f" every {self.interval:g} s spends {per_day:,.0f}{slowest}"
        )
