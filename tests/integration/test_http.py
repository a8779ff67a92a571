"""/metrics, /healthz and /readyz, and the HTTP instrumentation, over real sockets."""

from __future__ import annotations

import asyncio
import signal
import socket
from collections.abc import Iterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from controller import http
from controller.http import Health, make_app
from controller.metrics import Recorder
from controller.model import AppName
from emulators import serving
from reconcilers.base import AppConnection
from reconcilers.scim.client import RetryPolicy, ScimClient


class Clock:
    now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def probes(clock: Clock) -> Iterator[tuple[str, Recorder, Health]]:
    recorder = Recorder()
    health = Health(max_age_seconds=600, clock=clock)
    with serving.serve(make_app(recorder, health)) as url:
        yield url, recorder, health


def test_metrics_are_served_in_the_prometheus_text_format(
    probes: tuple[str, Recorder, Health],
) -> None:
    url, recorder, _ = probes
    recorder.trigger("startup", now=1000.0)
    metrics = httpx.get(f"{url}/metrics")
    assert metrics.status_code == 200
    assert metrics.headers["content-type"].startswith("text/plain; version=")
    assert 'provisioner_reconcile_triggers_total{trigger="startup"} 1.0' in metrics.text
    assert "provisioner_last_trigger_handled_timestamp_seconds 1000.0" in metrics.text


def test_change_latency_is_served_for_every_app_and_kind_with_its_buckets(
    probes: tuple[str, Recorder, Health],
) -> None:
    url, recorder, _ = probes
    recorder.watching(apps=["slack", "jira"], sources=["org"], now=1000.0)
    recorder.change_confirmed("slack", "leaver", 3.0)
    families = {f.name: f for f in text_string_to_metric_families(httpx.get(f"{url}/metrics").text)}
    latency = families["provisioner_change_latency_seconds"]
    assert latency.type == "histogram"
    buckets: dict[tuple[str, str], list[tuple[str, float]]] = {}
    for sample in latency.samples:
        if sample.name.endswith("_bucket"):
            key = (sample.labels["app"], sample.labels["kind"])
            buckets.setdefault(key, []).append((sample.labels["le"], sample.value))
    kinds = ("joiner", "leaver", "mover", "end_date")
    assert set(buckets) == {(app, kind) for app in ("slack", "jira") for kind in kinds}
    seconds = (0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800, 3600)  # 0.5 s to 1 h
    bounds = [*(str(float(le)) for le in seconds), "+Inf"]
    assert buckets["slack", "leaver"] == [(le, 0 if float(le) < 3 else 1) for le in bounds]
    for key, series in buckets.items():
        if key != ("slack", "leaver"):
            assert series == [(le, 0) for le in bounds], key


def test_healthz_follows_the_loop_heartbeat(
    probes: tuple[str, Recorder, Health], clock: Clock
) -> None:
    url, _, health = probes
    assert httpx.get(f"{url}/healthz").status_code == 503
    health.beat(clock.now)
    assert httpx.get(f"{url}/healthz").status_code == 200
    clock.now += health.heartbeat_timeout_seconds + 1
    assert httpx.get(f"{url}/healthz").status_code == 503


def test_healthz_fails_when_no_cycle_runs_to_its_end_within_its_bound(
    probes: tuple[str, Recorder, Health], clock: Clock
) -> None:
    url, _, health = probes
    health.cycle_bound_seconds = 60
    health.beat(clock.now)
    health.progressed(clock.now)  # the loop starts
    assert httpx.get(f"{url}/healthz").status_code == 200
    clock.now += 61
    health.beat(clock.now)  # alive, but no cycle got anywhere
    stuck = httpx.get(f"{url}/healthz")
    assert stuck.status_code == 503
    assert stuck.json() == {
        "alive": False,
        "reason": "no cycle has run to its end for 61s (bound 60s)",
    }
    health.progressed(clock.now)
    assert httpx.get(f"{url}/healthz").json() == {"alive": True}


