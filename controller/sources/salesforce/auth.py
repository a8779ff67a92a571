"""Signing in to Salesforce: the JWT bearer and client-credentials flows, and one cached token.

Both flows are server-to-server and return no refresh token: when Salesforce says the session
is invalid the client calls `invalidate()` and the next `token()` simply asks again. The JWT
bearer flow signs a short-lived RS256 assertion (iss = consumer key, sub = username, aud = the
login URL, exp within 3 minutes) and posts it to `{loginUrl}/services/oauth2/token`; client
credentials are exchanged at the org's My Domain host (Salesforce refuses them on
login.salesforce.com). Queries then go to the `instance_url` the token response names. A token
request that fails in passing (network, 5xx, 429, a body cut short) is retried as queries are;
a refusal (`invalid_grant`...) is final.
Refusals surface as `error: error_description`, exactly as Salesforce words them; the
assertion, secret and token never enter a message (`secrets()` lists them for scrubbing).
"""

from __future__ import annotations

import asyncio
import collections
import datetime
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
import jwt
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

from controller import http_bodies
from controller.sources.salesforce import retries
from controller.sources.salesforce.bounded_http import BoundedHttp
from controller.sources.salesforce.errors import (
    SalesforceAuthError,
    SalesforceConfigError,
    TransientSalesforceError,
)
from controller.sources.salesforce.retries import RetryPolicy, UnreadableResponseError

TOKEN_PATH = "/services/oauth2/token"  # noqa: S105 - a path, not a password
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
ASSERTION_LIFETIME = datetime.timedelta(minutes=2)
"""Salesforce wants exp within 3 minutes; 2 leaves room for clock skew either way."""
KEEP_SECRETS = 8
"""Recent tokens and assertions remembered for scrubbing; older ones no longer circulate."""
Clock = Callable[[], datetime.datetime]


@dataclass(frozen=True)
class Token:
    access_token: str
    instance_url: str
    """Where the REST API of this org answers, from the token response (no trailing slash)."""


class TokenProvider(Protocol):
    async def token(self) -> Token:
        """The cached token, or a new one; raises SalesforceError kinds."""
        ...

    def invalidate(self, stale: Token | None = None) -> None:
        """Forget the cached token (only if it is still `stale`, when given)."""
        ...

    def secrets(self) -> tuple[str, ...]:
        """The credentials this provider holds or recently held, so messages can be scrubbed."""
        ...


def load_private_key(pem: bytes, *, path: str) -> RSAPrivateKey:
    """The RSA key in `pem`; the error names the file, never its content."""
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise SalesforceConfigError(
            f"privateKeyFile {path} is not an unencrypted PEM private key"
        ) from None
    if not isinstance(key, RSAPrivateKey):
        raise SalesforceConfigError(f"privateKeyFile {path} is not an RSA key (RS256 needs one)")
    return key


class _OAuthTokens:
    """A token cache over one token request; subclasses say what to post where."""

    def __init__(self, http: BoundedHttp, token_url: str, retry: RetryPolicy | None) -> None:
        self._http = http
        self._url = token_url
        self._retry = retry or RetryPolicy()
        self._token: Token | None = None
        self._lock = asyncio.Lock()
        self._secrets: collections.deque[str] = collections.deque(maxlen=KEEP_SECRETS)
        self._fixed_secrets: tuple[str, ...] = ()

    def _form(self) -> dict[str, str]:
        raise NotImplementedError

    async def token(self) -> Token:
        async with self._lock:  # concurrent queries share one token request
            if self._token is None:
                self._token = await self._request()
                self._secrets.append(self._token.access_token)
            return self._token

    def invalidate(self, stale: Token | None = None) -> None:
        if stale is None or stale == self._token:
            self._token = None

    def secrets(self) -> tuple[str, ...]:
        return (*self._fixed_secrets, *self._secrets)

    async def _request(self) -> Token:
        """A new token, the request retried (`retries`) while it fails in passing."""
        where = f"OAuth token request to {self._url}"
        try:
            async for attempt in retries.attempts(self._retry):
                with attempt:
                    return await self._request_once(where)
        except (httpx.RequestError, http_bodies.BodyError) as error:
            raise retries.network_error(where, error) from None
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def _request_once(self, where: str) -> Token:
        response = await self._http.send("POST", self._url, data=self._form())
        return token_from(where, response.status_code, response.content)


