"""Leaver, joiner and mover latency at any org size, and what each change costs in Salesforce calls.

Usage: python -m bench.change_latency USERS   (one JSON line per kind of change)
Env: BENCH_CHANGE_TRIALS (trials per kind, default 20), BENCH_CHANGE_INTERVAL (default 2 s).

The world (bench.change_serve) holds USERS people already provisioned in Slack, Jira and
Zendesk; `provisioner run` runs as its own process with `--change-interval` and the full
reconcile an hour away, so only the change check finds a change. After its first full cycle
(which should find nothing to do: the JSON says how many operations it planned), an idle
stretch shows what one check costs in Salesforce calls; then one trial at a time, at a random
point of the check's period: the change is made through the Salesforce emulator's admin API and
the clock stops when every app shows it (bench.change_trials), polled every 50 ms. Salesforce
calls per trial are the controller's own count (/metrics, provisioner_http_requests_total,
target salesforce) from the change to the end of the cycle it caused; beyond the check, those
less the change checks' own (provisioner_change_check_calls_total). As a cross-check, the
Salesforce emulator records each call's query (bench.change_serve): `unlike_idle_check` counts
the calls of the window whose query no idle check made, i.e. the check's reading of the
changed users plus the cycle's reads.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.change_probe import Probe
from bench.change_run import Controller
from bench.change_serve import serve_world
from bench.change_trials import KINDS, Changes, Trial, pending
from bench.change_world import APPS, write_policy

TRIALS = int(os.environ.get("BENCH_CHANGE_TRIALS", "20"))
INTERVAL = float(os.environ.get("BENCH_CHANGE_INTERVAL", "2"))
POLL_SECONDS = 0.05
TRIAL_BOUND = 300.0
"""Seconds a trial may take before the benchmark gives up on it (a full reconcile per change
at 10,000 users takes minutes)."""


def _percentile_95(ordered: list[float]) -> float:
    return ordered[max(0, round(0.95 * len(ordered)) - 1)]


def _visible(probe: Probe, trial: Trial, started: float) -> float | None:
    """Seconds from `started` until every app shows the trial's change; None past the bound."""
    apps = list(APPS)
    while apps:
        apps = pending(probe, trial, apps)
        if not apps:
            break
        if time.monotonic() - started > TRIAL_BOUND:
            return None
        time.sleep(POLL_SECONDS)
    return time.monotonic() - started


def _summary(
    size: int, kind: str, rows: list[dict[str, Any]], idle: dict[str, Any]
) -> dict[str, Any]:
    done = sorted(row["seconds"] for row in rows if row["seconds"] is not None)
    calls = [row["sf_calls"] for row in rows]
    beyond = sorted(row["sf_beyond_check"] for row in rows)
    unlike_idle = [row["sf_unlike_idle_check"] for row in rows]
    cycles = [row["cycle_s"] for row in rows if row["cycle_s"] is not None]
    detect = [row["detected_s"] for row in rows if row["detected_s"] is not None]
    summary: dict[str, Any] = {
        "users": size,
        "apps": len(APPS),
        "kind": kind,
        "change_interval_s": INTERVAL,
        "trials": len(rows),
        "timeouts": len(rows) - len(done),
    }
    if done:
        summary |= {
            "median_s": round(statistics.median(done), 2),
            "p95_s": round(_percentile_95(done), 2),
            "max_s": round(done[-1], 2),
            "min_s": round(done[0], 2),
        }
    summary |= {
        "detected_median_s": round(statistics.median(detect), 2) if detect else None,
        "sf_calls_per_trial": round(statistics.mean(calls), 2) if calls else None,
        "sf_calls_per_check": idle["calls_per_check"],
        "sf_calls_beyond_check_median": statistics.median(beyond) if beyond else None,
        "sf_calls_beyond_check_max": beyond[-1] if beyond else None,
        "sf_calls_unlike_idle_check_median": statistics.median(unlike_idle) if rows else None,
        "cycle_median_s": round(statistics.median(cycles), 2) if cycles else None,
        "first_cycle_s": idle["first_cycle_s"],
        "first_cycle_operations": idle["first_cycle_operations"],
    }
    return summary


def measure(size: int, trials: int) -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory() as scratch_dir:
        scratch = Path(scratch_dir)
        policy = write_policy(scratch / "policy")
        with (
            serve_world(scratch, size) as world,
            Controller(policy, scratch, world.environ, INTERVAL) as controller,
        ):
            first = controller.first_cycle()
            idle = controller.idle(world.salesforce, 4 * INTERVAL) | first
            probe = Probe(world)
            changes = Changes(world)
            pacing = random.Random(16)
            rows: dict[str, list[dict[str, Any]]] = {kind: [] for kind in KINDS}
            try:
                for _ in range(trials):
                    for kind in KINDS:
                        trial = changes.subject(kind)
                        # At a random point of the check's period, as a real change would be.
                        time.sleep(pacing.uniform(0, INTERVAL))
                        mark = controller.mark()
                        trial = changes.make(trial)
                        seconds = _visible(probe, trial, mark.started)
                        outcome = controller.settle(mark, world.salesforce, idle["check_shapes"])
                        rows[kind].append({"seconds": seconds, **outcome})
                        print(json.dumps({"kind": kind, "seconds": seconds, **outcome}),
                              file=sys.stderr, flush=True)  # fmt: skip
            finally:
                probe.close()
    return [_summary(size, kind, rows[kind], idle) for kind in KINDS]


def main() -> None:
    size = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    for row in measure(size, TRIALS):
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
