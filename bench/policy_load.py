"""Loading a large policy: the time `load_policy` takes for N rules (issue 17: 10,000 in < 2 s).

Usage: python -m bench.policy_load [RULES]   (default 10000; prints one JSON line)

The policy is `desired-state/`'s Source and apps, and RULES AccessRules in one file, each with
its own conditions, groups and role, as a large organisation's rules would look. It is loaded
as `provisioner validate` loads it (every registered app type's attributes checked). Both wall
and CPU time are reported: on a busy machine the wall time also counts other processes' turns.
The best of three loads is reported, after one load that warms imports and caches, with the
CPU time of a fixed pure-Python loop (`sum(range(10**7))`, about 0.15 s on an idle laptop) to
tell a slow or shared machine from a slow loader.
"""

from __future__ import annotations

import json
import resource
import sys
import tempfile
import time
from pathlib import Path

from controller import connections
from reconcilers import REGISTRY

DESIRED = Path(__file__).parents[1] / "desired-state"
RUNS = 3


def rules_text(count: int) -> str:
    rules = []
    for number in range(count):
        app, groups = [("slack", "[eng, all-hands]"), ("zendesk", "[Tier 1]")][number % 2]
        rules.append(
            "apiVersion: provisioner/v1\n"
            "kind: AccessRule\n"
            f"metadata: {{name: rule-{number}}}\n"
            "spec:\n"
            f"  when: {{profile: [Standard User], department: [Team {number}]}}\n"
            "  grant:\n"
            f"    - {{app: {app}, groups: {groups}, role: role-{number % 7}}}\n"
            "    - {app: jira, groups: [engineering]}\n"
        )
    return "---\n".join(rules)


def measure(count: int) -> dict[str, float | int]:
    with tempfile.TemporaryDirectory() as scratch:
        directory = Path(scratch)
        for name in ("source.yaml", "apps.yaml"):
            (directory / name).write_text((DESIRED / name).read_text())
        (directory / "rules.yaml").write_text(rules_text(count))
        size = (directory / "rules.yaml").stat().st_size
        connections.load_policy(directory, registry=REGISTRY, environ={})
        walls, cpus = [], []
        for _ in range(RUNS):
            wall, cpu = time.perf_counter(), time.process_time()
            policy = connections.load_policy(directory, registry=REGISTRY, environ={})
            walls.append(time.perf_counter() - wall)
            cpus.append(time.process_time() - cpu)
    assert len(policy.rules) == count
    cpu = time.process_time()
    sum(range(10**7))
    reference = time.process_time() - cpu
    return {
        "rules": count,
        "file_mib": round(size / 2**20, 2),
        "seconds": round(min(walls), 3),
        "cpu_seconds": round(min(cpus), 3),
        "reference_loop_cpu_seconds": round(reference, 3),
        "peak_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


if __name__ == "__main__":
    print(json.dumps(measure(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000)))