def token_from(where: str, status: int, content: bytes) -> Token:
    """The token in a token endpoint's answer, or the error it amounts to: 5xx, 429 and a 200
    cut short or not JSON are transient; any other refusal is final (invalid_grant...)."""
    if status >= 500 or status == 429:
        raise TransientSalesforceError(f"{where}: HTTP {status}")
    body = _json(content)
    if status != 200:
        raise _oauth_error(where, status, body)
    if body is None:
        raise UnreadableResponseError(f"{where}: the response is cut short or not JSON")
    return _token(where, body)


def _json(content: bytes) -> Any:
    try:
        return http_bodies.parse_json(content)
    except ValueError:  # not JSON, nested too deeply or too dense: no token in it
        return None


def _oauth_error(where: str, status: int, body: Any) -> SalesforceAuthError:
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        error = body["error"]
        description = body.get("error_description")
        said = f"{error}: {description}" if isinstance(description, str) else error
        return SalesforceAuthError(f"{where}: {said}", error=error, status=status)
    return SalesforceAuthError(f"{where}: HTTP {status} without an OAuth error", status=status)


def _token(where: str, body: Any) -> Token:
    if not isinstance(body, dict):
        raise SalesforceAuthError(f"{where}: the response is not a JSON object")
    access_token, instance_url = body.get("access_token"), body.get("instance_url")
    if not isinstance(access_token, str) or not access_token:
        raise SalesforceAuthError(f"{where}: the response has no access_token")
    if not isinstance(instance_url, str) or not instance_url.startswith(("https://", "http://")):
        raise SalesforceAuthError(f"{where}: the response has no http(s) instance_url")
    return Token(access_token, instance_url.rstrip("/"))


class JwtBearerTokens(_OAuthTokens):
    """The JWT bearer flow: a signed assertion for `username`, no secret on the wire."""

    def __init__(
        self,
        http: BoundedHttp,
        *,
        login_url: str,
        client_id: str,
        username: str,
        private_key: RSAPrivateKey,
        clock: Clock,
        retry: RetryPolicy | None = None,
    ) -> None:
        self._login_url = login_url.rstrip("/")
        super().__init__(http, f"{self._login_url}{TOKEN_PATH}", retry)
        self._client_id = client_id
        self._username = username
        self._key = private_key
        self._clock = clock

    def assertion(self) -> str:
        expires = self._clock() + ASSERTION_LIFETIME
        claims = {
            "iss": self._client_id,
            "sub": self._username,
            "aud": self._login_url,
            "exp": int(expires.timestamp()),
        }
        return jwt.encode(claims, self._key, algorithm="RS256")

    def _form(self) -> dict[str, str]:
        assertion = self.assertion()
        self._secrets.append(assertion)
        return {"grant_type": JWT_BEARER, "assertion": assertion}


class ClientCredentialsTokens(_OAuthTokens):
    """The client-credentials flow, at the org's My Domain host (the app's Run As user)."""

    def __init__(
        self,
        http: BoundedHttp,
        *,
        instance_url: str,
        client_id: str,
        client_secret: str,
        retry: RetryPolicy | None = None,
    ) -> None:
        super().__init__(http, f"{instance_url.rstrip('/')}{TOKEN_PATH}", retry)
        self._client_id = client_id
        self._client_secret = client_secret
        self._fixed_secrets = (client_secret,)

    def _form(self) -> dict[str, str]:
        return {
            "grant_type": "client_credentials",
            "client_id": self._client_id,
            "client_secret": self._client_secret,
        }
