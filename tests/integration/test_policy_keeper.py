"""Whatever fetching or loading a policy raises, the keeper counts it, says so in one line
without the exception's message, and keeps (or at startup restores) the last good policy."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import pytest
import structlog

from controller import connections
from controller import logging as logs
from controller.http import Health
from controller.metrics import Recorder
from controller.policy import git as policy_git
from controller.policy.feed import Checkout, DirectoryFeed, GitFeed
from controller.policy_keeper import PolicyKeeper
from reconcilers import REGISTRY
from tests.e2e.conftest import POLICY
from tests.gitrepo import commit, init

ENVIRON = {"TOOL_SCIM_URL": "http://127.0.0.1:9/scim", "TOOL_SCIM_TOKEN": "t0ken-value"}
INVALID_DATE = POLICY.replace("kind: Source", "kind: Source\nat: 2024-02-30", 1)
RESTORED = "last good policy restored; it stays in force until a valid one arrives"
SECRET = "alice@example.com"
"""What an exception's message might quote from a users file: never logged."""


class Breaking(DirectoryFeed):
    """A folder whose fetch raises whatever the test sets (not a GitError)."""

    raises: BaseException | None = None

    def latest(self) -> Checkout:
        if self.raises is not None:
            raise self.raises
        return super().latest()


def keeper_of(feed: Any) -> tuple[PolicyKeeper, Recorder, Health]:
    recorder, health = Recorder(), Health()
    keeper = PolicyKeeper(
        feed,
        registry=REGISTRY,
        environ=ENVIRON,
        recorder=recorder,
        health=health,
        log=logs.get_logger(),
    )
    return keeper, recorder, health


def sample(recorder: Recorder, name: str, **labels: str) -> float | None:
    return recorder.registry.get_sample_value(name, labels)


@pytest.fixture
def policy(tmp_path: Path) -> Path:
    folder = tmp_path / "policy"
    folder.mkdir()
    (folder / "policy.yaml").write_text(POLICY)
    (folder / "users.yaml").write_text("users: []\n")
    return folder


async def test_any_exception_from_the_fetch_is_a_counted_fetch_failure(policy: Path) -> None:
    feed = Breaking(policy, ENVIRON)
    keeper, recorder, _ = keeper_of(feed)
    assert await keeper.refresh(force=True)
    feed.raises = RuntimeError(f"tar extraction broke on {SECRET}")
    with structlog.testing.capture_logs() as events:
        assert not await keeper.refresh(force=True)
    assert sample(recorder, "provisioner_policy_fetch_errors_total") == 1.0
    (failed,) = events
    assert failed["event"] == "policy fetch failed; keeping the last good policy"
    assert failed["error"].startswith("unexpected RuntimeError at test_policy_keeper.py:")
    assert SECRET not in repr(events)
    assert keeper.policy is not None and failed["kept_revision"] == keeper.revision


