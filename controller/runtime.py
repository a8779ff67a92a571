"""Process-wide tuning for the controller's workload: many small objects, many open sockets.

A plan of 100,000 users allocates millions of short-lived objects (accounts, attribute dicts,
operations), and CPython's cyclic garbage collector, by default run every 700 allocations, spent
about a third of the planning time scanning them (bench/RESULTS.md). Nothing in a plan forms
reference cycles that need prompt collection, so the first generation is collected less often.
Called once by the command-line entry point (and by the benchmarks, to measure what runs).
The entry point also raises the open-file limit (`raise_open_file_limit`).
"""

from __future__ import annotations

import gc
import resource

GEN0_THRESHOLD = 50_000
"""Allocations between young-generation collections (CPython's default: 700)."""


def tune_gc() -> None:
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(GEN0_THRESHOLD, gen1, gen2)


OPEN_FILES_CEILING = 1 << 20
"""What the soft limit is raised to when the hard limit is unlimited."""


def raise_open_file_limit() -> int:
    """Raise this process's soft limit on open files (RLIMIT_NOFILE) to its hard limit.

    Every app connection, the journal and each client of the metrics port hold a file handle;
    the usual soft default of 1024 let half-open connections to the metrics port leave the apps
    none (issue 15). The hard limit is the administrator's; the soft one is ours to raise.
    Returns the soft limit in force afterwards.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = OPEN_FILES_CEILING if hard == resource.RLIM_INFINITY else hard
    if soft != resource.RLIM_INFINITY and soft < wanted:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
        except (ValueError, OSError):  # a kernel ceiling (fs.nr_open) below "unlimited"
            return soft
        return wanted
    return soft
