"""Ten `provisioner plan` runs through a fault proxy in front of Salesforce all read the org whole.

The example world is applied once without faults, so it is in sync; then Salesforce (its token
endpoint and its REST API both: the token's instance_url is the proxy's) is served behind
`emulators.faults`, seeded, answering 429 or 500/502/503, resetting connections before or after
forwarding and cutting bodies short, on 30% of reads and 40% of writes (the token requests).
Each of ten `plan` processes must still read every user and find nothing to change: the token
request and every page are retried within the source's budget (`retries`), never shortened.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from emulators.faults import Fault, FaultSettings, serve_faults
from emulators.world import example_world
from tests.chaos.test_chaos import POLICY, REPO, _root

RUNS = 10
SEED = 4
PLAN = ("--app", "carepoint", "--format", "json")
"""One app is enough: the source is read whole whichever apps a plan looks at."""
# Seed 4 faults 25 of 55 requests, every kind, 12 of them token requests, and never one request
# 4 times in a row (the budget). The sequence repeats: the requests are sequential.


def _cli(environ: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "controller", *args, "--policy", str(POLICY)],
        cwd=REPO,
        env=environ,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_ten_plans_through_a_storm_at_salesforce_all_read_the_org_whole(tmp_path: Path) -> None:
    with example_world(tmp_path) as world:
        environ = {**world.environ, "PROVISIONER_STATE_DIR": str(tmp_path / "state")}
        applied = _cli(environ, "apply")
        assert applied.returncode == 0, applied.stdout[-4000:] + applied.stderr[-4000:]
        calm = _cli(environ, "plan", *PLAN)
        assert calm.returncode == 0, calm.stdout[-4000:] + calm.stderr[-4000:]
        users = json.loads(calm.stdout)["source"]["users"]
        assert users > 10

        root = _root(environ["SALESFORCE_INSTANCE_URL"])
        settings = FaultSettings(rate=0.3, write_rate=0.4, seed=SEED)
        with serve_faults(root, settings) as proxy:
            for name in ("SALESFORCE_INSTANCE_URL", "SALESFORCE_LOGIN_URL"):
                environ[name] = proxy.url + environ[name][len(root) :]
            for run in range(RUNS):
                plan = _cli(environ, "plan", *PLAN)
                said = plan.stdout[-4000:] + plan.stderr[-4000:]
                assert plan.returncode == 0, f"run {run + 1}: {said}"
                source = json.loads(plan.stdout)["source"]
                assert (source["users"], source["error"]) == (users, None), f"run {run + 1}"

        kinds = proxy.tally.by_kind()
        print(f"seed {SEED}: {proxy.tally.total()} of {proxy.tally.requests} faulted: {kinds}")
        assert proxy.tally.total() >= 0.10 * proxy.tally.requests
        assert all(kinds.values()), kinds  # every kind of fault, truncated bodies included
        token_faults = sum(proxy.tally.of(kind, "POST") for kind in Fault)
        assert token_faults > 0  # the token endpoint was faulted too, and retried
