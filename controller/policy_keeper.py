"""The policy in force, replaced only by a valid newer one: the long-running side of GitOps.

The loop asks for a refresh on an interval (a new commit, or new files from git-sync) and on
SIGHUP. A fetch that fails or a commit that does not validate changes nothing that runs: the last
good policy stays in force, `provisioner_policy_valid` drops to 0, and the log names the rejected
revision and every error in it. A revision that failed is not retried until something changes or
an operator sends SIGHUP, so one broken commit is one alert, not one per interval.

Any failure counts. The loader reports a bad policy as `PolicyError` (`file:line: message`), but
whatever else fetching, exporting or loading raises (a loader bug, a YAML corner such as the date
2024-02-30) is an invalid policy too: counted, logged in one line, and survived, never a reload
task that dies unseen or a controller that crashes (issue 17). Such a line names the exception's
type and where it was raised, never its message, which could quote a users file or a value
expanded from a `${SECRET}`; `provisioner validate` on the same files names the file and line.

Startup never ends the process over its policy (`start`). When the newest policy cannot be
fetched or does not load, the last good one the feed remembers is restored: a repository's
mirror pins the commit that last loaded, so a restart with a broken commit on the branch goes on
with what ran before it, and the alert keeps firing. When there is none (the first start, or a
plain directory, which keeps no old copy) the controller runs without a policy: /metrics shows
`provisioner_policy_valid` 0, /readyz says "no valid policy loaded", no cycle runs, and the
feed is polled until a policy that loads arrives, which is then reconciled at once. Refusing to
start would only restart the pod into the same commit: a crash loop that hides the very metric
the alert reads, and a fix that needs a person to restart it.
"""

from __future__ import annotations

import asyncio
import time
import traceback
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from controller import connections
from controller import logging as logs
from controller.errors import PolicyError
from controller.http import Health
from controller.metrics import Recorder
from controller.policy import Policy
from controller.policy.feed import Checkout, PolicyFeed
from reconcilers.base import Registry


def reasons(error: BaseException) -> list[str]:
    """What a log line may say about a failed fetch or load: a policy error's own lines, or the
    type of an unexpected exception and where it was raised, without its message."""
    if isinstance(error, PolicyError):
        return list(error.errors)
    if isinstance(error, OSError) and error.strerror:
        return [f"{type(error).__name__}: {error.strerror}"]
    frames = traceback.extract_tb(error.__traceback__)
    where = f" at {Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else ""
    return [
        f"unexpected {type(error).__name__}{where} (its message is not shown: it may quote a"
        " users file or a secret); `provisioner validate --policy DIR` names the file and line"
    ]


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
        self._rejected: Checkout | None = None
        """The newest files, when they did not load (and the last good policy is kept)."""
        self._lock = asyncio.Lock()

    async def start(self) -> None:
        """The first load: the newest policy, else the last good one, else none (and wait)."""
        await self.refresh(force=True)
        if self.policy is not None:
            return
        async with self._lock:
            restored = await self._restore()
        if not restored:
            self.health.waiting_for_policy()
            self.log.error(
                "no valid policy: waiting for one; nothing is reconciled until it loads",
                policy_source=self.feed.describe(),
                retry="every policy interval and on SIGHUP",
            )

    async def refresh(self, *, force: bool) -> bool:
        """Fetch and load the newest policy; True when a new revision is now in force.

        `force` (startup, SIGHUP) loads even files already tried, so a fixed environment
        variable or a transient failure can be retried by hand. Never raises.
        """
        async with self._lock:
            try:
                checkout = await asyncio.to_thread(self.feed.latest)
            except Exception as error:
                self.recorder.policy_fetch_failed()
                self.log.error(
                    "policy fetch failed; keeping the last good policy",
                    policy_source=self.feed.describe(),
                    error=reasons(error)[0],
                    kept_revision=self.revision,
                )
                return False
            if not force and checkout.fingerprint == self._tried:
                return False
            self._tried = checkout.fingerprint
            return await self._load(checkout)

    async def release_others(self, running: Policy) -> None:
        """Remove the files of every policy but the one in force. The loop calls this once no
        run can still be reading them (a file Source reads its users file every cycle), with
        the policy its new engine runs. Never while a refresh holds the lock, so a newer commit
        being exported or loaded keeps its folder; and only while `running` is still the one in
        force, so the engine's own files are never the ones removed. Either way nothing waits:
        the next engine, which a newer policy brings, releases them."""
        if self._lock.locked():
            return
        async with self._lock:
            if self._checkout is not None and self.policy is running:
                await asyncio.to_thread(self.feed.keep_only, self._checkout)

    @property
    def revision(self) -> str | None:
        return self.policy.revision if self.policy is not None else None

    async def _read(self, checkout: Checkout) -> Policy:
        return await asyncio.to_thread(
            connections.load_policy,
            checkout.directory,
            registry=self.registry,
            environ=self.environ,
            revision=checkout.revision,
        )

    async def _load(self, checkout: Checkout) -> bool:
        try:
            policy = await self._read(checkout)
        except Exception as error:
            self._rejected = checkout
            self.recorder.policy_load_failed()
            self.log.error(
                "policy invalid; keeping the last good one",
                rejected_revision=checkout.revision,
                errors=reasons(error),
                kept_revision=self.revision,
            )
            self.health.policy_loaded(self.policy is not None)
            return False
        self._rejected = None
        changed = policy.revision != self.revision
        self._in_force(policy, checkout)
        try:
            await asyncio.to_thread(self.feed.remember, checkout)
        except Exception as error:  # the policy is good all the same; only a restart loses it
            self.log.warning("cannot remember the last good policy", error=reasons(error)[0])
        self.log.info(
            "policy loaded",
            revision=policy.revision,
            policy_source=self.feed.describe(),
            apps=sorted(policy.apps),
            changed=changed,
        )
        return changed

    async def _restore(self) -> bool:
        """Put the feed's last good policy in force, at startup, when the newest is not."""
        try:
            checkout = await asyncio.to_thread(self.feed.last_good)
            if checkout is None:
                return False
            policy = await self._read(checkout)
        except Exception as error:
            self.log.error("the last good policy cannot be restored", errors=reasons(error))
            return False
        self._in_force(policy, checkout, valid=self._rejected is None)
        self.log.warning(
            "last good policy restored; it stays in force until a valid one arrives",
            revision=policy.revision,
            rejected_revision=self._rejected.revision if self._rejected else None,
            policy_source=self.feed.describe(),
            apps=sorted(policy.apps),
        )
        return True

    def _in_force(self, policy: Policy, checkout: Checkout, *, valid: bool = True) -> None:
        self.policy = policy
        self._checkout = checkout
        logs.bind_process(revision=policy.revision)
        self.recorder.policy_loaded(policy.revision, valid=valid)
        sources = [source.name for source in policy.sources]
        self.recorder.watching(apps=policy.apps, sources=sources, now=time.time())
        self.health.policy_loaded(True, apps=policy.apps)
