"""/healthz under `provisioner run`: a controller whose cycle hangs is not alive, so Kubernetes
restarts it, although its heartbeat goes on and its port still answers."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from tests.process.conftest import Running, wait_for

Start = Callable[..., Running]


def test_a_hung_cycle_fails_healthz_within_its_bound(controller: Start) -> None:
    running = controller(args=("--interval", "2", "--jitter", "0", "--shutdown-grace", "1"))
    healthz = running.metrics_url.replace("/metrics", "/healthz")
    running.wait_cycles(1)
    assert httpx.get(healthz, timeout=5).json() == {"alive": True}

    running.slow.delay = 3600.0  # the app stops answering: the next cycle hangs in it
    answer = wait_for(
        lambda: (got := httpx.get(healthz, timeout=5)).status_code == 503 and got.json(),
        "/healthz to fail",
    )
    assert answer["alive"] is False
    assert answer["reason"].startswith("no cycle has run to its end for ")
    assert answer["reason"].endswith("(bound 6s)")  # 3 x --interval + --jitter
    assert running.metric("provisioner_reconcile_triggers_total", trigger="schedule")
    assert running.stop() == 0
