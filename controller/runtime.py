"""Process-wide tuning for the controller's workload: many small objects, few cycles of them.

A plan of 100,000 users allocates millions of short-lived objects (accounts, attribute dicts,
operations), and CPython's cyclic garbage collector, by default run every 700 allocations, spent
about a third of the planning time scanning them (bench/RESULTS.md). Nothing in a plan forms
reference cycles that need prompt collection, so the first generation is collected less often.
Called once by the command-line entry point (and by the benchmarks, to measure what runs).
"""

from __future__ import annotations

import gc

GEN0_THRESHOLD = 50_000
"""Allocations between young-generation collections (CPython's default: 700)."""


def tune_gc() -> None:
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(GEN0_THRESHOLD, gen1, gen2)
