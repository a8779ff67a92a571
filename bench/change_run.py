"""`provisioner run` as its own process, and what the benchmark reads of it: log events, /metrics.

The controller logs JSON lines to a file the benchmark tails ("cycle finished", "app
reconciled", "source changed") and counts its HTTP requests per target on /metrics; together
with the Salesforce emulator's record of each call's query (bench.change_serve.SalesforceCalls)
they say what a check costs and what a change costs beyond it.
"""

from __future__ import annotations

import datetime as dt
import json
import os
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
    calls: float


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
        """Index of the first event from `since` on that is `wanted`; RuntimeError past `bound`."""
        deadline = time.monotonic() + bound
        while True:
            self._read()
            for index in range(since, len(self.events)):
                if wanted(self.events[index]):
                    return index
            if self._process.poll() is not None:
                raise RuntimeError(f"the controller exited; see {self._log_path}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"no such event within {bound} s; see {self._log_path}")
            time.sleep(0.05)

    def salesforce_calls(self) -> float:
        text = httpx.get(f"http://127.0.0.1:{self.port}/metrics", timeout=30).text
        return sum(
            sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
            if sample.name == "provisioner_http_requests_total"
            and sample.labels.get("target") == "salesforce"
        )

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
        """What one change check costs: calls over an idle stretch, per check made in it."""
        time.sleep(0.5)
        start, before = time.monotonic(), self.salesforce_calls()
        time.sleep(seconds)
        end, after = time.monotonic(), self.salesforce_calls()
        made = [moment for moment, _ in salesforce.calls if start <= moment < end]
        checks = max(1, bursts(made))
        return {
            "calls_per_check": round((after - before) / checks, 2),
            "check_shapes": frozenset(salesforce.between(start, end)),
        }

    def mark(self) -> Mark:
        self._read()
        calls = self.salesforce_calls()
        return Mark(time.monotonic(), time.time(), len(self.events), calls)

    def settle(
        self, mark: Mark, salesforce: SalesforceCalls, check_shapes: frozenset[str]
    ) -> dict[str, Any]:
        """Once the change is visible: waits for the end of the cycle it caused, then counts."""
        changed = self.wait_for(lambda e: e.get("event") == "source changed", mark.events, 30)
        finished = self.wait_for(
            lambda e: e.get("event") == "cycle finished", changed, SETTLE_BOUND
        )
        calls = self.salesforce_calls() - mark.calls
        shapes = salesforce.between(mark.started, time.monotonic())
        seen = dt.datetime.fromisoformat(self.events[changed]["timestamp"]).timestamp()
        return {
            "sf_calls": calls,
            "sf_beyond_check": sum(1 for shape in shapes if shape not in check_shapes),
            "detected_s": round(seen - mark.wall, 3),
            "cycle_s": self.events[finished].get("seconds"),
        }
