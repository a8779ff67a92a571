"""1,000 half-open connections to the metrics port do not stop a cycle (issue 15).

A real `provisioner run` whose open-file limit is cut to 512, soft and hard (half the usual
default soft limit, with no room to raise it: 1,000 connections are more than it can hold, so
the test fails unless the port bounds them), is sent 1,000 connections that never finish a
request: half send nothing, half half a request line, and the test keeps its ends open. A cycle
forced then must still create the joiners' accounts in the app, /metrics and /healthz must
still answer, and the log must not explode (asyncio once logged 41 MB in a second).
"""

from __future__ import annotations

import contextlib
import resource
import signal
import socket
from collections.abc import Callable, Iterator
from urllib.parse import urlsplit

import httpx
import pytest

from tests.e2e.conftest import make_users
from tests.process.conftest import Running, wait_for

Start = Callable[..., Running]
HALF_OPEN = 1000
CONTROLLER_FILES = 512
TEST_FILES = 4096
"""The test's own handles: its 1,000 client sockets, the SCIM app's, and pytest's."""
LOG_BOUND_BYTES = 256 * 1024


@pytest.fixture
def enough_files() -> Iterator[None]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = TEST_FILES if hard == resource.RLIM_INFINITY else min(hard, TEST_FILES)
    if wanted < HALF_OPEN + 200:
        pytest.skip(f"the hard limit on open files ({hard}) is too low for {HALF_OPEN} sockets")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, wanted), hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def half_open(host: str, port: int, count: int) -> list[socket.socket]:
    """`count` connections that never finish a request: every other one sends half a line."""
    opened = []
    for number in range(count):
        connection = socket.create_connection((host, port), timeout=30)
        if number % 2:
            with contextlib.suppress(OSError):  # the server may already have dropped it
                connection.sendall(b"GET /metr")
        opened.append(connection)
    return opened


def answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.mark.usefixtures("enough_files")
def test_half_open_connections_to_the_metrics_port_do_not_stop_a_cycle(
    controller: Start,
) -> None:
    running = controller(24)
    running.wait_cycles(1)
    assert len(running.accounts()) == 16
    # The controller raised its soft limit at start; now it has 512 handles and no more.
    resource.prlimit(
        running.process.pid, resource.RLIMIT_NOFILE, (CONTROLLER_FILES, CONTROLLER_FILES)
    )
    address = urlsplit(running.metrics_url)
    assert address.hostname is not None and address.port is not None
    sockets = half_open(address.hostname, address.port, HALF_OPEN)
    try:
        running.write_users(make_users(30))  # six joiners, four of them granted the app
        running.signal(signal.SIGUSR1)
        running.wait_cycles(2)
        assert len(running.accounts()) == 20

        base = f"{address.scheme}://{address.netloc}"
        wait_for(lambda: answers(f"{base}/healthz"), "/healthz to answer")
        wait_for(lambda: answers(f"{base}/metrics"), "/metrics to answer")
        assert running.metric("provisioner_reconcile_total", app="tool", result="success") == 2.0
    finally:
        for connection in sockets:
            connection.close()
    assert running.stop() == 0
    assert running.log_path.stat().st_size < LOG_BOUND_BYTES
