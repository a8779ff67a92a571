"""TLS for every outgoing connection: the trust store (certifi's, plus a policy's `caFile`), and
what a failed handshake says.

A private CA (a corporate proxy, a self-hosted app) is common; `SSL_CERT_FILE` replaces the
whole bundle, so trusting it that way distrusts every public site. `context(ca_file)` instead
adds the file's certificates to the default store. When a handshake fails, httpx reports only
`ConnectError`; `failure(exc)` walks the exception's cause chain for the `ssl` error and says
what it was and what to do, so an operator is not left guessing between a firewall and a CA.
A timeout or a dropped connection is not a TLS failure (it is worth retrying) even when an
`ssl` error such as `SSLWantReadError` sits in its chain.
"""

from __future__ import annotations

import functools
import re
import ssl

import httpx

TRUST_ADVICE = "set caFile to the CA that signed it"
PEM_CERTIFICATE = b"-----BEGIN CERTIFICATE-----"
HOSTNAME_MISMATCH = 62
"""X509_V_ERR_HOSTNAME_MISMATCH: the certificate is trusted but names another host."""
EXPIRED = 10
"""X509_V_ERR_CERT_HAS_EXPIRED."""


MAX_CA_FILE_BYTES = 4 * 1024 * 1024
NOT_ASCII = re.compile(rb"[^\x00-\x7f]")


def context(ca_file: str | None = None) -> ssl.SSLContext:
    """The default trust store (certifi's bundle, as httpx builds it), plus `ca_file`'s CAs.

    The file is read on every call (callers ask once per client, never per request), and the
    context is cached by the file's content: a CA renewed at the same path is used by the next
    client, and a new path with the same CA (a git source's checkout per commit) costs no new
    context. Raises `ValueError` when `ca_file` cannot be read or holds no PEM certificate.
    """
    if ca_file is None:
        return _context(None)
    pem, problem = _read(ca_file)
    if problem is None:
        problem = _pem_problem(pem)
    if problem is not None:
        raise ValueError(f"caFile {ca_file}: {problem}")
    return _context(pem)


@functools.lru_cache(maxsize=8)
def _context(pem: bytes | None) -> ssl.SSLContext:
    """Loading every CA certificate takes ~45 ms; one context serves every client."""
    tls = httpx.create_ssl_context()
    if pem is not None:
        tls.load_verify_locations(cadata=_ascii(pem))
    return tls


def ca_file_problem(path: str) -> str | None:
    """Why `path` cannot be a caFile (missing, unreadable, not PEM certificates), or None."""
    pem, problem = _read(path)
    return problem if problem is not None else _pem_problem(pem)


def _read(path: str) -> tuple[bytes, str | None]:
    try:
        with open(path, "rb") as pem:
            return pem.read(MAX_CA_FILE_BYTES), None
    except OSError as error:
        return b"", f"cannot be read ({error.strerror or type(error).__name__})"
    except ValueError:  # a NUL in the path: no file can have that name
        return b"", "is not a usable path (it holds a NUL character)"


def _pem_problem(pem: bytes) -> str | None:
    if PEM_CERTIFICATE not in pem:
        return "holds no PEM certificate (-----BEGIN CERTIFICATE-----); give the CA in PEM form"
    try:
        ssl.create_default_context(cadata=_ascii(pem))
    except (ssl.SSLError, ValueError):
        return "is not a file of PEM certificates; give the CA in PEM form"
    return None


def _ascii(pem: bytes) -> str:
    """`pem` as the ASCII text `ssl` requires. OpenSSL ignores the text between certificates,
    where a comment may be in UTF-8 (`# Issuer: CN=Müller AG`); a non-ASCII byte inside a
    certificate breaks its base64 either way."""
    return NOT_ASCII.sub(b"?", pem).decode("ascii")


NOT_A_HANDSHAKE_FAILURE = (
    ssl.SSLWantReadError,  # what anyio's TLS stream holds when a read times out
    ssl.SSLWantWriteError,
    ssl.SSLEOFError,  # the peer hung up: a dropped connection, worth trying again
    ssl.SSLZeroReturnError,
    ssl.SSLSyscallError,
)


def failure(error: BaseException) -> str | None:
    """What a TLS failure behind `error` was and what to do; None when TLS is not the cause.

    A timeout is never a TLS failure, even when a TLS stream's wait for bytes is in its chain,
    and neither is a connection the peer dropped: both are worth trying again.
    """
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, httpx.TimeoutException | TimeoutError):
            return None
        if isinstance(current, ssl.SSLCertVerificationError):
            return _verification(current)
        if isinstance(current, ssl.SSLError) and not isinstance(current, NOT_A_HANDSHAKE_FAILURE):
            reason = getattr(current, "reason", None) or str(current)
            return (
                f"TLS handshake failed ({reason}); check that the endpoint speaks HTTPS on this "
                "port and accepts TLS 1.2 or later"
            )
        current = _cause(current)
    return None


def _cause(error: BaseException) -> BaseException | None:
    """The exception behind `error`: its `__cause__`; else, when the context is suppressed, the
    exception it carries as its argument (httpcore raises `ConnectError(ssl_error) from None`);
    else its `__context__`."""
    if error.__cause__ is not None:
        return error.__cause__
    if error.__suppress_context__:
        carried = error.args[0] if error.args else None
        return carried if isinstance(carried, BaseException) else None
    return error.__context__


def _verification(error: ssl.SSLCertVerificationError) -> str:
    said = f"certificate verify failed: {getattr(error, 'verify_message', None) or error}"
    if error.verify_code == HOSTNAME_MISMATCH:
        return f"TLS certificate is for another host ({said}); use the host name it names"
    if error.verify_code == EXPIRED:
        return f"TLS certificate has expired ({said}); the server must renew it"
    return f"TLS certificate not trusted ({said}); {TRUST_ADVICE}"
