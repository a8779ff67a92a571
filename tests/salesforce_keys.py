"""Test-made credentials for the Salesforce JWT bearer flow, shared by emulator and client tests.

`rsa_key_pem` and `certificate_pem` are session-scoped pytest fixtures (a conftest imports them
to make them available to its folder); `make_assertion` signs the JWT a client would send. The
certificate names 127.0.0.1 and localhost, so the same pair also serves TLS for clients that
insist on https (`write_tls_files`).
"""

from __future__ import annotations

import functools
import time
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from emulators import credentials


def generate_key_pem() -> bytes:
    return credentials.generate().key_pem


def make_assertion(
    key_pem: bytes, *, iss: str, sub: str, aud: str, exp_offset_seconds: int = 120
) -> str:
    """A JWT bearer assertion signed RS256 with `key_pem`; exp is `exp_offset_seconds` from now."""
    claims = {"iss": iss, "sub": sub, "aud": aud, "exp": int(time.time()) + exp_offset_seconds}
    return jwt.encode(claims, _private_key(key_pem), algorithm="RS256")


@functools.cache
def _private_key(key_pem: bytes) -> rsa.RSAPrivateKey:
    """Loading (and checking) an RSA key takes ~50 ms; tests sign hundreds of assertions."""
    key = serialization.load_pem_private_key(key_pem, password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


def write_tls_files(directory: Path, key_pem: bytes, certificate_pem: bytes) -> tuple[str, str]:
    """Write the pair where uvicorn can read it; returns (certfile, keyfile)."""
    certfile, keyfile = directory / "tls-cert.pem", directory / "tls-key.pem"
    certfile.write_bytes(certificate_pem)
    keyfile.write_bytes(key_pem)
    return str(certfile), str(keyfile)


@functools.cache
def _session_pair() -> credentials.KeyPair:
    return credentials.generate(common_name="127.0.0.1", days=2)


@pytest.fixture(scope="session")
def rsa_key_pem() -> bytes:
    """A fresh RSA private key (PKCS#8 PEM) for the whole test session."""
    return _session_pair().key_pem


@pytest.fixture(scope="session")
def certificate_pem() -> bytes:
    """The self-signed certificate of `rsa_key_pem`: the app's, and good for TLS on 127.0.0.1."""
    return _session_pair().certificate_pem
