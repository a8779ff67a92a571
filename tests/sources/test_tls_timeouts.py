"""A timeout on an HTTPS connection is a timeout, not a TLS failure.

anyio's TLS stream leaves `ssl.SSLWantReadError` (a kind of `SSLError`) in the chain of a read
that timed out; reading that as "TLS handshake failed" made every slow HTTPS endpoint a final,
unretried failure. These tests stall a real TLS server on 127.0.0.1 (a throwaway CA) after the
request and during the handshake, and check the error is a timeout, retried, never about TLS.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from controller import errors, tls
from controller.policy.schema import SalesforceSpec
from controller.sources.salesforce import SalesforceSource
from controller.sources.salesforce import source as source_module
from controller.sources.salesforce.retries import RetryPolicy, transient
from emulators import credentials
from reconcilers.base import AppConnection
from reconcilers.http import ApiSession
from reconcilers.scim.client import error_for
from tests.sources.conftest import CLIENT_ID, CLIENT_SECRET, SECRET_ENV

TIMEOUT = 0.5


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("stall")
    pair = credentials.generate("throwaway-test-ca")
    (directory / "ca.pem").write_bytes(pair.certificate_pem)
    (directory / "key.pem").write_bytes(pair.key_pem)
    return directory


@contextlib.contextmanager
def stalling(directory: Path, *, handshake: bool) -> Iterator[str]:
    """An https URL whose server completes the handshake and reads the request, then says
    nothing (`handshake=True`), or never answers the handshake at all (`handshake=False`)."""
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(directory / "ca.pem", directory / "key.pem")
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.1)  # so the thread sees `done` soon
    done = threading.Event()
    held: list[socket.socket] = []

    def serve() -> None:
        while not done.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            connection.settimeout(None)
            held.append(connection)
            if handshake:
                with contextlib.suppress(OSError):
                    wrapped = server.wrap_socket(connection, server_side=True)
                    held.append(wrapped)
                    wrapped.recv(65536)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        done.set()
        for connection in held:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)  # wakes a `recv` waiting on it
            connection.close()
        thread.join(5)
        listener.close()


@pytest.mark.parametrize("handshake", [True, False], ids=["after-request", "in-handshake"])
async def test_a_timeout_over_tls_is_a_retried_timeout_not_a_tls_failure(
    ca: Path, handshake: bool
) -> None:
    with stalling(ca, handshake=handshake) as url:
        context = tls.context(str(ca / "ca.pem"))
        async with httpx.AsyncClient(verify=context, timeout=TIMEOUT) as client:
            with pytest.raises(httpx.TimeoutException) as stalled:
                await client.get(f"{url}/x")
    assert tls.failure(stalled.value) is None
    assert transient(stalled.value)


@pytest.mark.parametrize("handshake", [True, False], ids=["after-request", "in-handshake"])
async def test_a_salesforce_read_that_times_out_over_tls_is_retried(
    ca: Path, handshake: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(source_module, "TIMEOUT_SECONDS", TIMEOUT)
    with stalling(ca, handshake=handshake) as url:
        spec = SalesforceSpec.model_validate(
            {
                "instanceUrl": url,
                "auth": {
                    "flow": "client-credentials",
                    "clientId": CLIENT_ID,
                    "clientSecretEnv": SECRET_ENV,
                },
                "caFile": "ca.pem",
            }
        )
        source = SalesforceSource(
            "org",
            spec,
            base_dir=ca,
            environ={SECRET_ENV: CLIENT_SECRET},
            retry=RetryPolicy(attempts=3, backoff_seconds=0, jitter_seconds=0),
        )
        try:
            read = await source.read()
        finally:
            await source.aclose()
    assert read.error is not None
    assert "Timeout" in read.error
    assert "TLS" not in read.error
    assert source.requests_sent == 3  # retried, as any timeout is


@pytest.mark.parametrize("handshake", [True, False], ids=["after-request", "in-handshake"])
async def test_an_app_that_times_out_over_tls_is_transient(ca: Path, handshake: bool) -> None:
    with stalling(ca, handshake=handshake) as url:
        session = ApiSession(
            AppConnection(
                app="app",
                endpoint=url,
                token="t0ken-not-secret",
                ca_file=str(ca / "ca.pem"),
                timeout_seconds=TIMEOUT,
            ),
            error_for=error_for,
            headers={},
        )
        try:
            with pytest.raises(errors.AppError) as stalled:
                await session.request("GET", "/x")
        finally:
            await session.aclose()
    assert isinstance(stalled.value, errors.TransientError)
    assert "TLS" not in str(stalled.value)
    assert "Timeout" in str(stalled.value)
