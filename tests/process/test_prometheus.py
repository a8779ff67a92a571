"""A real Prometheus scraping a real `provisioner run`: drift seen, converged, and gone again;
and the shipped alert for a controller whose cycles fail, firing and resolving.

Needs Debian's `prometheus` package (.ci/run installs it). Outside CI, without it, the test is
skipped and says so; in CI a missing binary fails it.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from tests.process.conftest import Running, free_port, wait_for

Start = Callable[..., Running]
PROMETHEUS = shutil.which("prometheus")
ALERTS = Path(__file__).resolve().parents[2] / "deploy" / "prometheus" / "alerts.yaml"


@pytest.fixture
def prometheus(tmp_path: Path) -> Iterator[Callable[..., str]]:
    if PROMETHEUS is None:
        if os.environ.get("CI"):
            pytest.fail("prometheus is not installed; .ci/run must install Debian's prometheus")
        pytest.skip("prometheus is not installed (apt-get install prometheus)")
    processes: list[subprocess.Popen[bytes]] = []

    def start(target_port: int, rules: Path | None = None) -> str:
        config = tmp_path / "prometheus.yml"
        config.write_text(
            "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
            + (f"rule_files: ['{rules}']\n" if rules is not None else "")
            + "scrape_configs:\n"
            "  - job_name: provisioner\n"
            f"    static_configs: [{{targets: ['127.0.0.1:{target_port}']}}]\n"
        )
        port = free_port()
        command = [
            str(PROMETHEUS),
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ]
        with (tmp_path / "prometheus.log").open("wb") as log:
            processes.append(subprocess.Popen(command, stdout=log, stderr=log))
        url = f"http://127.0.0.1:{port}"

        def ready() -> bool:
            try:
                return httpx.get(f"{url}/-/ready", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(ready, "prometheus to be ready")
        return url

    yield start
    for process in processes:
        process.terminate()
        process.wait(timeout=30)


def query(url: str, expression: str) -> float | None:
    body = httpx.get(f"{url}/api/v1/query", params={"query": expression}, timeout=5).json()
    result = body["data"]["result"]
    return float(result[0]["value"][1]) if result else None


def test_drift_behind_the_controllers_back_is_seen_converged_and_cleared(
    controller: Start, prometheus: Callable[..., str]
) -> None:
    running = controller()
    running.wait_cycles(1)
    url = prometheus(int(running.metrics_url.split(":")[2].split("/")[0]))
    drift = 'provisioner_drift_accounts{app="tool",kind="attributes"}'
    wait_for(lambda: query(url, drift) == 0.0, "prometheus to scrape a drift of 0")

    victim = running.accounts()["user0@org.example"]
    patch = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "displayName", "value": "Hacked By Hand"}],
    }
    assert running.scim.patch(f"/Users/{victim['id']}", json=patch).status_code in (200, 204)
    # The gauge shows the drift a run leaves, so the app only watches for one run (a run that
    # repairs the drift clears it at once: test_drift_gauges).
    policy = running.policy / "policy.yaml"
    enforced = policy.read_text()
    policy.write_text(enforced.replace("mode: ${TOOL_MODE:-enforce}", "mode: observe"))

    running.signal(signal.SIGHUP)
    wait_for(lambda: query(url, drift) == 1.0, "the drift to show in prometheus")
    assert running.accounts()["user0@org.example"]["displayName"] == "Hacked By Hand"
    signal_total = 'provisioner_reconcile_triggers_total{trigger="signal"}'
    assert wait_for(lambda: query(url, signal_total), "the signal counted") == 1.0

    policy.write_text(enforced)
    running.signal(signal.SIGHUP)
    wait_for(lambda: query(url, drift) == 0.0, "the drift to return to 0")
    assert running.accounts()["user0@org.example"]["displayName"] == "First0 Last0"
    assert running.stop() == 0


def _scaled_rule(name: str, interval: int, folder: Path) -> Path:
    """The shipped rule `name`, its thresholds scaled from the default 300 s interval and 30 s
    jitter to `interval` and no jitter, and `for` to 1 s: the rule itself, on a test's clock."""
    document = yaml.safe_load(ALERTS.read_text())
    (rule,) = (r for r in document["groups"][0]["rules"] if r.get("alert") == name)
    assert "300 + 30" in rule["expr"]
    rule["expr"] = rule["expr"].replace("300 + 30", f"{interval} + 0")
    rule["for"] = "1s"
    path = folder / "rules.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "scaled", "rules": [rule]}]}))
    return path


def test_the_not_reconciling_alert_fires_while_cycles_fail_and_resolves_once_fixed(
    controller: Start, prometheus: Callable[..., str], tmp_path: Path
) -> None:
    journal = tmp_path / "state" / "journal.db"
    journal.parent.mkdir()
    journal.write_bytes(b"")  # an empty journal: every cycle fails as a whole
    running = controller(args=("--interval", "2", "--jitter", "0"))
    port = int(running.metrics_url.split(":")[2].split("/")[0])
    url = prometheus(port, _scaled_rule("ProvisionerNotReconciling", 2, tmp_path))
    firing = 'ALERTS{alertname="ProvisionerNotReconciling",alertstate="firing"}'
    wait_for(lambda: query(url, firing) == 1.0, "the alert to fire")
    errors = 'provisioner_reconcile_total{app="tool",result="error"}'
    assert (query(url, errors) or 0) > 0
    # the series ProvisionerNoRecentSuccess reads exists before any success
    assert query(url, 'provisioner_last_reconcile_success_timestamp_seconds{app="tool"}')
    assert query(url, 'provisioner_reconcile_total{app="tool",result="success"}') == 0.0

    journal.unlink()
    wait_for(lambda: query(url, firing) is None, "the alert to resolve")
    success = 'provisioner_reconcile_total{app="tool",result="success"}'
    assert wait_for(lambda: query(url, success), "a success scraped") >= 1
    assert running.stop() == 0
