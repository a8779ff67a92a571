"""GitOps: a real `provisioner run` follows a real git repository, and a folder git-sync swaps.

Each test makes a repository in a temporary folder, lets the controller fetch it over file://,
then commits to it: a good commit must be in force (metric, log lines, accounts in the app)
after one policy interval or at once on SIGHUP, and a broken one must change nothing that runs.
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from pathlib import Path

import httpx

from tests.e2e.conftest import POLICY
from tests.gitrepo import SALES_RULE, git
from tests.gitrepo import commit as commit_all
from tests.process.conftest import Running, wait_for

Start = Callable[..., Running]


def in_force(running: Running, revision: str) -> bool:
    return running.metric("provisioner_policy_info", revision=revision) == 1.0


def first_revision(running: Running) -> str:
    running.wait_cycles(1)
    (loaded,) = running.events("policy loaded")
    revision: str = loaded["revision"]
    return revision


def grant_sales(policy: Path) -> None:
    path = policy / "policy.yaml"
    path.write_text(path.read_text() + SALES_RULE)


def with_invalid_date(text: str) -> str:
    """A date that does not exist. PyYAML's timestamp constructor raised ValueError on it, which
    nothing under `run` caught: the reload died unseen and a restart crash-looped (issue 17)."""
    return text.replace("metadata: {name: org}", "metadata: {name: org}\nreviewed: 2024-02-30", 1)


RESTORED = "last good policy restored; it stays in force until a valid one arrives"
WAITING = "no valid policy: waiting for one; nothing is reconciled until it loads"


def test_a_new_commit_is_in_force_within_one_interval(controller: Start) -> None:
    running = controller(repo=True, args=("--policy-interval", "1"))
    old = first_revision(running)
    assert old == commit_of(running.policy)
    assert len(running.accounts()) == 16  # Engineering and Support; Sales has no grant yet

    grant_sales(running.policy)
    new = commit(running.policy, "sales get the tool")
    wait_for(lambda: in_force(running, new), "the new commit in force")
    wait_for(lambda: len(running.accounts()) == 24, "the Sales accounts created")

    assert running.metric("provisioner_policy_info", revision=old) is None
    assert running.metric("provisioner_reconcile_triggers_total", trigger="policy") == 1.0
    started = running.events("cycle started")
    assert started[-1]["triggers"] == ["policy"] and started[-1]["revision"] == new
    # Every line from the first load on names the revision in force.
    events = running.events()
    first = next(i for i, event in enumerate(events) if event["event"] == "policy loaded")
    assert all("revision" in event for event in events[first:])
    assert {event["revision"] for event in events[first:]} == {old, new}
    assert running.stop() == 0


def test_sighup_fetches_a_new_commit_at_once(controller: Start) -> None:
    running = controller(repo=True, args=("--policy-interval", "3600"))
    old = first_revision(running)

    grant_sales(running.policy)
    new = commit(running.policy, "sales get the tool")
    running.signal(signal.SIGHUP)  # the interval is an hour: only the signal can fetch it

    wait_for(lambda: in_force(running, new), "the new commit in force")
    wait_for(lambda: len(running.accounts()) == 24, "the Sales accounts created")
    assert running.metric("provisioner_policy_info", revision=old) is None
    assert running.metric("provisioner_reconcile_triggers_total", trigger="signal") == 1.0
    assert running.stop() == 0


def test_a_broken_commit_keeps_the_last_good_revision(controller: Start) -> None:
    running = controller(repo=True, args=("--policy-interval", "1"))
    good = first_revision(running)
    text = (running.policy / "policy.yaml").read_text()

    (running.policy / "policy.yaml").write_text(text.replace("type: scim", "type: [broken"))
    broken = commit(running.policy, "a typo")
    wait_for(lambda: running.metric("provisioner_policy_valid") == 0.0, "policy_valid to drop")

    (refused,) = running.events("policy invalid; keeping the last good one")
    assert refused["rejected_revision"] == broken and refused["kept_revision"] == good
    assert any("policy.yaml" in line for line in refused["errors"])
    assert in_force(running, good)
    assert running.metric("provisioner_policy_load_errors_total") == 1.0
    # The controller goes on reconciling with the last good policy.
    running.signal(signal.SIGUSR1)
    running.wait_cycles(2)
    assert running.events("cycle finished")[-1]["revision"] == good
    assert len(running.accounts()) == 16

    (running.policy / "policy.yaml").write_text(text + SALES_RULE)
    fixed = commit(running.policy, "fix the typo, grant sales")
    wait_for(lambda: in_force(running, fixed), "the fixed commit in force")
    assert running.metric("provisioner_policy_valid") == 1.0
    wait_for(lambda: len(running.accounts()) == 24, "the Sales accounts created")
    assert running.stop() == 0


def commit_of(directory: Path) -> str:
    return git(directory, "rev-parse", "HEAD")[:12]


def commit(directory: Path, message: str) -> str:
    """Commit everything; the revision the controller should report (the short SHA)."""
    return commit_all(directory, message)[:12]


def test_a_policy_folder_changed_in_place_is_picked_up(controller: Start) -> None:
    """A folder outside git (a ConfigMap, a copy): its content hash is the revision."""
    running = controller(args=("--policy-interval", "1"))
    old = first_revision(running)
    grant_sales(running.policy)

    wait_for(lambda: running.metric("provisioner_policy_info", revision=old) is None, "reload")
    wait_for(lambda: len(running.accounts()) == 24, "the Sales accounts created")
    (_, loaded) = running.events("policy loaded")
    assert loaded["revision"] != old and len(loaded["revision"]) == 12
    assert running.stop() == 0


def test_an_invalid_date_is_refused_on_poll_sighup_and_restart_keeping_the_last_good(
    controller: Start,
) -> None:
    running = controller(repo=True, args=("--policy-interval", "1"))
    good = first_revision(running)
    path = running.policy / "policy.yaml"
    path.write_text(with_invalid_date(path.read_text()))
    broken = commit(running.policy, "an impossible date")

    wait_for(lambda: running.metric("provisioner_policy_valid") == 0.0, "policy_valid to drop")
    (refused,) = running.events("policy invalid; keeping the last good one")
    assert refused["rejected_revision"] == broken and refused["kept_revision"] == good
    assert refused["errors"]
    assert running.metric("provisioner_policy_load_errors_total") == 1.0
    assert in_force(running, good)
    running.signal(signal.SIGUSR1)
    running.wait_cycles(2)
    assert running.events("cycle finished")[-1]["revision"] == good

    # SIGHUP with the broken commit still the newest: refused again, and the process goes on.
    running.signal(signal.SIGHUP)
    wait_for(
        lambda: running.metric("provisioner_policy_load_errors_total") == 2.0, "a second refusal"
    )
    running.wait_cycles(3)  # the SIGHUP's reconcile, with the last good policy
    assert running.process.poll() is None
    assert running.metric("provisioner_policy_valid") == 0.0
    assert running.events("cycle finished")[-1]["revision"] == good
    assert running.stop() == 0

    # A restart with the broken commit at the head of the branch: the last good policy, again.
    again = controller(repo=True, again=True, args=("--policy-interval", "1"))
    again.wait_cycles(1)
    (restored,) = again.events(RESTORED)
    assert restored["revision"] == good and restored["rejected_revision"] == broken
    assert in_force(again, good)
    assert again.metric("provisioner_policy_valid") == 0.0  # the alert goes on firing
    assert again.metric("provisioner_policy_load_errors_total") == 1.0
    assert again.events("cycle finished")[-1]["revision"] == good
    assert len(again.accounts()) == 16  # a new app, provisioned by the last good policy
    for log in (running.log_path, again.log_path):
        assert "Traceback" not in log.read_text()

    path.write_text(path.read_text().replace("reviewed: 2024-02-30\n", "") + SALES_RULE)
    fixed = commit(again.policy, "a real date, and sales get the tool")
    wait_for(lambda: in_force(again, fixed), "the fixed commit in force")
    assert again.metric("provisioner_policy_valid") == 1.0
    wait_for(lambda: len(again.accounts()) == 24, "the Sales accounts created")
    assert again.stop() == 0


def test_a_policy_that_never_loaded_is_waited_for_without_a_crash(controller: Start) -> None:
    """No last good policy to keep (a first start; a plain folder keeps no old copy): the
    controller stays up without one, says so on /metrics and /readyz, and takes the fix."""
    running = controller(policy_text=with_invalid_date(POLICY), args=("--policy-interval", "1"))
    wait_for(lambda: running.events("cycle skipped: no valid policy in force"), "a skipped cycle")
    assert running.events(WAITING)
    assert running.metric("provisioner_policy_valid") == 0.0
    assert running.metric("provisioner_policy_load_errors_total") == 1.0
    base = running.metrics_url.removesuffix("/metrics")
    ready = httpx.get(f"{base}/readyz", timeout=5)
    assert ready.status_code == 503
    assert ready.json()["notReady"]["policy"] == "no valid policy loaded"
    assert httpx.get(f"{base}/healthz", timeout=5).status_code == 200  # no restart: it cannot help
    assert running.accounts() == {}
    assert running.process.poll() is None

    (running.policy / "policy.yaml").write_text(POLICY)
    running.wait_cycles(1)
    assert running.metric("provisioner_policy_valid") == 1.0
    assert len(running.accounts()) == 16
    assert "Traceback" not in running.log_path.read_text()
    assert running.stop() == 0
