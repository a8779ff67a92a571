"""`provisioner run`: every operational setting as a flag and a PROVISIONER_* variable.

The defaults come from `LoopSettings`, the one definition of each setting, so the flags, the
environment and `docs/configuration.md` cannot disagree. Containers set these through the
environment (the Dockerfile sets PROVISIONER_HOST, PROVISIONER_POLICY, PROVISIONER_STATE_DIR).
"""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated

import typer

from controller import service
from controller.options import PolicyOption, RetentionOption, StateOption, default_state_dir
from controller.settings import LoopSettings

DEFAULTS = LoopSettings(policy_dir=Path("desired-state"), state_dir=None)


class LogFormat(enum.StrEnum):
    auto = "auto"
    json = "json"
    text = "text"


def _option(name: str, variable: str, help: str) -> typer.models.OptionInfo:
    """A flag that PROVISIONER_<variable> also sets."""
    option: typer.models.OptionInfo = typer.Option(
        name, envvar=f"PROVISIONER_{variable}", help=help
    )
    return option


def run(
    policy: PolicyOption = DEFAULTS.policy_dir,
    state_dir: StateOption = None,
    interval: Annotated[
        float,
        _option("--interval", "INTERVAL", "Seconds between full reconciles (the safety net)."),
    ] = DEFAULTS.interval_seconds,
    jitter: Annotated[
        float, _option("--jitter", "JITTER", "Random seconds added to each interval.")
    ] = DEFAULTS.jitter_seconds,
    change_interval: Annotated[
        float,
        _option(
            "--change-interval",
            "CHANGE_INTERVAL",
            "Seconds between asking the source what changed (Salesforce only).",
        ),
    ] = DEFAULTS.change_interval_seconds,
    policy_repo: Annotated[
        str | None,
        _option(
            "--policy-repo",
            "POLICY_REPO",
            "Fetch the policy from this git URL (https://, ssh://, file://) instead of --policy; "
            "credentials come from PROVISIONER_GIT_TOKEN, --git-token-file or --git-ssh-key-file.",
        ),
    ] = DEFAULTS.policy_repo,
    policy_branch: Annotated[
        str, _option("--policy-branch", "POLICY_BRANCH", "Branch of --policy-repo to follow.")
    ] = DEFAULTS.policy_branch,
    policy_path: Annotated[
        str,
        _option(
            "--policy-path", "POLICY_PATH", "Folder of the policy in --policy-repo (default: root)."
        ),
    ] = DEFAULTS.policy_path,
    policy_interval: Annotated[
        float,
        _option(
            "--policy-interval",
            "POLICY_INTERVAL",
            "Seconds between looks for a new policy: a fetch of --policy-repo, or a look at the "
            "--policy directory (kept fresh by git-sync, say). A new valid revision reconciles at "
            "once; an invalid one is refused and the last good one kept.",
        ),
    ] = DEFAULTS.policy_interval_seconds,
    git_token_file: Annotated[
        Path | None,
        _option("--git-token-file", "GIT_TOKEN_FILE", "File holding an HTTPS token for git."),
    ] = DEFAULTS.git_token_file,
    git_username: Annotated[
        str,
        _option(
            "--git-username",
            "GIT_USERNAME",
            "User name sent with the token: x-access-token (GitHub), oauth2 (GitLab).",
        ),
    ] = DEFAULTS.git_username,
    git_ssh_key_file: Annotated[
        Path | None,
        _option("--git-ssh-key-file", "GIT_SSH_KEY_FILE", "Private key for ssh:// policy URLs."),
    ] = DEFAULTS.git_ssh_key_file,
    git_known_hosts_file: Annotated[
        Path | None,
        _option(
            "--git-known-hosts-file",
            "GIT_KNOWN_HOSTS_FILE",
            "known_hosts for ssh:// policy URLs (default: ssh's own).",
        ),
    ] = DEFAULTS.git_known_hosts_file,
    host: Annotated[
        str, _option("--host", "HOST", "Address for /metrics, /healthz, /readyz.")
    ] = DEFAULTS.host,
    port: Annotated[
        int, _option("--port", "PORT", "Port for /metrics, /healthz, /readyz.")
    ] = DEFAULTS.port,
    shutdown_grace: Annotated[
        float,
        _option(
            "--shutdown-grace", "SHUTDOWN_GRACE", "Seconds in-flight work may take after SIGTERM."
        ),
    ] = DEFAULTS.shutdown_grace_seconds,
    journal_retention_days: RetentionOption = DEFAULTS.journal_retention_days,
    log_format: Annotated[
        LogFormat,
        _option(
            "--log-format",
            "LOG_FORMAT",
            "json (one event a line), text, or auto: json unless on a terminal.",
        ),
    ] = LogFormat.auto,
) -> None:
    """Run the controller until stopped: reconcile on a schedule, on source changes, on new
    policy revisions and on signals.

    Signals: `kill -HUP <pid>` fetches and reloads the policy (an invalid one is refused and the
    last good one kept) and reconciles now; `kill -USR1 <pid>` reconciles now; SIGTERM or SIGINT
    stop taking work, let the run in flight finish (up to --shutdown-grace) and exit 0. Triggers
    that arrive during a run coalesce into exactly one more run. Every log line carries the
    policy revision: the commit's short SHA when the policy comes from git.
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
        shutdown_grace_seconds=shutdown_grace,
        journal_retention_days=journal_retention_days,
        host=host,
        port=port,
    )
    json_logs = None if log_format is LogFormat.auto else log_format is LogFormat.json
    raise typer.Exit(service.run(settings, json_logs=json_logs))
