"""Watching the source for changes: where the last look ended, what no cycle has taken yet,
and how often a look may cost the org's API budget.

The loop asks `check` on every change interval; a look that finds anyone adds them to `pending`,
and the loop runs a targeted cycle for them (issue 16). Checks go on while a cycle runs, so a
change made during a long full cycle is picked up right after it. `start` marks where changes
start being news before a full cycle reads the source; the watermark is dropped whenever the
engine is rebuilt, since its first cycle reads everything anyway. The pace follows
`ChangeBudget`, and each look's cost goes to the log (when the pace changes) and the metrics.
"""

from __future__ import annotations

import asyncio
import datetime
import time
from typing import Any

from controller import change_latency, desired, targeted
from controller.change_budget import ChangeBudget
from controller.cycle import Cycle
from controller.engine import Engine
from controller.metrics import Recorder
from controller.model import SourceUserId
from controller.settings import LoopSettings
from controller.sources import Watermark


class ChangeWatch:
    def __init__(self, settings: LoopSettings, *, recorder: Recorder, log: Any) -> None:
        self.recorder = recorder
        self.log = log
        self.budget = ChangeBudget(settings.change_interval_seconds, settings.change_budget_percent)
        self.watermark: Watermark | None = None
        self.pending = targeted.Changes()
        """What checks reported that no cycle has taken yet."""

    def forget(self) -> None:
        """The engine is being rebuilt: its first cycle reads everything, and watching restarts."""
        self.watermark = None

    def take(self) -> targeted.Changes:
        """Everything reported so far, for the cycle about to run."""
        taken, self.pending = self.pending, targeted.Changes()
        return taken

    async def start(self, running: Engine) -> None:
        """Mark where the source's changes start being news, before a run reads the source:
        a change made while the run is under way is then found by the next check. (Marked
        after the run, a leaver deactivated mid-run waited for the next full reconcile.)"""
        if self.watermark is not None or not hasattr(running.source, "changed_since"):
            return
        try:
            async with asyncio.timeout(running.policy.sources[0].spec.read_seconds):
                changes = await running.source.changed_since(None)
        except TimeoutError:  # the read has its own deadline; watching starts next time
            self.log.warning("change check failed", error="no answer within readSeconds")
            return
        if changes.ok:
            self.watermark = changes.watermark

    async def check(self, running: Engine) -> bool:
        """Ask the source what changed since the watermark, when the budget allows a look now;
        True when anyone did (they are then `pending`)."""
        watermark = self.watermark
        started = time.monotonic()
        if watermark is None or not self.budget.due(started):
            return False
        source: Any = running.source
        before = getattr(source, "requests_sent", 0)
        try:
            async with asyncio.timeout(running.policy.sources[0].spec.read_seconds):
                changes = await source.changed_since(watermark)
        except TimeoutError:  # what it sent all the same (a full read's beside it, if any)
            self._paced(getattr(source, "requests_sent", 0) - before, source, started)
            self.log.warning("change check failed", error="no answer within readSeconds")
            return False
        self._paced(changes.calls, source, started)
        if watermark is not self.watermark:
            return False  # the engine was rebuilt meanwhile: its first cycle reads everything
        if not changes.ok:
            self.log.warning("change check failed", error=changes.error)
            return False
        self.watermark = changes.watermark
        if not changes.changed_at:
            return False
        found = targeted.Changes(
            {user.id: user for user in changes.users},
            {held.source_id: held for held in changes.quarantined if held.source_id},
            frozenset(SourceUserId(user) for user in changes.changed_at),
            {SourceUserId(user): at for user, at in changes.changed_at.items()},
        )
        self.pending = self.pending.merged(found)
        self.log.info("source changed", users=len(found.ids))
        return True

    def _paced(self, calls: int, source: Any, started: float) -> None:
        """Record what a check cost; log when the budget changes the checks' pace."""
        message = self.budget.spent(calls, getattr(source, "api_usage", None), started)
        self.recorder.change_check(calls, self.budget.interval)
        if message is not None:
            self.log.info(
                "change checks paced",
                detail=message,
                interval=self.budget.interval,
                calls_per_check=round(self.budget.calls_per_check, 1),
                calls_per_day=round(self.budget.calls_per_day),
            )


def latency(
    cycle: Cycle, changes: targeted.Changes, running: Engine
) -> change_latency.ChangeLatency:
    """What the latency histogram measures in `cycle`: the changes it took, from when the
    source made them, and the access end dates that passed, from their midnight."""
    spec = running.policy.sources[0].spec
    ends: dict[SourceUserId, datetime.datetime] = {}
    for user in cycle.source.users:
        state = cycle.evaluation.users.get(user.id)
        if state is not None and not state.active and desired.end_date_passed(state.reason):
            moment = desired.access_ended_at(user, spec)
            if moment is not None:
                ends[user.id] = moment
    return change_latency.ChangeLatency(changes.changed_at, ends)
