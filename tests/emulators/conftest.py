"""Fixtures for the Salesforce emulator's tests: an org on a fake clock, served on 127.0.0.1.

`salesforce` is the emulator as a client sees it (base URL, a token got through the JWT bearer
flow, helpers for the query resource and the admin endpoints); `org` and `clock` are the same
org and its clock, for setting up and checking behind the API's back. Keys and certificates come
from tests/salesforce_keys.py, which the client's tests share.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from emulators import serving
from emulators.salesforce import EmulatorSettings, Org, make_salesforce_app
from emulators.serving import ASGIApp
from tests.salesforce_keys import certificate_pem, make_assertion, rsa_key_pem

__all__ = ["certificate_pem", "rsa_key_pem"]  # fixtures, imported to be found here

SEED = Path(__file__).parents[2] / "emulators" / "seed" / "org.yaml"
CLIENT_ID = "3MVG9-test-client-id"
CLIENT_SECRET = "test-client-secret-5e0f"
INTEGRATION_USER = "integration@orion.example"
API = "/services/data/v62.0"
FULL_READ = (
    "SELECT Id, Username, Email, FirstName, LastName, IsActive, Profile.Name, UserRole.Name,"
    " Department, Title, FederationIdentifier, EmployeeNumber, ManagerId, SystemModstamp,"
    " (SELECT PermissionSet.Name FROM PermissionSetAssignments"
    " WHERE PermissionSet.IsOwnedByProfile = false) FROM User ORDER BY Id"
)


class FakeClock:
    """Starts at the real time (so assertions made now are current) and moves only when told."""

    def __init__(self) -> None:
        self.now = dt.datetime.now(dt.UTC).replace(microsecond=0)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> dt.datetime:
        self.now += dt.timedelta(seconds=seconds)
        return self.now


def make_users(count: int, *, permission_sets: int = 1) -> list[dict[str, Any]]:
    """`count` seed-format users; every third without a role, the odd ones with permission sets."""
    return [
        {
            "Username": f"user{i:04d}@gen.example",
            "Email": f"user{i:04d}@gen.example",
            "FirstName": f"First{i}",
            "LastName": f"Last{i}",
            "IsActive": i % 7 != 0,
            "Profile": {"Name": "Standard User"},
            "UserRole": None if i % 3 == 0 else {"Name": "Engineer"},
            "Department": "Engineering",
            "PermissionSets": [f"Set {k}" for k in range(permission_sets)] if i % 2 else [],
        }
        for i in range(count)
    ]


@dataclass
class Salesforce:
    """The served emulator, from a client's side."""

    url: str
    http: httpx.Client
    token: str

    def auth(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.token}"}

    def query(self, soql: str, *, batch_size: int | None = None) -> httpx.Response:
        headers = self.auth()
        if batch_size is not None:
            headers["Sforce-Query-Options"] = f"batchSize={batch_size}"
        return self.http.get(f"{self.url}{API}/query", params={"q": soql}, headers=headers)

    def more(self, next_records_url: str) -> httpx.Response:
        return self.http.get(self.url + next_records_url, headers=self.auth())

    def pages(self, soql: str, *, batch_size: int | None = None) -> list[dict[str, Any]]:
        """Every page of `soql`, following nextRecordsUrl; each must be a 200."""
        response = self.query(soql, batch_size=batch_size)
        assert response.status_code == 200, response.text
        pages = [response.json()]
        while not pages[-1]["done"]:
            response = self.more(pages[-1]["nextRecordsUrl"])
            assert response.status_code == 200, response.text
            pages.append(response.json())
        return pages

    def records(self, soql: str) -> list[dict[str, Any]]:
        return [record for page in self.pages(soql) for record in page["records"]]

    def admin(self, path: str, body: dict[str, Any] | None = None) -> httpx.Response:
        return self.http.post(f"{self.url}/_emulator/{path}", json=body or {})


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def org(clock: FakeClock) -> Org:
    return Org.from_seed(SEED, clock=clock)


@pytest.fixture
def settings(certificate_pem: bytes) -> EmulatorSettings:
    return EmulatorSettings(
        client_id=CLIENT_ID, certificate_pem=certificate_pem, client_secret=CLIENT_SECRET
    )


@pytest.fixture(scope="session")
def http() -> Iterator[httpx.Client]:
    """One client for the session: making one costs more than most of these tests."""
    with httpx.Client(timeout=10) as client:
        yield client


class _Mount:
    """One server for the session; each test mounts its emulator on it (uvicorn stops slowly)."""

    def __init__(self) -> None:
        self.app: ASGIApp | None = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":  # the server's own, not any one app's
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        assert self.app is not None, "no emulator mounted"
        await self.app(scope, receive, send)


@pytest.fixture(scope="session")
def _salesforce_host() -> Iterator[tuple[_Mount, str]]:
    mount = _Mount()
    with serving.serve(mount) as url:
        yield mount, url


@pytest.fixture
def serve_org(
    _salesforce_host: tuple[_Mount, str],
) -> Iterator[Callable[[Org, EmulatorSettings], str]]:
    """Mount an emulator for `org` on the session's server; returns its base URL."""
    mount, url = _salesforce_host

    def serve(org: Org, settings: EmulatorSettings) -> str:
        mount.app = make_salesforce_app(org, settings)
        return url

    yield serve
    mount.app = None


def jwt_token(http: httpx.Client, url: str, key_pem: bytes, username: str) -> str:
    assertion = make_assertion(key_pem, iss=CLIENT_ID, sub=username, aud=url)
    response = http.post(
        f"{url}/services/oauth2/token",
        data={"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": assertion},
    )
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


@pytest.fixture
def salesforce(
    serve_org: Callable[[Org, EmulatorSettings], str],
    org: Org,
    settings: EmulatorSettings,
    http: httpx.Client,
    rsa_key_pem: bytes,
) -> Salesforce:
    url = serve_org(org, settings)
    return Salesforce(url, http, jwt_token(http, url, rsa_key_pem, INTEGRATION_USER))
