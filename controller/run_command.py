"""`provisioner run`: every operational setting as a flag and a PROVISIONER_* variable.

Flags, variables, defaults and help come from `LoopSettings`, the one definition of each
setting, so the flags, the environment and `docs/configuration.md` cannot disagree. Containers
set them through the environment (the Dockerfile sets PROVISIONER_HOST, PROVISIONER_POLICY and
PROVISIONER_STATE_DIR).
"""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated

import typer

from controller import service
from controller.options import (
    DEFAULTS,
    LockTimeoutOption,
    PolicyOption,
    RetentionOption,
    StateOption,
    default_state_dir,
    setting_option,
)
from controller.settings import LoopSettings


class LogFormat(enum.StrEnum):
    auto = "auto"
    json = "json"
    text = "text"


DEFAULT_LOG_FORMAT = LogFormat(DEFAULTS.log_format)


def run(
    policy: PolicyOption = DEFAULTS.policy_dir,
    state_dir: StateOption = DEFAULTS.state_dir,
    policy_repo: Annotated[str | None, setting_option("policy_repo")] = DEFAULTS.policy_repo,
    policy_branch: Annotated[str, setting_option("policy_branch")] = DEFAULTS.policy_branch,
    policy_path: Annotated[str, setting_option("policy_path")] = DEFAULTS.policy_path,
    policy_interval: Annotated[
        float, setting_option("policy_interval_seconds")
    ] = DEFAULTS.policy_interval_seconds,
    git_token_file: Annotated[
        Path | None, setting_option("git_token_file")
    ] = DEFAULTS.git_token_file,
    git_username: Annotated[str, setting_option("git_username")] = DEFAULTS.git_username,
    git_ssh_key_file: Annotated[
        Path | None, setting_option("git_ssh_key_file")
    ] = DEFAULTS.git_ssh_key_file,
    git_known_hosts_file: Annotated[
        Path | None, setting_option("git_known_hosts_file")
    ] = DEFAULTS.git_known_hosts_file,
    interval: Annotated[float, setting_option("interval_seconds")] = DEFAULTS.interval_seconds,
    jitter: Annotated[float, setting_option("jitter_seconds")] = DEFAULTS.jitter_seconds,
    change_interval: Annotated[
        float, setting_option("change_interval_seconds")
    ] = DEFAULTS.change_interval_seconds,
    change_budget_percent: Annotated[
        float, setting_option("change_budget_percent")
    ] = DEFAULTS.change_budget_percent,
    shutdown_grace: Annotated[
        float, setting_option("shutdown_grace_seconds")
    ] = DEFAULTS.shutdown_grace_seconds,
    journal_retention_days: RetentionOption = DEFAULTS.journal_retention_days,
    lock_timeout: LockTimeoutOption = DEFAULTS.lock_timeout_seconds,
    host: Annotated[str, setting_option("host")] = DEFAULTS.host,
    port: Annotated[int, setting_option("port")] = DEFAULTS.port,
    log_format: Annotated[LogFormat, setting_option("log_format")] = DEFAULT_LOG_FORMAT,
) -> None:
    """Run the controller until stopped: reconcile on a schedule, on source changes, on new
    policy revisions and on signals.

    Signals: `kill -HUP <pid>` fetches and reloads the policy (an invalid one is refused and the
    last good one kept) and reconciles now; `kill -USR1 <pid>` reconciles now; SIGTERM or SIGINT
    stop taking work, let the run in flight finish (up to --shutdown-grace) and exit 0. Triggers
    that arrive during a run coalesce into exactly one more run. Every log line carries the
    policy revision: the commit's short SHA when the policy comes from git.

    One writer per state directory: `run` holds the state directory's writer.lock for its whole
    life, so an `apply` beside it refuses. To release deprovisions it holds (a per-run limit),
    use `provisioner approve --app APP`: the next cycle takes the approval up.
    """
    settings = LoopSettings(
        policy_dir=policy,
        state_dir=state_dir or default_state_dir(),
        policy_repo=policy_repo or None,
        policy_branch=policy_branch,
        policy_path=policy_path,
        policy_interval_seconds=policy_interval,
        git_token_file=git_token_file,
        git_username=git_username,
        git_ssh_key_file=git_ssh_key_file,
        git_known_hosts_file=git_known_hosts_file,
        interval_seconds=interval,
        jitter_seconds=jitter,
        change_interval_seconds=change_interval,
        change_budget_percent=change_budget_percent,
        shutdown_grace_seconds=shutdown_grace,
        journal_retention_days=journal_retention_days,
        lock_timeout_seconds=lock_timeout,
        host=host,
        port=port,
        log_format=log_format.value,
    )
    raise typer.Exit(service.run(settings))
