"""The OAuth token endpoint: JWT bearer and client credentials, and the sessions they open.

Checks follow the reference (part B1/B2): RS256 assertions verified with the public key of the
configured certificate; `iss` the client id, `sub` (or `prn`, which wins) the username, `aud`
this server or login/test.salesforce.com, `exp` in the future but at most a few minutes ahead;
prior approval of the app by the user; client credentials refused on the login domains. Errors
are Salesforce's `{"error", "error_description"}` pairs; the descriptions are ones seen from
real orgs. Tokens expire after `token_lifetime_seconds` without use, or all at once on demand.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import random
import string
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from emulators.salesforce import ids
from emulators.salesforce.org import Org
from emulators.salesforce.settings import EmulatorSettings

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
LOGIN_HOSTS = ("login.salesforce.com", "test.salesforce.com")
MAX_EXP_AHEAD_SECONDS = 180 + 120
"""The assertion's exp may be 3 minutes ahead, plus skew (simple-salesforce#491: +300 s works)."""
_TOKEN_CHARS = string.ascii_letters + string.digits + "._"


class OAuthError(Exception):
    def __init__(self, error: str, description: str) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description


@dataclass
class Session:
    user_id: str
    expires_at: dt.datetime


class TokenService:
    def __init__(self, org: Org, settings: EmulatorSettings) -> None:
        self.org = org
        self.settings = settings
        self._rng = random.Random(f"tokens/{settings.seed}")  # noqa: S311 - repeatable on purpose
        self._sessions: dict[str, Session] = {}
        self._public_key: RSAPublicKey | None = None
        if settings.certificate_pem is not None:
            key = x509.load_pem_x509_certificate(settings.certificate_pem).public_key()
            if not isinstance(key, RSAPublicKey):
                raise ValueError("the certificate must hold an RSA public key (RS256)")
            self._public_key = key

    def token(self, form: Mapping[str, str], *, base_url: str, host: str) -> dict[str, Any]:
        """The token response for a POST /services/oauth2/token form; OAuthError when refused."""
        grant = form.get("grant_type", "")
        if grant == JWT_BEARER:
            return self._issue(self._jwt_user(form.get("assertion", ""), base_url), base_url)
        if grant == "client_credentials":
            return self._client_credentials(form, base_url=base_url, host=host)
        raise OAuthError("unsupported_grant_type", "grant type not supported")

    def session(self, token: str) -> Session | None:
        """The live session `token` opened, its idle timeout restarted; None if none or expired."""
        session = self._sessions.get(token)
        now = self.org.now()
        if session is None or session.expires_at <= now:
            self._sessions.pop(token, None)
            return None
        session.expires_at = now + dt.timedelta(seconds=self.settings.token_lifetime_seconds)
        return session

    def expire_all(self) -> int:
        count = len(self._sessions)
        self._sessions.clear()
        return count

    def _jwt_user(self, assertion: str, base_url: str) -> str:
        try:
            header = jwt.get_unverified_header(assertion)
            claims = jwt.decode(assertion, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise OAuthError("invalid_grant", "invalid assertion") from None
        if claims.get("iss") != self.settings.client_id:
            raise OAuthError("invalid_client_id", "client identifier invalid")
        if self._public_key is None or header.get("alg") != "RS256":
            raise OAuthError("invalid_grant", "invalid assertion")
        try:
            jwt.decode(
                assertion,
                self._public_key,
                algorithms=["RS256"],
                options={
                    "verify_exp": False,
                    "verify_aud": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                    "verify_iss": False,
                    "verify_sub": False,
                    "verify_jti": False,
                },
            )
        except jwt.PyJWTError:
            raise OAuthError("invalid_grant", "invalid assertion") from None
        audiences = claims.get("aud")
        audiences = [audiences] if isinstance(audiences, str) else audiences or []
        accepted = {base_url.rstrip("/"), *(f"https://{host}" for host in LOGIN_HOSTS)}
        if not any(isinstance(a, str) and a.rstrip("/") in accepted for a in audiences):
            raise OAuthError("invalid_grant", "audience is invalid")
        self._check_exp(claims.get("exp"))
        username = claims.get("prn", claims.get("sub"))
        user = self.org.user_by_username(username) if isinstance(username, str) else None
        if user is None:
            raise OAuthError("invalid_grant", "authentication failure")
        if not user["IsActive"]:
            raise OAuthError("invalid_grant", "inactive user")
        approved = self.settings.approved_usernames
        if approved is not None and user["Username"].lower() not in {u.lower() for u in approved}:
            raise OAuthError("invalid_grant", "user hasn't approved this consumer")
        return str(user["Id"])

    def _check_exp(self, exp: Any) -> None:
        try:
            seconds = float(exp)
        except (TypeError, ValueError):
            raise OAuthError("invalid_grant", "invalid assertion") from None
        now = self.org.now().timestamp()
        if not now < seconds <= now + MAX_EXP_AHEAD_SECONDS:
            raise OAuthError("invalid_grant", "expired authorization code")

    def _client_credentials(
        self, form: Mapping[str, str], *, base_url: str, host: str
    ) -> dict[str, Any]:
        if host.split(":", maxsplit=1)[0].lower() in LOGIN_HOSTS:
            raise OAuthError("invalid_grant", "request not supported on this domain")
        if form.get("client_id") != self.settings.client_id:
            raise OAuthError("invalid_client_id", "client identifier invalid")
        secret = self.settings.client_secret
        if secret is None:
            raise OAuthError("invalid_grant", "no client credentials user enabled")
        if not hmac.compare_digest(form.get("client_secret", "").encode(), secret.encode()):
            raise OAuthError("invalid_client", "invalid client credentials")
        response = self._issue(self._run_as_user(), base_url)
        issued_at = str(int(self.org.now().timestamp() * 1000))
        digest = hmac.new(secret.encode(), (response["id"] + issued_at).encode(), hashlib.sha256)
        return {
            **response,
            "signature": base64.b64encode(digest.digest()).decode(),
            "issued_at": issued_at,
        }

    def _run_as_user(self) -> str:
        """The app's "Run As" user: the first active System Administrator, else any active user."""
        with self.org.reading() as tables:
            profiles = tables["Profile"].values()
            admins = {p["Id"] for p in profiles if p["Name"] == "System Administrator"}
            active = sorted(
                (u for u in tables["User"].values() if u["IsActive"]),
                key=lambda u: (u["ProfileId"] not in admins, str(u["Id"])),
            )
        return str(active[0]["Id"]) if active else ids.from_name(ids.USER, "integration-user")

    def _issue(self, user_id: str, base_url: str) -> dict[str, Any]:
        token = (
            self.org.org_id[:15]
            + "!AR"
            + "".join(self._rng.choice(_TOKEN_CHARS) for _ in range(96))
        )
        lifetime = dt.timedelta(seconds=self.settings.token_lifetime_seconds)
        self._sessions[token] = Session(user_id, self.org.now() + lifetime)
        base = base_url.rstrip("/")
        return {
            "access_token": token,
            "scope": "api",
            "instance_url": base,
            "id": f"{base}/id/{self.org.org_id}/{user_id}",
            "token_type": "Bearer",
        }
