"""/metrics, /healthz and /readyz over a real socket."""

from __future__ import annotations

import httpx

from controller.http import Health, make_app
from controller.metrics import Recorder
from emulators import serving


class Clock:
    now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_probes_and_metrics() -> None:
    clock = Clock()
    recorder = Recorder()
    recorder.trigger("startup", now=clock.now)
    health = Health(max_age_seconds=600, clock=clock)
    with serving.serve(make_app(recorder, health)) as url:
        metrics = httpx.get(f"{url}/metrics")
        assert metrics.headers["content-type"].startswith("text/plain")
        assert 'provisioner_reconcile_triggers_total{trigger="startup"} 1.0' in metrics.text

        assert httpx.get(f"{url}/healthz").status_code == 503
        health.beat(clock.now)
        assert httpx.get(f"{url}/healthz").status_code == 200

        not_ready = httpx.get(f"{url}/readyz")
        assert not_ready.status_code == 503
        assert "policy" in not_ready.json()["notReady"]
        health.policy_loaded(True)
        health.app_reconciled("slack", ok=True, now=clock.now)
        assert httpx.get(f"{url}/readyz").status_code == 200

        health.app_reconciled("jira", ok=False, now=clock.now)
        failing = httpx.get(f"{url}/readyz")
        assert failing.status_code == 503
        assert failing.json()["notReady"] == {"jira": "the last reconcile failed"}

        health.app_reconciled("jira", ok=True, now=clock.now)
        clock.now += 601
        stale = httpx.get(f"{url}/readyz").json()["notReady"]
        assert stale == {
            "jira": "the last reconcile was 601s ago",
            "slack": "the last reconcile was 601s ago",
        }
