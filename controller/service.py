"""`provisioner run`: wires logging, metrics, the HTTP endpoints and the loop into one process.

The composition root of the long-running controller, kept apart from the CLI's argument parsing
and from the loop's own logic, so each stays small and testable.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from controller import http, loop, writer_lock
from controller import logging as logs
from controller.metrics import Recorder
from controller.options import default_state_dir
from controller.policy import git
from controller.policy.feed import DirectoryFeed, GitFeed, PolicyFeed
from controller.policy_keeper import PolicyKeeper
from controller.settings import LoopSettings
from reconcilers import REGISTRY

GIT_TOKEN_VARIABLE = "PROVISIONER_GIT_TOKEN"  # noqa: S105 - the name, not a value
"""A token for policy_repo over HTTPS, from the environment (a Kubernetes Secret), never a flag."""


def policy_feed(settings: LoopSettings, environ: Mapping[str, str]) -> PolicyFeed:
    """The policy's directory, or its repository when `policy_repo` is set."""
    if settings.policy_repo is None:
        return DirectoryFeed(settings.policy_dir, environ)
    state = settings.state_dir or Path(tempfile.mkdtemp(prefix="provisioner-"))
    credentials = git.Credentials(
        token=environ.get(GIT_TOKEN_VARIABLE) or None,
        token_file=settings.git_token_file,
        username=settings.git_username,
        ssh_key_file=settings.git_ssh_key_file,
        known_hosts_file=settings.git_known_hosts_file,
    )
    return GitFeed(
        settings.policy_repo,
        branch=settings.policy_branch,
        path=settings.policy_path,
        cache=state / "policy",
        credentials=credentials,
        environ=environ,
    )


async def _main(settings: LoopSettings, *, environ: Mapping[str, str]) -> int:
    logs.configure(json=None if settings.log_format == "auto" else settings.log_format == "json")
    log = logs.get_logger()
    try:  # one writer per state directory, for the controller's whole life (rule 9)
        lock = await asyncio.to_thread(_writer_lock, settings, log)
    except writer_lock.LockHeld as refused:
        log.error("refused: another writer holds the state directory", error=str(refused))
        return 1
    with lock:
        return await _serve(settings, environ=environ, log=log)


def _writer_lock(settings: LoopSettings, log: Any) -> writer_lock.WriterLock:
    def waiting(holder: writer_lock.Holder | None) -> None:
        who = holder.describe() if holder else "another writer"
        log.warning(
            "waiting for the writer lock", holder=who, timeout=settings.lock_timeout_seconds
        )

    state_dir = settings.state_dir or default_state_dir()
    return writer_lock.acquire(
        state_dir,
        command="provisioner run",
        timeout=settings.lock_timeout_seconds,
        on_wait=waiting,
    )


async def _serve(settings: LoopSettings, *, environ: Mapping[str, str], log: Any) -> int:
    recorder = Recorder()
    health = http.Health(
        max_age_seconds=3 * settings.interval_seconds + 60,
        cycle_bound_seconds=loop.cycle_bound_seconds(settings),
    )
    keeper = PolicyKeeper(
        policy_feed(settings, environ),
        registry=REGISTRY,
        environ=environ,
        recorder=recorder,
        health=health,
        log=log,
    )
    controller = loop.Controller(
        settings,
        keeper=keeper,
        registry=REGISTRY,
        environ=environ,
        recorder=recorder,
        health=health,
        log=log,
    )
    server = await http.start(
        http.make_app(recorder, health), host=settings.host, port=settings.port
    )
    log.info("serving", metrics=f"http://{settings.host}:{settings.port}/metrics", pid=os.getpid())
    try:
        return await controller.run()
    finally:
        await http.stop(server)


def run(settings: LoopSettings, *, environ: Mapping[str, str] | None = None) -> int:
    environment = os.environ if environ is None else environ
    return asyncio.run(_main(settings, environ=environment))
