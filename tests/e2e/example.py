"""The example policy on the example world: the real controller, run as the CLI, end to end.

`Example` wraps `emulators.world` for the story tests: it runs `provisioner` in a subprocess
against `desired-state/` with the world's environment and a state directory of its own, and
reads the apps' accounts behind their APIs' backs.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from emulators.atlassian import AtlassianSettings
from emulators.slack import SlackSettings
from emulators.world import World, example_world
from emulators.zendesk import ZendeskSettings

REPO = Path(__file__).resolve().parents[2]


@dataclass
class Example:
    world: World
    environ: dict[str, str]

    def cli(self, *args: str, policy: bool = True) -> subprocess.CompletedProcess[str]:
        """`provisioner <args> --policy desired-state`, as an operator would run it."""
        with_policy = ["--policy", "desired-state"] if policy else []
        return subprocess.run(
            [sys.executable, "-m", "controller", *args, *with_policy],
            cwd=REPO,
            env=self.environ,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )

    def apply(self, *args: str) -> subprocess.CompletedProcess[str]:
        done = self.cli("apply", *args)
        assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
        return done

    def in_sync(self) -> None:
        plan = self.cli("plan")
        assert plan.returncode == 0, plan.stdout[-4000:] + plan.stderr[-4000:]

    def slack_users(self, email: str) -> list[dict[str, Any]]:
        """Every Slack account (deactivated ones too) holding this email."""
        return [
            user
            for user in self.world.slack.users()
            if any(e.get("value", "").lower() == email for e in user.get("emails") or ())
        ]

    def slack_groups(self, user: dict[str, Any]) -> set[str]:
        return {
            group["displayName"]
            for group in self.world.slack.groups()
            if any(m.get("value") == user["id"] for m in group.get("members") or ())
        }


@contextlib.contextmanager
def running_example(
    scratch: Path,
    *,
    slack: SlackSettings | None = None,
    jira: AtlassianSettings | None = None,
    zendesk: ZendeskSettings | None = None,
) -> Iterator[Example]:
    with example_world(scratch, slack=slack, jira=jira, zendesk=zendesk) as world:
        environ = {**os.environ, **world.environ, "PROVISIONER_STATE_DIR": str(scratch / "state")}
        yield Example(world, environ)
