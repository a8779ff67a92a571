"""The bounds every fuzz test holds its subject to: cases per run, time and memory per case.

Fuzzing runs in CI, so it is bounded by cases, never by wall-clock duration of the whole run.
Under CI (`CI` set) the cases are derandomized, so a landing is judged on the same inputs twice;
locally each run draws new ones, and hypothesis prints the seed of any failure to replay it.
The per-case limits are generous ceilings that catch a blow-up (an alias bomb, a quadratic
parse), not a speed target: speed is measured in `bench/`.
"""

from __future__ import annotations

import os
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from hypothesis import HealthCheck, settings

LOADER_CASES = 2000
"""Cases per run over the policy loader (structured and byte-level together, at least)."""
PARSER_CASES = 1000
"""Cases per run over each response parser."""
CASE_SECONDS = 5.0
"""The most one case may take: orders of magnitude above a normal one."""
CASE_MIB = 100
"""The most memory one case may allocate at its peak."""

T = TypeVar("T")


def fuzz(cases: int) -> Callable[[Callable[..., T]], Callable[..., T]]:
    """Hypothesis settings for a fuzz test of `cases` examples."""
    return settings(
        max_examples=cases,
        deadline=None,  # the per-case ceiling is `bounded`, which also measures memory
        derandomize=bool(os.environ.get("CI")),
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


@contextmanager
def bounded(what: str, *, seconds: float = CASE_SECONDS, mib: int = CASE_MIB) -> Iterator[None]:
    """Fail the case when the block takes more than `seconds` or peaks above `mib` MiB."""
    tracemalloc.start()
    started = time.perf_counter()
    try:
        yield
    finally:
        took = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert took < seconds, f"{what} took {took:.2f} s, more than the {seconds} s ceiling"
    assert peak < mib * 2**20, f"{what} peaked at {peak / 2**20:.0f} MiB, above {mib} MiB"
