"""The HTTP side of the metrics: what every call to an app or the source counts and times.

Every client (each app's reconciler, the Salesforce source) gets httpx event hooks from here,
through `Recorder.http_hooks`; they feed `provisioner_http_requests_total`,
`provisioner_http_request_duration_seconds` and `provisioner_rate_limited_total`. It is apart
from `controller.metrics` because it is the one part that sees requests rather than cycles; the
collectors still live in the Recorder's registry, and their names are the same contract.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
from prometheus_client import CollectorRegistry, Counter, Histogram

HTTP_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
STARTED = "provisioner.started"
"""The request extension where the request hook leaves its perf_counter() start."""
LIMIT_EXCEEDED = b"REQUEST_LIMIT_EXCEEDED"

EventHook = Callable[..., Any]


class HttpMetrics:
    """The HTTP collectors, registered in `registry`, and the hooks that feed them."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "provisioner_http_requests_total",
            "HTTP requests to apps and the source, by status code ('error': no response)",
            ["target", "method", "code"],
            registry=registry,
        )
        self.duration = Histogram(
            "provisioner_http_request_duration_seconds",
            "HTTP request duration",
            ["target"],
            buckets=HTTP_BUCKETS,
            registry=registry,
        )
        self.rate_limited = Counter(
            "provisioner_rate_limited_total",
            "Requests refused for rate or API limits (429, REQUEST_LIMIT_EXCEEDED)",
            ["target"],
            registry=registry,
        )

    def hooks(self, target: str) -> dict[str, list[EventHook]]:
        """httpx `event_hooks` counting and timing every request to `target`.

        `target` is an app's name or "salesforce". Besides httpx's "request" and "response"
        hooks, the "error" hook takes the exception of a request that got no response
        (`httpx.RequestError`); httpx ignores that key, so our clients pass httpx only
        "request" and "response" and call "error" hooks themselves where they catch it.
        """
        self.rate_limited.labels(target)

        async def on_request(request: httpx.Request) -> None:
            request.extensions[STARTED] = time.perf_counter()

        async def on_response(response: httpx.Response) -> None:
            request = response.request
            self._observe(target, request)
            self.requests.labels(target, request.method, str(response.status_code)).inc()
            if response.status_code == 429 or (
                response.status_code == 403 and LIMIT_EXCEEDED in await response.aread()
            ):
                self.rate_limited.labels(target).inc()

        def on_error(error: Exception) -> None:
            try:
                request = error.request if isinstance(error, httpx.RequestError) else None
            except RuntimeError:  # raised before a request existed
                request = None
            if request is None:
                self.error(target, "unknown")
                return
            self._observe(target, request)
            self.error(target, request.method)

        return {"request": [on_request], "response": [on_response], "error": [on_error]}

    def error(self, target: str, method: str) -> None:
        """A request to `target` that got no response (connect failure, timeout, reset)."""
        self.requests.labels(target, method, "error").inc()

    def _observe(self, target: str, request: httpx.Request) -> None:
        started = request.extensions.get(STARTED)
        if isinstance(started, float):
            self.duration.labels(target).observe(time.perf_counter() - started)
