"""The change checks spend at most their share of the org's daily API allowance (issue 16).

An org with a small allowance (3,000 calls a day, as the Salesforce emulator's limits header
says) and checks every second at 3 calls each would spend 259,200 calls a day. With
`--change-budget-percent 10` the controller must slow the checks to fit 300 calls a day, say so
in the log, and show the pace and each check's cost on /metrics.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from emulators import world as worlds
from tests.process import example_run
from tests.process.conftest import wait_for


def test_checks_slow_down_to_the_budget_and_say_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(worlds, "DAILY_API_LIMIT", 3_000)
    with example_run.running(tmp_path, extra=("--change-budget-percent", "10")) as run:
        wait_for(lambda: run.events("change checks paced"), "the checks paced")
        (paced, *_) = run.events("change checks paced")
        assert paced["interval"] >= 3 * 86_400 / 300  # at least 864 s between checks
        assert paced["calls_per_day"] <= 300
        interval = run.metric("provisioner_change_check_interval_seconds")
        assert interval is not None and interval >= 864
        calls = run.metric("provisioner_change_check_calls_total")
        checks = run.metric("provisioner_change_checks_total")
        assert checks is not None and calls is not None and calls >= 3 * checks >= 3
        assert run.stop() == 0
