"""Test-made credentials for the Salesforce JWT bearer flow, shared by emulator and client tests.

`rsa_key_pem` and `certificate_pem` are session-scoped pytest fixtures (a conftest imports them
to make them available to its folder); `make_assertion` signs the JWT a client would send. The
certificate names 127.0.0.1 and localhost, so the same pair also serves TLS for clients that
insist on https (`write_tls_files`).
"""

from __future__ import annotations

import datetime as dt
import functools
import ipaddress
import time
from pathlib import Path

import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID


def generate_key_pem() -> bytes:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def self_signed_certificate(key_pem: bytes, common_name: str = "127.0.0.1") -> bytes:
    """A self-signed CA certificate for `key_pem`, valid for 127.0.0.1 and localhost."""
    key = serialization.load_pem_private_key(key_pem, password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.UTC)
    public_key = key.public_key()
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=True,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(public_key), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM)


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


@pytest.fixture(scope="session")
def rsa_key_pem() -> bytes:
    """A fresh RSA private key (PKCS#8 PEM) for the whole test session."""
    return generate_key_pem()


@pytest.fixture(scope="session")
def certificate_pem(rsa_key_pem: bytes) -> bytes:
    """The self-signed certificate of `rsa_key_pem`: the app's, and good for TLS on 127.0.0.1."""
    return self_signed_certificate(rsa_key_pem)