def test_readyz_needs_a_policy_and_a_recent_good_reconcile_of_every_app(
    probes: tuple[str, Recorder, Health], clock: Clock
) -> None:
    url, _, health = probes
    before = httpx.get(f"{url}/readyz")
    assert before.status_code == 503
    assert before.json() == {
        "ready": False,
        "notReady": {"policy": "no valid policy loaded", "apps": "no reconcile has finished yet"},
    }

    health.policy_loaded(True, apps=["jira", "slack"])
    health.app_reconciled("slack", ok=True, now=clock.now)
    waiting = httpx.get(f"{url}/readyz")
    assert waiting.status_code == 503
    assert waiting.json()["notReady"] == {"jira": "not reconciled yet"}

    health.app_reconciled("jira", ok=True, now=clock.now)
    ready = httpx.get(f"{url}/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"ready": True, "notReady": {}}

    health.app_reconciled("jira", ok=False, now=clock.now)
    failing = httpx.get(f"{url}/readyz")
    assert failing.status_code == 503
    assert failing.json()["notReady"] == {"jira": "the last reconcile failed"}

    health.app_reconciled("jira", ok=True, now=clock.now)
    clock.now += 601
    stale = httpx.get(f"{url}/readyz")
    assert stale.status_code == 503
    assert stale.json()["notReady"] == {
        "jira": "the last reconcile was 601s ago",
        "slack": "the last reconcile was 601s ago",
    }

    health.policy_loaded(True, apps=["slack"])  # jira left the policy: no longer waited for
    health.app_reconciled("slack", ok=True, now=clock.now)
    assert httpx.get(f"{url}/readyz").status_code == 200


async def test_the_server_runs_in_this_loop_and_leaves_signals_to_it() -> None:
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    recorder, health = Recorder(), Health()
    health.beat(health.clock())
    stop = asyncio.Event()
    running = await http.start(make_app(recorder, health), host="127.0.0.1", port=0)
    try:
        assert {sig: signal.getsignal(sig) for sig in handlers} == handlers
        async with httpx.AsyncClient() as client:
            response = await client.get(f"http://127.0.0.1:{running.port}/healthz")
        assert response.json() == {"alive": True}
    finally:
        await http.stop(running)
    assert {sig: signal.getsignal(sig) for sig in handlers} == handlers

    served = asyncio.create_task(
        http.serve(make_app(recorder, health), host="127.0.0.1", port=0, stop_when=stop)
    )
    stop.set()
    await served


async def test_a_port_in_use_fails_at_start() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(OSError):
            await http.start(make_app(Recorder(), Health()), port=taken.getsockname()[1])


# --- instrumentation of the httpx clients ------------------------------------------------------


async def _answer(request: Request) -> Response:
    code = int(request.path_params["code"])
    if code == 403:
        return JSONResponse([{"errorCode": "REQUEST_LIMIT_EXCEEDED", "message": "limit"}], 403)
    return Response(status_code=code)


TINY = Starlette(routes=[Route("/status/{code}", _answer, methods=["GET", "POST"])])


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_http_hooks_count_requests_by_code_and_rate_limits() -> None:
    recorder = Recorder()
    value = recorder.registry.get_sample_value
    with serving.serve(TINY) as url:
        async with httpx.AsyncClient(event_hooks=recorder.http_hooks("slack")) as client:
            for code in (200, 200, 429, 404):
                await client.get(f"{url}/status/{code}")
            await client.post(f"{url}/status/201")
        async with httpx.AsyncClient(event_hooks=recorder.http_hooks("salesforce")) as client:
            limited = await client.get(f"{url}/status/403")
    assert limited.json()[0]["errorCode"] == "REQUEST_LIMIT_EXCEEDED"  # the body is still there

    def requests(target: str, method: str, code: str) -> float | None:
        labels = {"target": target, "method": method, "code": code}
        return value("provisioner_http_requests_total", labels)

    assert requests("slack", "GET", "200") == 2
    assert requests("slack", "GET", "429") == 1
    assert requests("slack", "GET", "404") == 1
    assert requests("slack", "POST", "201") == 1
    assert requests("salesforce", "GET", "403") == 1
    assert value("provisioner_rate_limited_total", {"target": "slack"}) == 1
    assert value("provisioner_rate_limited_total", {"target": "salesforce"}) == 1
    assert value("provisioner_http_request_duration_seconds_count", {"target": "slack"}) == 5


async def test_a_request_without_a_response_counts_as_error() -> None:
    recorder = Recorder()
    connection = AppConnection(
        app=AppName("slack"),
        endpoint=f"http://127.0.0.1:{_closed_port()}/scim/v2",
        token=None,
        event_hooks=recorder.http_hooks("slack"),
    )

    async def no_sleep(_: float) -> None:
        return None

    client = ScimClient(connection, retry=RetryPolicy(attempts=2), sleep=no_sleep)
    try:
        with pytest.raises(Exception, match="ConnectError"):
            await client.request("GET", "/Users")
    finally:
        await client.aclose()
    labels = {"target": "slack", "method": "GET", "code": "error"}
    assert recorder.registry.get_sample_value("provisioner_http_requests_total", labels) == 2
    count = "provisioner_http_request_duration_seconds_count"
    assert recorder.registry.get_sample_value(count, {"target": "slack"}) == 2


async def test_clients_without_hooks_are_not_instrumented() -> None:
    connection = AppConnection(
        app=AppName("slack"), endpoint=f"http://127.0.0.1:{_closed_port()}", token=None
    )
    client = ScimClient(connection, retry=RetryPolicy(attempts=1))
    try:
        with pytest.raises(Exception, match="ConnectError"):
            await client.request("GET", "/Users")
    finally:
        await client.aclose()
