"""The change-latency benchmark's world is seeded as a first sync would leave it.

`bench.change_seed` writes accounts straight into the emulators' stores (to seed 10,000 people
in seconds); if it drifts from what the controller provisions, the benchmark would measure a
world that needs fixing. Here, at 60 people: the controller's plan of the seeded world is empty.
"""

from __future__ import annotations

from pathlib import Path

from bench.change_serve import serve_world
from bench.change_world import write_policy
from controller.connections import load_policy
from controller.engine import Engine
from controller.render import plan_text
from reconcilers import REGISTRY


async def test_the_seeded_world_needs_nothing(tmp_path: Path) -> None:
    policy_dir = write_policy(tmp_path / "policy")
    with serve_world(tmp_path, 60) as world:
        policy = load_policy(policy_dir, registry=REGISTRY, environ=world.environ)
        async with Engine(policy, registry=REGISTRY, environ=world.environ) as engine:
            cycle = await engine.plan()
    assert sorted(app.app for app in cycle.apps) == ["jira", "slack", "zendesk"]
    assert cycle.in_sync, plan_text(cycle)
    assert not cycle.failed
