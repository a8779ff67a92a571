"""TLS trust, against a real TLS server on 127.0.0.1 with a throwaway self-signed CA.

Without `caFile` the read fails naming the cause (`certificate verify failed: self-signed
certificate`) and what to do (set caFile), and is not retried; with `caFile` pointing at the CA
it succeeds, and the default trust store still applies beside it. The same holds for an app.
"""

from __future__ import annotations

import contextlib
import datetime
import ssl
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from controller import errors, tls
from controller.policy.schema import SalesforceSpec
from controller.sources.salesforce import SalesforceSource
from controller.sources.salesforce.retries import RetryPolicy
from emulators import credentials, requests_log
from emulators.salesforce import EmulatorSettings, Org, make_salesforce_app
from emulators.serving import serve
from reconcilers.base import AppConnection
from reconcilers.http import ApiSession
from reconcilers.scim.client import error_for
from tests.sources.conftest import CLIENT_ID, CLIENT_SECRET, SECRET_ENV, Clock, user

TRUST_FAILURE = (
    "TLS certificate not trusted (certificate verify failed: self-signed certificate); "
    "set caFile to the CA that signed it"
)


@pytest.fixture(scope="module")
def tls_org(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """A Salesforce emulator over https, and the directory holding its CA as ca.pem."""
    directory = tmp_path_factory.mktemp("tls")
    pair = credentials.generate("throwaway-test-ca")
    (directory / "ca.pem").write_bytes(pair.certificate_pem)
    (directory / "key.pem").write_bytes(pair.key_pem)
    now = datetime.datetime.now(datetime.UTC)
    org = Org.from_users([user(n) for n in range(1, 4)], clock=Clock(now))
    app = make_salesforce_app(
        org, EmulatorSettings(client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    )
    certfile, keyfile = str(directory / "ca.pem"), str(directory / "key.pem")
    with serve(app, ssl_certfile=certfile, ssl_keyfile=keyfile) as url:
        yield url, directory


@contextlib.asynccontextmanager
async def _source(url: str, directory: Path, **spec: str) -> AsyncIterator[SalesforceSource]:
    document = {
        "instanceUrl": url,
        "auth": {
            "flow": "client-credentials",
            "clientId": CLIENT_ID,
            "clientSecretEnv": SECRET_ENV,
        },
        **spec,
    }
    source = SalesforceSource(
        "org",
        SalesforceSpec.model_validate(document),
        base_dir=directory,
        environ={SECRET_ENV: CLIENT_SECRET},
        retry=RetryPolicy(attempts=3, backoff_seconds=0, jitter_seconds=0),
    )
    try:
        yield source
    finally:
        await source.aclose()


async def test_an_untrusted_certificate_names_its_cause_and_what_to_do(
    tls_org: tuple[str, Path],
) -> None:
    url, directory = tls_org
    async with _source(url, directory) as source:
        read = await source.read()
        assert read.error is not None
        assert TRUST_FAILURE in read.error
        assert "OAuth token request" in read.error
        assert source.requests_sent == 1  # a CA nobody trusts stays untrusted: not retried
    assert not [r for r in requests_log.at(url).entries() if r.path.startswith("/services/")]


async def test_ca_file_adds_the_ca_and_the_read_succeeds(tls_org: tuple[str, Path]) -> None:
    url, directory = tls_org
    async with _source(url, directory, caFile="ca.pem") as source:  # relative: base_dir
        read = await source.read()
    assert read.error is None
    assert len(read.users) == 3


def test_ca_file_adds_to_the_default_trust_store_rather_than_replacing_it(
    tls_org: tuple[str, Path],
) -> None:
    _, directory = tls_org
    default = len(tls.context().get_ca_certs())
    assert default > 50  # certifi's bundle
    assert len(tls.context(str(directory / "ca.pem")).get_ca_certs()) == default + 1


def test_a_ca_file_that_is_not_pem_certificates_is_refused(tmp_path: Path) -> None:
    (tmp_path / "key-not-ca.pem").write_text("-----BEGIN PRIVATE KEY-----\nAAAA\n")
    (tmp_path / "broken.pem").write_text("-----BEGIN CERTIFICATE-----\nnot base64!\n")
    assert "no PEM certificate" in str(tls.ca_file_problem(str(tmp_path / "key-not-ca.pem")))
    assert "not a file of PEM certificates" in str(
        tls.ca_file_problem(str(tmp_path / "broken.pem"))
    )
    assert "cannot be read" in str(tls.ca_file_problem(str(tmp_path / "missing.pem")))


async def test_an_app_behind_an_untrusted_certificate_stalls_with_the_cause(
    tls_org: tuple[str, Path],
) -> None:
    url, directory = tls_org
    for ca_file, expected in ((None, TRUST_FAILURE), (str(directory / "ca.pem"), None)):
        session = ApiSession(
            AppConnection(app="app", endpoint=url, token="t0ken-not-secret", ca_file=ca_file),
            error_for=error_for,
            headers={},
        )
        try:
            if expected is None:
                response = await session.request("GET", "/_emulator/state")
                assert response.status_code == 200
            else:
                with pytest.raises(errors.StalledError) as refused:
                    await session.request("GET", "/_emulator/state")
                assert expected in str(refused.value)
                assert str(refused.value).startswith("GET /_emulator/state: TLS")
        finally:
            await session.aclose()


def test_a_tls_error_made_without_a_reason_is_still_described() -> None:
    """Found by fuzzing: an `ssl.SSLError` raised by other code may lack `reason`."""
    failure = ConnectionError("handshake")
    failure.__context__ = ssl.SSLError(1, "wrong version number")
    said = tls.failure(failure)
    assert said is not None and said.startswith("TLS handshake failed (")
    assert tls.failure(ConnectionError("refused")) is None


async def test_a_ca_renewed_at_the_same_path_is_used_once_the_source_is_rebuilt(
    tls_org: tuple[str, Path], tmp_path: Path
) -> None:
    """The context was cached by path: a CA file renewed in place was never read again."""
    url, directory = tls_org
    (tmp_path / "ca.pem").write_bytes(credentials.generate("some-other-ca").certificate_pem)
    async with _source(url, tmp_path, caFile="ca.pem") as source:
        read = await source.read()
    assert read.error is not None and "TLS certificate not trusted" in read.error

    (tmp_path / "ca.pem").write_bytes((directory / "ca.pem").read_bytes())  # renewed
    async with _source(url, tmp_path, caFile="ca.pem") as source:
        read = await source.read()
    assert read.error is None
    assert len(read.users) == 3


def test_the_same_ca_at_another_path_shares_one_context(tls_org: tuple[str, Path]) -> None:
    """A git policy source checks out each commit at a new path; one context per path leaked."""
    _, directory = tls_org
    first = tls.context(str(directory / "ca.pem"))
    (directory / "copy.pem").write_bytes((directory / "ca.pem").read_bytes())
    assert tls.context(str(directory / "copy.pem")) is first


def test_a_pem_ca_file_with_a_non_ascii_comment_is_accepted(
    tls_org: tuple[str, Path], tmp_path: Path
) -> None:
    _, directory = tls_org
    commented = "# Issuer: CN=Müller AG\n".encode() + (directory / "ca.pem").read_bytes()
    (tmp_path / "ca.pem").write_bytes(commented)
    assert tls.ca_file_problem(str(tmp_path / "ca.pem")) is None
    default = len(tls.context().get_ca_certs())
    assert len(tls.context(str(tmp_path / "ca.pem")).get_ca_certs()) == default + 1
