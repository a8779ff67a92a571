"""API calls a cycle costs against Salesforce, counted by the emulator's Sforce-Limit-Info.

Usage: python bench/salesforce_api_cost.py [USERS ...]   (default: 1000 5000 20000)

Each user has two permission sets (child records count toward a page's 2,000) and one in fifty
is frozen. Prints, per org size, the calls of a full read, of starting to watch for changes,
and of an incremental check that finds nothing, both while the org's last second is recent
(re-read, in case a late change carries it) and once it has settled.
"""

from __future__ import annotations

import asyncio
import datetime
import itertools
import sys
import tempfile
from pathlib import Path
from typing import Any

from controller.policy.schema import SalesforceSpec
from controller.sources.salesforce import SalesforceSource
from emulators import credentials, serving
from emulators.salesforce import EmulatorSettings, Org, make_salesforce_app

INTEGRATION = "integration@bench.example"


def org_users(count: int) -> list[dict[str, Any]]:
    users: list[dict[str, Any]] = [
        {
            "Username": INTEGRATION,
            "Email": INTEGRATION,
            "LastName": "Integration",
            "Profile": {"Name": "System Administrator"},
        }
    ]
    for i in range(count):
        users.append(
            {
                "Username": f"u{i}@bench.example",
                "Email": f"u{i}@bench.example",
                "LastName": f"L{i}",
                "Profile": {"Name": "Standard User"},
                "PermissionSets": ["Slack User", "Jira User"],
                "IsFrozen": i % 50 == 0,
            }
        )
    return users


async def measure(url: str, key_dir: Path) -> list[int]:
    spec = SalesforceSpec.model_validate(
        {
            "instanceUrl": url,
            "auth": {
                "flow": "jwt-bearer",
                "clientId": "bench",
                "username": INTEGRATION,
                "privateKeyFile": "key.pem",
                "loginUrl": url,
            },
        }
    )
    later = datetime.datetime.now(datetime.UTC) + datetime.timedelta(minutes=3)
    settled = SalesforceSource("org", spec, base_dir=key_dir, environ={}, clock=lambda: later)
    source = SalesforceSource("org", spec, base_dir=key_dir, environ={})
    marks = [0]

    def used(of: SalesforceSource) -> int:
        assert of.api_usage is not None
        return of.api_usage[0]

    read = await source.read()
    assert read.ok, read.error
    marks.append(used(source))
    start = await source.changed_since(None)
    marks.append(used(source))
    recent = await source.changed_since(start.watermark)
    assert recent.ok and not recent.users
    marks.append(used(source))
    await settled.changed_since(recent.watermark)
    marks.append(used(settled))
    await source.aclose()
    await settled.aclose()
    return [b - a for a, b in itertools.pairwise(marks)]


def main() -> None:
    sizes = [int(arg) for arg in sys.argv[1:]] or [1000, 5000, 20000]
    pair = credentials.generate()
    print("users   full-read  start-watching  check(recent)  check(settled)")
    with tempfile.TemporaryDirectory() as scratch:
        (Path(scratch) / "key.pem").write_bytes(pair.key_pem)
        for size in sizes:
            settings = EmulatorSettings(
                client_id="bench", certificate_pem=pair.certificate_pem, irregular_batches=False
            )
            app = make_salesforce_app(Org.from_users(org_users(size)), settings)
            with serving.serve(app) as url:
                full, start, recent, settled = asyncio.run(measure(url, Path(scratch)))
            print(f"{size:>6}  {full:>9}  {start:>14}  {recent:>13}  {settled:>14}")


if __name__ == "__main__":
    main()
