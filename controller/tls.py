"""TLS for every outgoing connection: the trust store (certifi's, plus a policy's `caFile`), and
what a failed handshake says.

A private CA (a corporate proxy, a self-hosted app) is common; `SSL_CERT_FILE` replaces the
whole bundle, so trusting it that way distrusts every public site. `context(ca_file)` instead
adds the file's certificates to the default store. When a handshake fails, httpx reports only
`ConnectError`; `failure(exc)` walks the exception's cause chain for the `ssl` error and says
what it was and what to do, so an operator is not left guessing between a firewall and a CA.
"""

from __future__ import annotations

import functools
import ssl

import httpx

TRUST_ADVICE = "set caFile to the CA that signed it"
PEM_CERTIFICATE = b"-----BEGIN CERTIFICATE-----"
HOSTNAME_MISMATCH = 62
"""X509_V_ERR_HOSTNAME_MISMATCH: the certificate is trusted but names another host."""
EXPIRED = 10
"""X509_V_ERR_CERT_HAS_EXPIRED."""


@functools.cache
def context(ca_file: str | None = None) -> ssl.SSLContext:
    """The default trust store (certifi's bundle, as httpx builds it), plus `ca_file`'s CAs.

    Cached: loading every CA certificate takes ~45 ms, and one context serves every client.
    Raises `ValueError` when `ca_file` cannot be read or holds no PEM certificate.
    """
    tls = httpx.create_ssl_context()
    if ca_file is not None:
        problem = ca_file_problem(ca_file)
        if problem is not None:
            raise ValueError(f"caFile {ca_file}: {problem}")
        tls.load_verify_locations(cafile=ca_file)
    return tls


def ca_file_problem(path: str) -> str | None:
    """Why `path` cannot be a caFile (missing, unreadable, not PEM certificates), or None."""
    try:
        with open(path, "rb") as pem:
            head = pem.read(4 * 1024 * 1024)
    except OSError as error:
        return f"cannot be read ({error.strerror or type(error).__name__})"
    if PEM_CERTIFICATE not in head:
        return "holds no PEM certificate (-----BEGIN CERTIFICATE-----); give the CA in PEM form"
    try:
        ssl.create_default_context(cadata=head.decode("ascii"))
    except (ssl.SSLError, ValueError, UnicodeDecodeError):
        return "is not a file of PEM certificates; give the CA in PEM form"
    return None


def failure(error: BaseException) -> str | None:
    """What a TLS failure behind `error` was and what to do; None when TLS is not the cause."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ssl.SSLCertVerificationError):
            return _verification(current)
        if isinstance(current, ssl.SSLError):
            reason = getattr(current, "reason", None) or str(current)
            return (
                f"TLS handshake failed ({reason}); check that the endpoint speaks HTTPS on this "
                "port and accepts TLS 1.2 or later"
            )
        current = current.__cause__ or current.__context__
    return None


def _verification(error: ssl.SSLCertVerificationError) -> str:
    said = f"certificate verify failed: {getattr(error, 'verify_message', None) or error}"
    if error.verify_code == HOSTNAME_MISMATCH:
        return f"TLS certificate is for another host ({said}); use the host name it names"
    if error.verify_code == EXPIRED:
        return f"TLS certificate has expired ({said}); the server must renew it"
    return f"TLS certificate not trusted ({said}); {TRUST_ADVICE}"