async def test_any_exception_from_the_loader_is_an_invalid_policy(
    policy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    keeper, recorder, health = keeper_of(DirectoryFeed(policy, ENVIRON))
    assert await keeper.refresh(force=True)
    good = keeper.revision

    def broken(*_: Any, **__: Any) -> None:
        raise KeyError(SECRET)

    monkeypatch.setattr(connections, "load_policy", broken)
    (policy / "policy.yaml").write_text(POLICY + "# changed\n")
    with structlog.testing.capture_logs() as events:
        assert not await keeper.refresh(force=False)
        assert not await keeper.refresh(force=False)  # the same files: not tried again
    assert sample(recorder, "provisioner_policy_valid") == 0.0
    assert sample(recorder, "provisioner_policy_load_errors_total") == 1.0
    assert sample(recorder, "provisioner_policy_info", revision=str(good)) == 1.0
    (refused,) = events
    assert refused["errors"][0].startswith("unexpected KeyError at test_policy_keeper.py:")
    assert SECRET not in repr(events)
    assert keeper.revision == good and health.policy_ok


async def test_an_invalid_date_at_startup_without_a_last_good_policy_waits(policy: Path) -> None:
    (policy / "policy.yaml").write_text(
        POLICY.replace("kind: Source", "kind: Source\nat: 2024-02-30")
    )
    keeper, recorder, health = keeper_of(DirectoryFeed(policy, ENVIRON))
    with structlog.testing.capture_logs() as events:
        await keeper.start()
    assert keeper.policy is None
    assert sample(recorder, "provisioner_policy_valid") == 0.0
    assert sample(recorder, "provisioner_policy_load_errors_total") == 1.0
    assert [e["event"] for e in events] == [
        "policy invalid; keeping the last good one",
        "no valid policy: waiting for one; nothing is reconciled until it loads",
    ]
    assert health.waiting
    health.cycle_bound_seconds, health.last_progress = 1.0, 0.0
    health.beat(health.clock())
    assert health.not_alive() is None  # a restart would not fix the policy: stay alive
    assert health.not_ready()["policy"] == "no valid policy loaded"

    (policy / "policy.yaml").write_text(POLICY)
    assert await keeper.refresh(force=False)
    assert sample(recorder, "provisioner_policy_valid") == 1.0
    assert not health.waiting and health.not_alive() is None


async def test_a_restart_restores_the_pinned_commit_when_the_newest_does_not_load(
    policy: Path, tmp_path: Path
) -> None:
    init(policy)
    good = commit(policy, "good")[:12]

    def feed() -> GitFeed:
        return GitFeed(
            policy.as_uri(),
            branch="main",
            path="",
            cache=tmp_path / "cache",
            credentials=policy_git.Credentials(),
            environ={},
        )

    first, _, _ = keeper_of(feed())
    await first.start()
    assert first.revision == good
    (policy / "policy.yaml").write_text(
        POLICY.replace("kind: Source", "kind: Source\nat: 2024-02-30")
    )
    commit(policy, "broken")

    restarted, recorder, health = keeper_of(feed())  # a new process on the same state
    with structlog.testing.capture_logs() as events:
        await restarted.start()
    assert restarted.revision == good
    assert sample(recorder, "provisioner_policy_valid") == 0.0
    assert sample(recorder, "provisioner_policy_info", revision=good) == 1.0
    assert (
        events[-1]["event"]
        == "last good policy restored; it stays in force until a valid one arrives"
    )
    assert health.policy_ok and not health.waiting


class Exporting(DirectoryFeed):
    """A feed whose fetch waits until the test lets it go, as a slow export does; and which
    records what it was asked to keep."""

    def __init__(self, directory: Path, environ: dict[str, str]) -> None:
        super().__init__(directory, environ)
        self.hold = threading.Event()
        self.started = threading.Event()
        self.kept: list[Path] = []

    def latest(self) -> Checkout:
        if self.kept or self.hold.is_set():
            self.started.set()
            self.hold.wait(timeout=30)
        return super().latest()

    def keep_only(self, checkout: Checkout) -> None:
        self.kept.append(checkout.directory)


async def test_old_checkouts_are_released_only_when_no_refresh_is_under_way(policy: Path) -> None:
    feed = Exporting(policy, ENVIRON)
    keeper, _, _ = keeper_of(feed)
    assert await keeper.refresh(force=True)
    running = keeper.policy
    assert running is not None

    await keeper.release_others(running)
    assert feed.kept == [policy]  # nothing under way: the others go

    refreshing = asyncio.create_task(keeper.refresh(force=True))
    await asyncio.to_thread(feed.started.wait, 30)  # a newer commit is being exported
    await keeper.release_others(running)
    assert feed.kept == [policy]  # its folder is left alone, and nothing waited for it
    feed.hold.set()
    await refreshing


async def test_an_engine_of_an_older_policy_never_releases_its_own_files(policy: Path) -> None:
    feed = Exporting(policy, ENVIRON)
    keeper, _, _ = keeper_of(feed)
    assert await keeper.refresh(force=True)
    older = keeper.policy
    (policy / "policy.yaml").write_text(POLICY + "\n# a new revision\n")
    assert await keeper.refresh(force=True)
    assert older is not None and keeper.policy is not older

    await keeper.release_others(older)  # an engine built from the older policy
    assert feed.kept == []
