"""An independent client against the emulator: simple-salesforce pages through the full read.

simple-salesforce builds `https://{instance}/services/data/vNN.N/...` URLs and follows
nextRecordsUrl itself, so the emulator is served over TLS (a certificate made for 127.0.0.1,
which the client's session trusts) and must get the wire format right for a client we did not
write. What it reads is compared with what the org holds.
"""

from __future__ import annotations

from pathlib import Path

import requests
from simple_salesforce import Salesforce  # type: ignore[import-untyped]

from emulators import serving
from emulators.salesforce import EmulatorSettings, Org, make_salesforce_app
from tests.emulators.conftest import CLIENT_ID, FULL_READ, INTEGRATION_USER, FakeClock, make_users
from tests.salesforce_keys import make_assertion, write_tls_files


def test_simple_salesforce_query_all_reads_what_the_org_holds(
    tmp_path: Path, rsa_key_pem: bytes, certificate_pem: bytes, clock: FakeClock
) -> None:
    org = Org.from_users(
        [
            *make_users(650, permission_sets=2),
            {"Username": INTEGRATION_USER, "LastName": "U", "Profile": "A"},
        ],
        clock=clock,
    )
    app = make_salesforce_app(
        org, EmulatorSettings(client_id=CLIENT_ID, certificate_pem=certificate_pem)
    )
    certfile, keyfile = write_tls_files(tmp_path, rsa_key_pem, certificate_pem)
    with (
        serving.serve(app, ssl_certfile=certfile, ssl_keyfile=keyfile) as url,
        requests.Session() as session,
    ):
        assert url.startswith("https://127.0.0.1:")
        # requests lets REQUESTS_CA_BUNDLE (set on many machines) override session.verify
        # (psf/requests#3829); trust_env=False makes the session's own CA the one it uses.
        session.trust_env = False
        session.verify = certfile
        assertion = make_assertion(rsa_key_pem, iss=CLIENT_ID, sub=INTEGRATION_USER, aud=url)
        token = session.post(
            f"{url}/services/oauth2/token",
            data={
                "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
                "assertion": assertion,
            },
        ).json()
        sf = Salesforce(
            instance_url=token["instance_url"],
            session_id=token["access_token"],
            session=session,
            version="62.0",
        )

        result = sf.query_all(FULL_READ, headers={"Sforce-Query-Options": "batchSize=200"})
        usage = sf.api_usage["api-usage"]

    held = {user["Id"]: user for user in org.users()}
    assert result["totalSize"] == len(held) == 651
    assert result["done"] is True
    records = result["records"]
    assert [r["Id"] for r in records] == sorted(held)
    for record in records:
        user = held[record["Id"]]
        assert record["Username"] == user["Username"]
        assert record["IsActive"] == user["IsActive"]
        assert record["Profile"]["Name"] == user["Profile"]["Name"]
        assert (record["UserRole"] or None) == (
            user["UserRole"] and {**record["UserRole"], **user["UserRole"]}
        )
        children = record["PermissionSetAssignments"]
        names = (
            [] if children is None else [c["PermissionSet"]["Name"] for c in children["records"]]
        )
        assert sorted(names) == user["PermissionSets"]
    # 1 + 2 children per odd user: 325 * 3 + 326 = 1301 weight, so at least 7 pages of <= 200.
    assert usage.used >= 7
    assert usage.total == 15000
