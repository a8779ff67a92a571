"""Leaver latency: from a deactivation in Salesforce to `active=false` in every app they have.

Usage: python -m bench.leaver [TRIALS] [CHANGE_INTERVAL]   (default 20 trials, 15 s; one JSON line)

The example world (emulators/world.py: Salesforce, Slack, Jira, Zendesk, the care platform) and
the example policy, with `provisioner run` as its own process and the incremental check on
(`--change-interval`, the full reconcile an hour away so only the check can find a leaver).
TRIALS engineers are hired first and provisioned; then, one trial at a time and after a random
pause within one check period, one is deactivated through the emulator's admin API, and the
clock stops when Slack and Jira (their apps) both report the account inactive, polled every
50 ms over their SCIM APIs.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from emulators.serving import free_port
from emulators.world import World, example_world

POLICY = Path(__file__).resolve().parents[1] / "desired-state"
BOUND = 60.0


def _active_by_external_id(url: str, token: str) -> dict[str, bool]:
    found: dict[str, bool] = {}
    start = 1
    with httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=10) as client:
        while True:
            page = client.get(f"{url}/Users", params={"startIndex": start, "count": 100}).json()
            for user in page.get("Resources", []):
                if user.get("externalId"):
                    found[user["externalId"]] = bool(user.get("active"))
            start += len(page.get("Resources", []))
            if not page.get("Resources") or start > page["totalResults"]:
                return found


def _states(world: World) -> list[dict[str, bool]]:
    env = world.environ
    return [
        _active_by_external_id(env["SLACK_SCIM_URL"], env["SLACK_SCIM_TOKEN"]),
        _active_by_external_id(env["JIRA_SCIM_URL"], env["JIRA_SCIM_TOKEN"]),
    ]


def _wait(condition: Any, what: str) -> None:
    deadline = time.monotonic() + BOUND
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise RuntimeError(f"gave up waiting for {what}")


def measure(trials: int, change_interval: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as scratch, example_world(Path(scratch)) as world:
        hired = [
            world.hire_in_salesforce(
                {
                    "Username": f"leaver{n}@orion.example",
                    "Email": f"leaver{n}@orion.example",
                    "FirstName": "Leaver",
                    "LastName": f"Number{n}",
                    "Profile": {"Name": "Standard User"},
                    "Title": "Engineer",
                    "Department": "Engineering",
                }
            )
            for n in range(trials)
        ]
        command = [
            sys.executable, "-m", "controller", "run", "--policy", str(POLICY),
            "--state-dir", str(Path(scratch) / "state"), "--port", str(free_port()),
            "--interval", "3600", "--change-interval", str(change_interval),
            "--log-format", "json",
        ]  # fmt: skip
        log = (Path(scratch) / "controller.log").open("wb")
        process = subprocess.Popen(
            command, env={**os.environ, **world.environ}, stdout=log, stderr=log
        )
        try:
            _wait(
                lambda: all(all(state.get(i) for state in _states(world)) for i in hired),
                "hires provisioned",
            )
            latencies = []
            pacing = random.Random(9)
            for salesforce_id in hired:
                # At a random point of the check's period, as a real leaver would be: right
                # after the previous trial, every trial would wait a whole period.
                time.sleep(pacing.uniform(0, change_interval))
                url = f"{world.salesforce_url}/_emulator/users/{salesforce_id}"
                started = time.monotonic()
                httpx.post(url, json={"IsActive": False}).raise_for_status()
                _wait(
                    lambda i=salesforce_id: not any(state.get(i) for state in _states(world)),
                    "the leaver",
                )
                latencies.append(time.monotonic() - started)
        finally:
            process.terminate()
            process.wait(timeout=60)
            log.close()
    ordered = sorted(latencies)
    return {
        "trials": trials,
        "change_interval_s": change_interval,
        "median_s": round(statistics.median(ordered), 2),
        "p95_s": round(ordered[max(0, round(0.95 * len(ordered)) - 1)], 2),
        "max_s": round(ordered[-1], 2),
        "min_s": round(ordered[0], 2),
    }


def main() -> None:
    trials = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    interval = float(sys.argv[2]) if len(sys.argv) > 2 else 15.0
    print(json.dumps(measure(trials, interval)))


if __name__ == "__main__":
    main()
