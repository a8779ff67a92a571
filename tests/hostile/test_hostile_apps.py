"""Hostile apps stay inside their own bounds, under `apply` and under `run` (issue 15).

Beside a healthy app, two hostile ones (SCIM and Zendesk, one server) drip bytes, never end a
body, send a gzip bomb, page without end, nest JSON 100,000 deep, pack 11 million objects
under the size cap, or answer in the wrong shape. Each time the healthy app's leaver is
suspended in that same cycle, the cycle finishes with both hostile apps reported as errors
(saying what was wrong), and the controller's peak RSS stays under 300 MiB. Under `run`,
/metrics counts each hostile app's error and the healthy app's success, and /healthz stays up.
"""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
from pathlib import Path

import httpx
import pytest

from emulators.serving import free_port
from tests.hostile.conftest import (
    HOSTILE_APPS,
    OBSERVE_DEADLINE,
    PEAK_RSS_MIB,
    Org,
    make_org,
    metric,
    peak_rss_mib,
    run_measured,
    stop,
    wait_for,
)
from tests.hostile.server import MODES, HostileApp

WHY = {
    "drip": ("no complete response within 1 s", "no complete response within 1 s"),
    "never-ends": ("no complete response within 1 s", "no complete response within 1 s"),
    "gzip-bomb": ("larger than 32 MiB", "larger than 32 MiB"),
    "endless-paging": ("at most 20 pages", "after 20 pages"),
    "deep-json": ("nested too deeply", "nested too deeply"),
    "dense-json": ("JSON objects and arrays", "JSON objects and arrays"),
    "wrong-shape": ("Resources", "a JSON list where an object"),
    "missing-ids": ("Resources", "custom role without a numeric id"),
}
"""Per mode, what the error of hostile-scim and of hostile-zendesk says."""
SLOW = {"drip", "never-ends", "gzip-bomb", "endless-paging", "dense-json"}
"""Modes whose cost is time (retried deadlines) or CPU (inflating, validating pages): on a
loaded machine the observation's own deadline may honestly be what ends them."""


def explained(mode: str, why: str, error: str) -> bool:
    """Whether a hostile app's `error` says what went wrong in `mode`."""
    return why in error or (mode in SLOW and OBSERVE_DEADLINE in error)


def leaver_index(mode: str) -> int:
    """A different Engineering user (every third) for each mode: each has a healthy account."""
    return 3 * (MODES.index(mode) + 1)


@pytest.mark.parametrize("mode", MODES)
def test_under_apply_a_hostile_app_fails_alone_within_its_bounds(
    provisioned: Org, mode: str, tmp_path: Path
) -> None:
    org = provisioned
    org.hostile.mode = mode
    leaver = org.leave(leaver_index(mode))
    assert org.account(leaver)["active"] is True

    done = run_measured(org.command("apply"), org.env, tmp_path / "apply.log")

    assert org.account(leaver)["active"] is False, done.output
    assert done.returncode == 1, done.output
    for app, why in zip(HOSTILE_APPS, WHY[mode], strict=True):
        line = next((x for x in done.output.splitlines() if x.startswith(f"{app}: ERROR")), "")
        assert explained(mode, why, line), done.output
    print(f"hostile {mode}: apply peak RSS {done.peak_rss_mib:.0f} MiB")  # pytest -s shows it
    assert done.peak_rss_mib < PEAK_RSS_MIB


def test_under_run_every_hostile_mode_fails_alone_and_metrics_tell(
    tmp_path: Path, hostile: HostileApp
) -> None:
    with contextlib.ExitStack() as stack:
        org = make_org(stack, tmp_path, hostile)
        hostile.mode = MODES[0]
        port = free_port()
        log = tmp_path / "run.log"
        command = [
            *org.command("run"),
            *("--port", str(port), "--log-format", "json"),
            *("--interval", "3600", "--change-interval", "3600", "--policy-interval", "3600"),
        ]
        with log.open("wb") as out:
            process = subprocess.Popen(command, env=org.env, stdout=out, stderr=out)
        stack.callback(stop, process)
        url = f"http://127.0.0.1:{port}"

        def cycles() -> list[dict[str, object]]:
            events = [json.loads(x) for x in log.read_text().splitlines() if x.startswith("{")]
            return [e for e in events if e.get("event") == "app reconciled"]

        def finished() -> int:
            return log.read_text().count('"cycle finished"')

        wait_for(lambda: finished() >= 1, "the startup cycle")
        for cycle, mode in enumerate(MODES, start=2):
            hostile.mode = mode
            before = {
                app: metric(f"{url}/metrics", "provisioner_reconcile_total", app=app, result=result)
                for app, result in [(a, "error") for a in HOSTILE_APPS] + [("tool", "success")]
            }
            leaver = org.leave(leaver_index(mode))
            process.send_signal(signal.SIGUSR1)
            wait_for(lambda n=cycle: finished() >= n, f"the cycle of {mode}")

            assert org.account(leaver)["active"] is False, mode
            for app, why in zip(HOSTILE_APPS, WHY[mode], strict=True):
                (last,) = [e for e in cycles() if e["app"] == app][-1:]
                assert last["ok"] is False, (mode, last)
                assert explained(mode, why, str(last["error"])), (mode, last)
            for app, count in before.items():
                result = "success" if app == "tool" else "error"
                after = metric(
                    f"{url}/metrics", "provisioner_reconcile_total", app=app, result=result
                )
                assert after == count + 1, (mode, app)
        assert httpx.get(f"{url}/healthz", timeout=10).status_code == 200
        assert peak_rss_mib(process.pid) < PEAK_RSS_MIB
