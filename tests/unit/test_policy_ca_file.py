"""caFile in a Source and a ConnectedApp: a readable file of PEM certificates, or an error at its
line; relative paths start at the policy file's directory (the app's made absolute at load)."""

from __future__ import annotations

from pathlib import Path

import pytest

from controller import tls
from controller.errors import PolicyError
from controller.policy import Policy
from controller.policy.loader import load_policy
from emulators import credentials

SOURCE = """\
apiVersion: provisioner/v1
kind: Source
metadata: {name: org}
spec:
  salesforce:
    instanceUrl: https://orion.my.salesforce.com
    auth: {flow: client-credentials, clientId: abc, clientSecretEnv: SF_SECRET}
    caFile: %s
"""

APP = """\
apiVersion: provisioner/v1
kind: ConnectedApp
metadata: {name: wiki}
spec:
  type: scim
  endpoint: https://wiki.example/scim/v2
  attributes: {userName: "{{ user.Username }}"}
  caFile: %s
"""


def _load(directory: Path, source_ca: str, app_ca: str) -> Policy:
    (directory / "org").mkdir(exist_ok=True)
    (directory / "org" / "source.yaml").write_text(SOURCE % source_ca)
    (directory / "apps.yaml").write_text(APP % app_ca)
    supported = {"scim": frozenset({"userName"})}
    return load_policy(directory, environ={}, supported_attributes=supported)


def test_ca_files_relative_to_their_policy_file_load(tmp_path: Path) -> None:
    pem = credentials.generate("private-ca").certificate_pem
    (tmp_path / "org").mkdir()
    (tmp_path / "org" / "ca.pem").write_bytes(pem)
    (tmp_path / "app-ca.pem").write_bytes(pem)

    policy = _load(tmp_path, "ca.pem", "app-ca.pem")

    assert policy.sources[0].spec.salesforce is not None
    assert policy.sources[0].spec.salesforce.ca_file == "ca.pem"
    assert policy.sources[0].base_dir == tmp_path / "org"
    assert policy.apps["wiki"].ca_file == str(tmp_path / "app-ca.pem")


def test_a_missing_or_non_pem_ca_file_is_an_error_at_its_line(tmp_path: Path) -> None:
    (tmp_path / "key.pem").write_text(
        "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n"
    )

    with pytest.raises(PolicyError) as refused:
        _load(tmp_path, "missing.pem", "key.pem")

    source, apps = tmp_path / "org" / "source.yaml", tmp_path / "apps.yaml"
    assert refused.value.errors == [
        f"{apps}:8: spec.caFile: caFile 'key.pem' (relative to {tmp_path}) holds no PEM"
        " certificate (-----BEGIN CERTIFICATE-----); give the CA in PEM form",
        f"{source}:8: spec.salesforce.caFile: caFile 'missing.pem' (relative to"
        f" {tmp_path / 'org'}) cannot be read (No such file or directory)",
    ]


def test_a_ca_file_path_with_a_nul_is_an_error_at_its_line(tmp_path: Path) -> None:
    """`caFile: "ca\\0.pem"` (an escape in a double-quoted YAML string) made `open` raise
    ValueError, which escaped the checks as an internal error with no line."""
    pem = credentials.generate("private-ca").certificate_pem
    (tmp_path / "org").mkdir()
    (tmp_path / "org" / "ca.pem").write_bytes(pem)

    with pytest.raises(PolicyError) as refused:
        _load(tmp_path, "ca.pem", '"ca\\0.pem"')

    apps = tmp_path / "apps.yaml"
    assert refused.value.errors == [
        f"{apps}:8: spec.caFile: an escaped control character (U+0000); remove it",
    ]
    # The YAML reader refuses it first; a path with a NUL from anywhere else is still a reason.
    assert tls.ca_file_problem(str(tmp_path / "ca\0.pem")) == (
        "is not a usable path (it holds a NUL character)"
    )


def test_a_ca_file_with_a_non_ascii_comment_loads(tmp_path: Path) -> None:
    pem = credentials.generate("private-ca").certificate_pem
    (tmp_path / "org").mkdir()
    commented = "# Issuer: CN=Müller AG\n".encode() + pem
    (tmp_path / "org" / "ca.pem").write_bytes(commented)
    (tmp_path / "app-ca.pem").write_bytes(commented)

    policy = _load(tmp_path, "ca.pem", "app-ca.pem")

    assert policy.apps["wiki"].ca_file == str(tmp_path / "app-ca.pem")
