"""`provisioner run` as its own process, and what the benchmark reads of it: log events, /metrics.

The controller logs JSON lines to a file the benchmark tails ("cycle finished", "app
reconciled", "source changed") and counts its HTTP requests per target on /metrics; together
with the Salesforce emulator's record of each call's query (bench.change_serve.SalesforceCalls)
they say what a check costs and what a change costs beyond it. BENCH_CHANGE_LOG=PATH keeps a copy
of the controller's log.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from bench.change_serve import SalesforceCalls
from emulators.serving import free_port

FIRST_CYCLE_BOUND = 900.0
SETTLE_BOUND = 120.0
BURST_GAP = 0.5
"""Seconds without a Salesforce call that separate one check (three queries at once) from the
next."""


def bursts(moments: list[float]) -> int:
    """How many groups of calls, each separated from the next by more than BURST_GAP."""
    ordered = sorted(moments)
    return sum(
        1 for i, moment in enumerate(ordered) if i == 0 or moment - ordered[i - 1] > BURST_GAP
    )


@dataclass(frozen=True)
class Mark:
    """The moment a trial's change is made: clocks, log position, Salesforce calls so far."""

    started: float
    wall: float
    events: int
    counters: dict[str, float]


class Controller:
    def __init__(self, policy: Path, scratch: Path, environ: dict[str, str], interval: float):
        self.port = free_port()
        self._log_path = scratch / "controller.log"
        self._command = [
            sys.executable, "-m", "controller", "run", "--policy", str(policy),
            "--state-dir", str(scratch / "state"), "--port", str(self.port),
            "--interval", "3600", "--jitter", "0", "--change-interval", str(interval),
            "--log-format", "json",
        ]  # fmt: skip
        self._environ = {**os.environ, **environ, "PYTHONUNBUFFERED": "1"}
        self._offset = 0
        self.events: list[dict[str, Any]] = []

    def __enter__(self) -> Controller:
        self._log = self._log_path.open("wb")
        self._process = subprocess.Popen(
            self._command, env=self._environ, stdout=self._log, stderr=self._log
        )
        return self

    def __exit__(self, *_: type[BaseException] | BaseException | TracebackType | None) -> None:
        self._process.terminate()
        self._process.wait(timeout=120)
        self._log.close()
        kept = os.environ.get("BENCH_CHANGE_LOG")
        if kept:
            shutil.copyfile(self._log_path, kept)

    def _read(self) -> None:
        with self._log_path.open("rb") as log:
            log.seek(self._offset)
            chunk = log.read()
        complete = chunk[: chunk.rfind(b"\n") + 1]
        self._offset += len(complete)
        for line in complete.splitlines():
            if line.startswith(b"{"):
                self.events.append(json.loads(line))

    def wait_for(self, wanted: Callable[[dict[str, Any]], bool], since: int, bound: float) -> int:
        """Index of the first event from `since` on that is `wanted`; TimeoutError past `bound`."""
        deadline = time.monotonic() + bound
        while True:
            self._read()
            for index in range(since, len(self.events)):
                if wanted(self.events[index]):
                    return index
            if self._process.poll() is not None:
                raise RuntimeError(f"the controller exited; see {self._log_path}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"no such event within {bound} s; see {self._log_path}")
            time.sleep(0.05)

    def counters(self) -> dict[str, float]:
        """`_counters` twice 50 ms apart, until both agree: a check in flight counts its
        requests as they come but its calls once it ends, and would skew a difference."""
        latest = self._counters()
        for _ in range(20):
            time.sleep(0.05)
            latest, before = self._counters(), latest
            if latest == before:
                break
        return latest

    def _counters(self) -> dict[str, float]:
        """Salesforce requests, and the change checks' count and calls (0 where not exported)."""
        text = httpx.get(f"http://127.0.0.1:{self.port}/metrics", timeout=30).text
        found = dict.fromkeys(("requests", "checks", "check_calls"), 0.0)
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == "provisioner_http_requests_total":
                    if sample.labels.get("target") == "salesforce":
                        found["requests"] += sample.value
                elif sample.name == "provisioner_change_checks_total":
                    found["checks"] += sample.value
                elif sample.name == "provisioner_change_check_calls_total":
                    found["check_calls"] += sample.value
        return found

    def first_cycle(self) -> dict[str, Any]:
        """Waits for the first full cycle; its seconds and the operations it planned."""
        end = self.wait_for(lambda e: e.get("event") == "cycle finished", 0, FIRST_CYCLE_BOUND)
        planned = sum(
            int(e.get("operations") or 0)
            for e in self.events[:end]
            if e.get("event") == "app reconciled"
        )
        return {"first_cycle_s": self.events[end].get("seconds"), "first_cycle_operations": planned}

    def idle(self, salesforce: SalesforceCalls, seconds: float) -> dict[str, Any]:
        """What one change check costs: the controller's count of its checks' calls over an idle
        stretch (or, without that count, its Salesforce calls per burst of calls)."""
        time.sleep(0.5)
        start, before = time.monotonic(), self.counters()
        time.sleep(seconds)
        end, after = time.monotonic(), self.counters()
        checks = after["checks"] - before["checks"]
        if checks > 0:
            per_check = (after["check_calls"] - before["check_calls"]) / checks
        else:
            made = [moment for moment, _ in salesforce.calls if start <= moment < end]
            per_check = (after["requests"] - before["requests"]) / max(1, bursts(made))
        return {
            "calls_per_check": round(per_check, 2),
            "check_shapes": frozenset(salesforce.between(start, end)),
        }

    def mark(self) -> Mark:
        counters = self.counters()
        self._read()
        return Mark(time.monotonic(), time.time(), len(self.events), counters)

    def settle(
        self, mark: Mark, salesforce: SalesforceCalls, check_shapes: frozenset[str]
    ) -> dict[str, Any]:
        """Once the change is visible: waits for the end of the cycle it caused, then counts.

        Beyond the check: the Salesforce calls less those the controller counts as its change
        checks'; where it does not count them, the calls whose query no idle check made. The
        latter is also given as `sf_unlike_idle_check`: what a check that finds a change reads
        more than one that finds nothing, plus the cycle's reads.
        """
        changed: int | None
        try:
            changed = self.wait_for(lambda e: e.get("event") == "source changed", mark.events, 30)
            finished: int | None = self.wait_for(
                lambda e: e.get("event") == "cycle finished", changed, SETTLE_BOUND
            )
        except TimeoutError:  # a trial past its bound: count what there is
            changed = finished = None
        now = self.counters()
        calls, check_calls = (now[k] - mark.counters[k] for k in ("requests", "check_calls"))
        shapes = salesforce.between(mark.started, time.monotonic())
        unlike_idle = sum(1 for shape in shapes if shape not in check_shapes)
        counted = now["checks"] > 0
        found: dict[str, Any] = {"detected_s": None, "cycle_s": None}
        if changed is not None and finished is not None:
            seen = dt.datetime.fromisoformat(self.events[changed]["timestamp"]).timestamp()
            found = {
                "detected_s": round(seen - mark.wall, 3),
                "cycle_s": self.events[finished].get("seconds"),
            }
        return {
            "sf_calls": calls,
            "sf_check_calls": check_calls if counted else None,
            "sf_beyond_check": calls - check_calls if counted else unlike_idle,
            "sf_unlike_idle_check": unlike_idle,
            **found,
        }
