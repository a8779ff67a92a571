"""The emulator's token endpoint and sessions, over a real socket: both flows, good and bad.

Assertions are on the wire: status, `{"error", "error_description"}` bodies, the content type,
the token response's fields, and what an issued token then opens (or no longer opens).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable

import httpx
import jwt
import pytest

from emulators.salesforce import EmulatorSettings, Org
from tests.emulators.conftest import (
    API,
    CLIENT_ID,
    CLIENT_SECRET,
    INTEGRATION_USER,
    FakeClock,
    Salesforce,
)
from tests.salesforce_keys import generate_key_pem, make_assertion

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
ORG_ID_PREFIX = "00D"


def _token(http: httpx.Client, url: str, **form: str) -> httpx.Response:
    return http.post(f"{url}/services/oauth2/token", data=form)


def _jwt(http: httpx.Client, url: str, assertion: str) -> httpx.Response:
    return _token(http, url, grant_type=JWT_BEARER, assertion=assertion)


def _refused(response: httpx.Response, error: str, description: str) -> None:
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json;charset=UTF-8"
    assert response.json() == {"error": error, "error_description": description}


def test_jwt_bearer_issues_a_token_that_opens_the_rest_api(
    salesforce: Salesforce, org: Org, rsa_key_pem: bytes, http: httpx.Client
) -> None:
    assertion = make_assertion(rsa_key_pem, iss=CLIENT_ID, sub=INTEGRATION_USER, aud=salesforce.url)
    response = _jwt(http, salesforce.url, assertion)

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json;charset=UTF-8"
    body = response.json()
    assert set(body) == {"access_token", "scope", "instance_url", "id", "token_type"}
    assert body["token_type"] == "Bearer"
    assert body["instance_url"] == salesforce.url
    assert body["access_token"].startswith(org.org_id[:15] + "!")
    user = org.user_by_username(INTEGRATION_USER)
    assert user is not None
    assert body["id"] == f"{salesforce.url}/id/{org.org_id}/{user['Id']}"
    assert org.org_id.startswith(ORG_ID_PREFIX)
    query = http.get(
        f"{salesforce.url}{API}/query",
        params={"q": "SELECT Id FROM User LIMIT 1"},
        headers={"Authorization": f"Bearer {body['access_token']}"},
    )
    assert query.status_code == 200


@pytest.mark.parametrize(
    "audience", ["https://login.salesforce.com", "https://test.salesforce.com"]
)
def test_jwt_bearer_accepts_the_login_audiences(
    salesforce: Salesforce, rsa_key_pem: bytes, http: httpx.Client, audience: str
) -> None:
    assertion = make_assertion(rsa_key_pem, iss=CLIENT_ID, sub=INTEGRATION_USER, aud=audience)
    assert _jwt(http, salesforce.url, assertion).status_code == 200


def test_jwt_bearer_prn_wins_over_sub_and_exp_may_be_a_string(
    salesforce: Salesforce, rsa_key_pem: bytes, http: httpx.Client
) -> None:
    claims = {
        "iss": CLIENT_ID,
        "sub": "nobody@nowhere.example",
        "prn": INTEGRATION_USER,
        "aud": salesforce.url,
        "exp": str(int(time.time()) + 60),  # Salesforce's own example writes a string
    }
    response = _jwt(http, salesforce.url, jwt.encode(claims, rsa_key_pem, algorithm="RS256"))
    assert response.status_code == 200, response.text
    claims["prn"], claims["sub"] = claims["sub"], claims["prn"]
    response = _jwt(http, salesforce.url, jwt.encode(claims, rsa_key_pem, algorithm="RS256"))
    _refused(response, "invalid_grant", "authentication failure")


@pytest.mark.parametrize(
    ("change", "error", "description"),
    [
        ({"aud": "https://evil.example"}, "invalid_grant", "audience is invalid"),
        ({"exp_offset_seconds": -30}, "invalid_grant", "expired authorization code"),
        ({"exp_offset_seconds": 3600}, "invalid_grant", "expired authorization code"),
        ({"iss": "3MVG9-someone-else"}, "invalid_client_id", "client identifier invalid"),
        ({"sub": "nobody@orion.example"}, "invalid_grant", "authentication failure"),
        ({"sub": "barbara.liskov@orion.example"}, "invalid_grant", "inactive user"),
    ],
    ids=["wrong-aud", "expired", "exp-too-far", "unknown-client", "unknown-user", "inactive"],
)
def test_jwt_bearer_refusals(
    salesforce: Salesforce,
    rsa_key_pem: bytes,
    http: httpx.Client,
    change: dict[str, str | int],
    error: str,
    description: str,
) -> None:
    claims: dict[str, str | int] = {
        "iss": CLIENT_ID,
        "sub": INTEGRATION_USER,
        "aud": salesforce.url,
    }
    claims |= change
    assertion = make_assertion(rsa_key_pem, **claims)  # type: ignore[arg-type]
    _refused(_jwt(http, salesforce.url, assertion), error, description)


def test_jwt_bearer_refuses_a_signature_by_another_key(
    salesforce: Salesforce, http: httpx.Client
) -> None:
    other = generate_key_pem()
    assertion = make_assertion(other, iss=CLIENT_ID, sub=INTEGRATION_USER, aud=salesforce.url)
    _refused(_jwt(http, salesforce.url, assertion), "invalid_grant", "invalid assertion")


def test_jwt_bearer_refuses_hs256_and_garbage(salesforce: Salesforce, http: httpx.Client) -> None:
    claims = {"iss": CLIENT_ID, "sub": INTEGRATION_USER, "aud": salesforce.url}
    hs256 = jwt.encode(claims | {"exp": int(time.time()) + 60}, "x" * 32, algorithm="HS256")
    _refused(_jwt(http, salesforce.url, hs256), "invalid_grant", "invalid assertion")
    _refused(_jwt(http, salesforce.url, "not.a.jwt"), "invalid_grant", "invalid assertion")


def test_jwt_bearer_refuses_users_who_have_not_approved_the_app(
    serve_org: Callable[[Org, EmulatorSettings], str],
    org: Org,
    certificate_pem: bytes,
    rsa_key_pem: bytes,
    http: httpx.Client,
) -> None:
    settings = EmulatorSettings(
        client_id=CLIENT_ID,
        certificate_pem=certificate_pem,
        approved_usernames=frozenset({INTEGRATION_USER}),
    )
    url = serve_org(org, settings)
    for username, status in [(INTEGRATION_USER, 200), ("ada.lovelace@orion.example", 400)]:
        assertion = make_assertion(rsa_key_pem, iss=CLIENT_ID, sub=username, aud=url)
        response = _jwt(http, url, assertion)
        assert response.status_code == status
    _refused(response, "invalid_grant", "user hasn't approved this consumer")


def test_client_credentials_issues_a_signed_token(
    salesforce: Salesforce, org: Org, clock: FakeClock, http: httpx.Client
) -> None:
    response = _token(
        http,
        salesforce.url,
        grant_type="client_credentials",
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["instance_url"] == salesforce.url
    assert body["issued_at"] == str(int(clock.now.timestamp()) * 1000)  # a string, epoch ms
    digest = hmac.new(
        CLIENT_SECRET.encode(), (body["id"] + body["issued_at"]).encode(), hashlib.sha256
    ).digest()
    assert body["signature"] == base64.b64encode(digest).decode()
    assert "refresh_token" not in body
    user = org.user_by_username(INTEGRATION_USER)  # the only System Administrator: "Run As"
    assert user is not None
    assert body["id"].endswith(f"/{org.org_id}/{user['Id']}")


def test_client_credentials_refusals(salesforce: Salesforce, http: httpx.Client) -> None:
    good = {"grant_type": "client_credentials", "client_id": CLIENT_ID}
    wrong = _token(http, salesforce.url, **good, client_secret="guess")
    _refused(wrong, "invalid_client", "invalid client credentials")
    unknown = _token(http, salesforce.url, **good | {"client_id": "x"}, client_secret=CLIENT_SECRET)
    _refused(unknown, "invalid_client_id", "client identifier invalid")
    for host in ("login.salesforce.com", "test.salesforce.com"):
        on_login = http.post(
            f"{salesforce.url}/services/oauth2/token",
            data=good | {"client_secret": CLIENT_SECRET},
            headers={"Host": host},
        )
        _refused(on_login, "invalid_grant", "request not supported on this domain")
    other = _token(http, salesforce.url, grant_type="password", username="a", password="b")
    _refused(other, "unsupported_grant_type", "grant type not supported")


def test_expired_sessions_get_401_invalid_session_id(
    salesforce: Salesforce, http: httpx.Client
) -> None:
    assert salesforce.query("SELECT Id FROM User").status_code == 200
    expired = salesforce.admin("sessions/expire")
    assert expired.status_code == 200

    response = salesforce.query("SELECT Id FROM User")

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Token"
    assert response.headers["sforce-limit-info"] == "api-usage=1/15000"
    assert response.json() == [
        {"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}
    ]
    missing = http.get(f"{salesforce.url}{API}/query", params={"q": "SELECT Id FROM User"})
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == "Token"


def test_sessions_end_after_two_idle_hours(salesforce: Salesforce, clock: FakeClock) -> None:
    clock.advance(7199)
    assert salesforce.query("SELECT Id FROM User").status_code == 200  # use restarts the timeout
    clock.advance(7199)
    assert salesforce.query("SELECT Id FROM User").status_code == 200
    clock.advance(7200)
    assert salesforce.query("SELECT Id FROM User").status_code == 401
