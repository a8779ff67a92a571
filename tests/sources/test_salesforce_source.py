"""The Salesforce source against the running emulator: sign-in, full reads, paging, expiry.

Every test talks HTTP over a real socket to `emulators.salesforce` served by uvicorn; errors
are checked word for word where the wording is ours, and for Salesforce's code where it is
theirs, and no message may carry the client secret, a token, an assertion or the key.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable

import httpx
import jwt

from controller.model import SourceRead
from controller.sources.salesforce import SalesforceSource
from emulators import credentials
from tests.sources.conftest import (
    CLIENT_ID,
    CLIENT_SECRET,
    INTEGRATION_USER,
    SECRET_ENV,
    Wire,
    World,
    user,
)

MakeWorld = Callable[..., World]


def assert_clean(message: str | None, source: SalesforceSource, world: World) -> None:
    """No credential of any kind in an error message."""
    assert message is not None
    assert CLIENT_SECRET not in message
    assert "PRIVATE KEY" not in message and world.key_pem.decode().splitlines()[1] not in message
    for secret in source._tokens.secrets() if source._tokens else ():
        assert secret not in message
    assert "Bearer" not in message and "eyJ" not in message  # no JWT, no header


def by_username(read: SourceRead) -> dict[str, object]:
    return {u.username: u for u in read.users}


async def test_jwt_bearer_reads_users_permission_sets_and_freezes(make_world: MakeWorld) -> None:
    world = make_world(
        [
            user(1, PermissionSets=["Jira Admin", "Slack User"], Contract_End__c="2027-03-31"),
            user(2, IsFrozen=True),
            user(3, IsActive=False, PermissionSets=[]),
        ]
    )
    wire = Wire()
    source = world.source(fields=["Contract_End__c"], wire=wire)
    read = await source.read()
    assert read.ok, read.error
    token_request = wire.requests[0]
    assert token_request.url == f"{world.url}/services/oauth2/token"
    form = urllib.parse.parse_qs(token_request.content.decode())
    assert form["grant_type"] == ["urn:ietf:params:oauth:grant-type:jwt-bearer"]
    assertion = form["assertion"][0]
    assert jwt.get_unverified_header(assertion)["alg"] == "RS256"
    claims = jwt.decode(assertion, options={"verify_signature": False})
    assert claims["iss"] == CLIENT_ID and claims["sub"] == INTEGRATION_USER
    assert claims["aud"] == world.url
    assert 0 < claims["exp"] - world.clock.now.timestamp() <= 180
    users = {u.username: u for u in read.users}
    assert set(users) == {INTEGRATION_USER, *(f"user{n:04d}@orion.example" for n in (1, 2, 3))}
    one, two, three = (users[f"user{n:04d}@orion.example"] for n in (1, 2, 3))
    assert one.permission_sets == {"Jira Admin", "Slack User"}
    assert one.email == "User0001@Orion.example" and one.first_name == "First1"
    assert one.profile == "Standard User" and one.role == "Floor Nurse"
    assert one.fields["Contract_End__c"] == "2027-03-31" and one.fields["Title"] == "Engineer"
    assert one.id.startswith("005") and len(one.id) == 18
    assert two.frozen and not one.frozen and two.role is None
    assert two.fields["UserRole.Name"] is None
    assert two.permission_sets == frozenset()  # the profile-owned set is not among them
    assert not three.is_active and three.department == "Support"
    assert source.api_usage is not None and source.api_usage[0] >= 2


async def test_jwt_bearer_with_the_wrong_key_or_user_fails_cleanly(make_world: MakeWorld) -> None:
    world = make_world([user(1)])
    (world.directory / "keys" / "other.pem").write_bytes(credentials.generate().key_pem)
    wrong_key = world.source(auth={"privateKeyFile": "keys/other.pem"})
    read = await wrong_key.read()
    assert read.users == () and read.error is not None
    assert read.error.startswith(f"OAuth token request to {world.url}/services/oauth2/token: ")
    assert "invalid_grant" in read.error
    assert_clean(read.error, wrong_key, world)

    stranger = world.source(auth={"username": "nobody@orion.example"})
    read = await stranger.read()
    assert read.error is not None and "invalid_grant: " in read.error
    assert_clean(read.error, stranger, world)

    unknown_app = world.source(auth={"clientId": "3MVG9-unknown"})
    read = await unknown_app.read()
    assert read.error is not None and "invalid_client_id: " in read.error


async def test_a_missing_or_bad_key_file_is_named(make_world: MakeWorld) -> None:
    world = make_world([])
    read = await world.source(auth={"privateKeyFile": "keys/absent.pem"}).read()
    assert read.error == (
        f"cannot read privateKeyFile {world.directory / 'keys/absent.pem'}: "
        "No such file or directory"
    )
    (world.directory / "keys" / "garbage.pem").write_text("not a key")
    read = await world.source(auth={"privateKeyFile": "keys/garbage.pem"}).read()
    assert read.error == (
        f"privateKeyFile {world.directory / 'keys/garbage.pem'} "
        "is not an unencrypted PEM private key"
    )


async def test_client_credentials_good_and_bad(make_world: MakeWorld) -> None:
    world = make_world([user(1, PermissionSets=["Jira Admin"])])
    wire = Wire()
    good = world.source(flow="client-credentials", wire=wire)
    read = await good.read()
    assert read.ok, read.error
    assert {u.username for u in read.users} == {INTEGRATION_USER, "user0001@orion.example"}
    token_request = wire.requests[0]
    assert token_request.url == f"{world.url}/services/oauth2/token"  # the My Domain host

    bad = world.source(flow="client-credentials", environ={SECRET_ENV: "wrong-secret-123"})
    read = await bad.read()
    assert read.error == (
        f"OAuth token request to {world.url}/services/oauth2/token: "
        "invalid_client: invalid client credentials"
    )
    assert "wrong-secret-123" not in read.error

    missing = await world.source(flow="client-credentials", environ={}).read()
    assert missing.error == (
        f"environment variable {SECRET_ENV} (clientSecretEnv) is not set or empty"
    )


async def test_paging_reads_every_user_across_irregular_pages(make_world: MakeWorld) -> None:
    world = make_world(
        [user(n, PermissionSets=["Jira Admin"] if n % 5 else []) for n in range(1, 731)]
    )
    wire = Wire()
    source = world.source(batchSize=200, wire=wire)
    read = await source.read()
    assert read.ok, read.error
    assert len(read.users) == 731 and len({u.id for u in read.users}) == 731
    assert sum(bool(u.permission_sets) for u in read.users) == 584  # n % 5 != 0
    pages = [
        len(wire.json(response)["records"])
        for request, response in zip(wire.requests, wire.responses, strict=True)
        if request.url.path.startswith("/services/data/v62.0/query")
        and "UserLogin" not in str(request.url)
    ]
    assert len(pages) >= 4 and len(set(pages)) > 1  # <= 200 users and children a page, irregular
    assert all(r.headers["Sforce-Query-Options"] == "batchSize=200" for r in wire.requests[1:])


async def test_a_session_expiring_mid_read_is_refreshed_once(make_world: MakeWorld) -> None:
    world = make_world([user(n) for n in range(1, 451)])
    expired: list[str] = []

    async def expire_after_first_page(request: httpx.Request, response: httpx.Response) -> None:
        if request.url.path == "/services/data/v62.0/query" and not expired:
            expired.append(request.url.path)
            await world.admin("/sessions/expire")

    wire = Wire(hook=expire_after_first_page)
    read = await world.source(batchSize=200, wire=wire).read()
    assert read.ok, read.error
    assert len(read.users) == 451
    assert wire.count("/services/oauth2/token") == 2  # one refresh, no more
    refused = [r for r in wire.responses if r.status_code == 401]
    assert len(refused) == 1 and refused[0].json()[0]["errorCode"] == "INVALID_SESSION_ID"
    assert wire.requests[wire.responses.index(refused[0]) + 1].url.path.endswith("/token")


async def test_a_bad_where_is_reported_as_malformed_query(make_world: MakeWorld) -> None:
    world = make_world([user(1)])
    source = world.source(where="Department = = 'Support'")
    read = await source.read()
    assert read.users == () and read.error is not None
    assert read.error.startswith(
        "reading users: GET /services/data/v62.0/query: HTTP 400 MALFORMED_QUERY: "
        "SELECT Id, Username,"
    )
    assert "ERROR at Row:1:Column:" in read.error
    assert_clean(read.error, source, world)


async def test_where_narrows_the_users_read(make_world: MakeWorld) -> None:
    world = make_world([user(n) for n in range(1, 7)])
    read = await world.source(where="Department = 'Support' OR Title = 'O\\'Neil'").read()
    assert read.ok, read.error
    assert {u.department for u in read.users} == {"Support"}
    assert len(read.users) == 3  # users 0, 3 and 6
