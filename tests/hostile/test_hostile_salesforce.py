"""A hostile answer for Salesforce is a failed read under `apply`: nobody is deprovisioned.

The example policy on the example world, converged; then a user leaves in Salesforce, and
`apply` runs with Salesforce's URLs pointing at `HostileSalesforce` (deep JSON, a gzip bomb).
The read fails with an error saying why, exit code 1, within bounded memory, and every account
in every app is as it was: the leaver too, since a failed read proves nothing (rule 1).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from emulators import serving
from tests.e2e.example import REPO, Example, running_example
from tests.hostile.conftest import PEAK_RSS_MIB, run_measured
from tests.hostile.salesforce import HostileSalesforce

GRACE = "grace.hopper@orion.example"


def _active(example: Example) -> dict[str, bool]:
    world = example.world
    slack = {f"slack:{u['userName']}": u["active"] for u in world.slack.users()}
    jira = {f"jira:{u['userName']}": u["active"] for u in world.jira.users()}
    zendesk = {f"zendesk:{u['email']}": not u["suspended"] for u in world.zendesk.users()}
    return {**slack, **jira, **zendesk}


@pytest.mark.parametrize(
    ("mode", "why"), [("deep-json", "nested too deeply"), ("gzip-bomb", "larger than 64 MiB")]
)
def test_a_hostile_salesforce_answer_fails_the_read_and_deprovisions_nobody(
    tmp_path: Path, mode: str, why: str
) -> None:
    hostile = HostileSalesforce()
    hostile.mode = mode
    with running_example(tmp_path) as example, serving.serve(hostile.app) as url:
        example.apply()
        before = _active(example)
        assert before["slack:grace.hopper"] is True
        example.world.change_in_salesforce(GRACE, {"IsActive": False})

        pointed = {**example.environ, "SALESFORCE_INSTANCE_URL": url, "SALESFORCE_LOGIN_URL": url}
        command = [sys.executable, "-m", "controller", "apply", "--policy", "desired-state"]
        done = run_measured(command, pointed, tmp_path / "apply.log", cwd=REPO)

        assert done.returncode == 1, done.output
        assert why in done.output, done.output
        assert hostile.queries >= 1  # the query endpoint was reached: auth went through
        assert _active(example) == before
        assert done.peak_rss_mib < PEAK_RSS_MIB
