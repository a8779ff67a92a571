"""The policy in force, replaced only by a valid newer one: the long-running side of GitOps.

The loop asks for a refresh on an interval (a new commit, or new files from git-sync) and on
SIGHUP. A fetch that fails or a commit that does not validate changes nothing that runs: the last
good policy stays in force, `provisioner_policy_valid` drops to 0, and the log names the rejected
revision and every error in it. A revision that failed is not retried until something changes or
an operator sends SIGHUP, so one broken commit is one alert, not one per interval.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any

from controller import connections
from controller import logging as logs
from controller.errors import PolicyError
from controller.http import Health
from controller.metrics import Recorder
from controller.policy import Policy
from controller.policy.feed import Checkout, PolicyFeed
from controller.policy.git import GitError
from reconcilers.base import Registry


class PolicyKeeper:
    def __init__(
        self,
        feed: PolicyFeed,
        *,
        registry: Registry,
        environ: Mapping[str, str],
        recorder: Recorder,
        health: Health,
        log: Any,
    ) -> None:
        self.feed = feed
        self.registry = registry
        self.environ = environ
        self.recorder = recorder
        self.health = health
        self.log = log
        self.policy: Policy | None = None
        self._checkout: Checkout | None = None
        self._tried: str | None = None
        """The fingerprint of the files last loaded, well or not."""
        self._lock = asyncio.Lock()

    async def refresh(self, *, force: bool) -> bool:
        """Fetch and load the newest policy; True when a new revision is now in force.

        `force` (startup, SIGHUP) loads even files already tried, so a fixed environment
        variable or a transient failure can be retried by hand.
        """
        async with self._lock:
            try:
                checkout = await asyncio.to_thread(self.feed.latest)
            except GitError as error:
                self.recorder.policy_fetch_failed()
                self.log.error(
                    "policy fetch failed; keeping the last good policy",
                    policy_source=self.feed.describe(),
                    error=error.errors[0],
                    kept_revision=self.revision,
                )
                return False
            if not force and checkout.fingerprint == self._tried:
                return False
            self._tried = checkout.fingerprint
            return await self._load(checkout)

    def release_others(self) -> None:
        """Remove the files of every policy but the one in force. The loop calls this once no
        run can still be reading them (a file Source reads its users file every cycle)."""
        if self._checkout is not None:
            self.feed.keep_only(self._checkout)

    @property
    def revision(self) -> str | None:
        return self.policy.revision if self.policy is not None else None

    async def _load(self, checkout: Checkout) -> bool:
        try:
            policy = await asyncio.to_thread(
                connections.load_policy,
                checkout.directory,
                registry=self.registry,
                environ=self.environ,
                revision=checkout.revision,
            )
        except PolicyError as error:
            self.recorder.policy_load_failed()
            self.log.error(
                "policy invalid; keeping the last good one",
                rejected_revision=checkout.revision,
                errors=error.errors,
                kept_revision=self.revision,
            )
            self.health.policy_loaded(self.policy is not None)
            return False
        changed = policy.revision != self.revision
        self.policy = policy
        self._checkout = checkout
        logs.bind_process(revision=policy.revision)
        self.recorder.policy_loaded(policy.revision)
        sources = [source.name for source in policy.sources]
        self.recorder.watching(apps=policy.apps, sources=sources, now=time.time())
        self.health.policy_loaded(True, apps=policy.apps)
        self.log.info(
            "policy loaded",
            revision=policy.revision,
            policy_source=self.feed.describe(),
            apps=sorted(policy.apps),
            changed=changed,
        )
        return changed
