"""Counting the HTTP requests sent to Salesforce, so a change check can say what it cost.

The org's daily API allowance is shared by every integration, and the change checks spend it
every few seconds; the loop paces them (`controller.change_budget`) by what each one costs.
Every request the source sends goes through `BoundedHttp.send`, which counts it twice: in the
source's running total, and in the `tally` of the operation under way, if any. The tally lives
in a context variable, so it follows one asyncio task: a full read running at the same time in
another task (the loop's worker) is not billed to the check.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from dataclasses import dataclass


@dataclass
class Tally:
    """Requests sent so far by the operation that opened it (and what it awaited)."""

    requests: int = 0


_current: contextvars.ContextVar[Tally | None] = contextvars.ContextVar(
    "salesforce_request_tally", default=None
)


@contextlib.contextmanager
def tally() -> Iterator[Tally]:
    """Count the requests sent within the block, by this task and the tasks it starts."""
    counting = Tally()
    token = _current.set(counting)
    try:
        yield counting
    finally:
        _current.reset(token)


def count_request() -> None:
    """One request is about to be sent: add it to the tally in force, if any."""
    counting = _current.get()
    if counting is not None:
        counting.requests += 1
