"""The pure planner's cost: evaluate the policy and plan three apps, for N users, 1% drift.

Usage: python -m bench.planning USERS [--deepdiff-always]   (prints one JSON line)

Each measurement runs in its own process (bench/run.py starts one per size and variant), so the
peak resident memory it reports is that of one planning alone, inputs included: the source read
and three observed apps built in memory, as the engine holds them. Time covers the pure core
only: `desired.evaluate` and `plan.compute` for each app.
"""

from __future__ import annotations

import json
import resource
import sys
import tempfile
import time
from pathlib import Path

from bench import synthetic
from controller import connections, plan, runtime
from reconcilers import REGISTRY

DRIFT_PERCENT = 1.0


def measure(users: int, *, deepdiff_always: bool) -> dict[str, float | int | str]:
    if deepdiff_always:
        plan.attribute_changes = plan.attribute_changes_deepdiff_always
    with tempfile.TemporaryDirectory() as scratch:
        endpoints = {app: f"http://127.0.0.1:1/{app}" for app in synthetic.APPS}
        directory = synthetic.write_policy(Path(scratch), endpoints, users=0)
        policy = connections.load_policy(directory, registry=REGISTRY, environ={})
    read = synthetic.source_read(users)
    wants = synthetic.evaluation(policy, read).apps
    observed = {
        name: synthetic.observed_in_sync(want, DRIFT_PERCENT) for name, want in wants.items()
    }
    started = time.perf_counter()
    evaluation = synthetic.evaluation(policy, read)
    operations = 0
    for name, want in evaluation.apps.items():
        spec = policy.apps[name]
        planned = plan.compute(
            want,
            observed[name],
            match=spec.match,
            lifecycle=plan.Lifecycle(spec.deprovision, {}, synthetic.NOW),
        )
        operations += len(planned.operations)
    seconds = time.perf_counter() - started
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "users": users,
        "accounts": sum(len(want.accounts) for want in wants.values()),
        "variant": "deepdiff on every account" if deepdiff_always else "equality first",
        "seconds": round(seconds, 3),
        "peak_mib": round(peak_kib / 1024, 1),
        "operations": operations,
    }


def main() -> None:
    runtime.tune_gc()  # as `provisioner` does
    users = int(sys.argv[1])
    print(json.dumps(measure(users, deepdiff_always="--deepdiff-always" in sys.argv)))


if __name__ == "__main__":
    main()
