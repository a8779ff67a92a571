"""How the long-running controller runs: where policy and state live, intervals, ports. Not policy.

Policy (what should be true) lives in git; these operational settings come from flags and
PROVISIONER_* environment variables. This model is their one definition: each field's flag,
variable, default and meaning are declared here, the CLI's options are built from it
(`options.setting_option`), and `docs/configuration.md` is generated from it
(`python -m controller.configuration_doc`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

ENV_PREFIX = "PROVISIONER_"


def setting(default: Any, flag: str, help: str, **typer_extra: Any) -> Any:
    """A field that is also the flag `flag` and the variable PROVISIONER_<FLAG>."""
    return field(default=default, metadata={"flag": flag, "help": help, "typer": typer_extra})


def environment_variable(flag: str) -> str:
    """--policy-interval -> PROVISIONER_POLICY_INTERVAL."""
    return ENV_PREFIX + flag.removeprefix("--").upper().replace("-", "_")


@dataclass(frozen=True)
class LoopSettings:
    policy_dir: Path = setting(
        Path("desired-state"),
        "--policy",
        "Directory of policy YAML files; every *.yaml under it is loaded. `run` looks at it "
        "every --policy-interval for new files (a git-sync sidecar's checkout, say). Ignored "
        "with --policy-repo.",
    )
    state_dir: Path | None = setting(
        None,
        "--state-dir",
        "Where apply and run keep the audit journal (journal.db), remember the last trusted "
        "source size and when accounts were suspended (for deleteAfter), and (with "
        "--policy-repo) the policy mirror. One writer at a time: apply and run hold its "
        "writer.lock. plan, diff, history and report only read it.",
        show_default="$XDG_STATE_HOME/provisioner",
    )
    policy_repo: str | None = setting(
        None,
        "--policy-repo",
        "Fetch the policy from this git URL (https://, ssh://, file://) instead of --policy. "
        "Credentials: PROVISIONER_GIT_TOKEN, --git-token-file or --git-ssh-key-file.",
    )
    policy_branch: str = setting("main", "--policy-branch", "Branch of --policy-repo to follow.")
    policy_path: str = setting(
        "", "--policy-path", "Folder of the policy in --policy-repo; empty for the root."
    )
    policy_interval_seconds: float = setting(
        60.0,
        "--policy-interval",
        "Seconds between looks for a new policy: a fetch of --policy-repo, or a look at the "
        "--policy directory. A new valid revision reconciles at once; an invalid one is "
        "refused and the last good one kept.",
    )
    git_token_file: Path | None = setting(
        None,
        "--git-token-file",
        "File holding an HTTPS token for --policy-repo, read at every fetch (so a rotated "
        "Secret needs no restart). Or set PROVISIONER_GIT_TOKEN.",
    )
    git_username: str = setting(
        "x-access-token",
        "--git-username",
        "User name sent with the token: x-access-token for GitHub, oauth2 for GitLab.",
    )
    git_ssh_key_file: Path | None = setting(
        None, "--git-ssh-key-file", "Private key for an ssh:// --policy-repo."
    )
    git_known_hosts_file: Path | None = setting(
        None,
        "--git-known-hosts-file",
        "known_hosts for an ssh:// --policy-repo (default: ssh's own).",
    )
    interval_seconds: float = setting(
        300.0,
        "--interval",
        "Seconds between full reconciles: the safety net that needs no event to fire.",
    )
    jitter_seconds: float = setting(
        30.0,
        "--jitter",
        "Random seconds added to each scheduled run, so many controllers do not beat in step.",
    )
    change_interval_seconds: float = setting(
        15.0,
        "--change-interval",
        "Seconds between asking the source what changed (Salesforce only: 3 API calls when "
        "nothing did), or longer when --change-budget-percent says so. A change reconciles at "
        "once.",
    )
    change_budget_percent: float = setting(
        10.0,
        "--change-budget-percent",
        "Most of the Salesforce org's daily API allowance, in percent, that the change checks "
        "may spend (every integration of the org shares it). A check costs 3 calls when nothing "
        "changed and 2 more per 200 changed users. The checks run every --change-interval "
        "unless their average cost at that pace would pass this share of the allowance (read "
        "from Salesforce's Sforce-Limit-Info header); then they run every cost x 86,400 / "
        "(share x allowance) seconds, rounded up to whole --change-interval steps: 10% of "
        "100,000 calls a day turns 2 s into 26 s. Past 90% of the allowance used they slow "
        "further, to once an hour when none is left. A change of pace is logged (`change checks "
        "paced`) and shown on /metrics.",
        min=0.1,
        max=100.0,
    )
    shutdown_grace_seconds: float = setting(
        60.0,
        "--shutdown-grace",
        "On SIGTERM, seconds the run in flight may take to finish before it is abandoned.",
    )
    lock_timeout_seconds: float = setting(
        0.0,
        "--lock-timeout",
        "Seconds `apply` or `run` waits for the state directory's writer lock (writer.lock) "
        "while another process holds it, then refuses, naming the holder (exit 1). 0 refuses "
        "at once. One writer per state directory: see `provisioner approve` for releasing "
        "held deprovisions while a controller runs.",
        min=0.0,
    )
    journal_retention_days: int = setting(
        400,
        "--journal-retention-days",
        "Days the journal keeps each cycle before pruning it.",
        min=1,
    )
    host: str = setting(
        "127.0.0.1",
        "--host",
        "Address for /metrics, /healthz and /readyz (0.0.0.0 in a container).",
    )
    port: int = setting(9108, "--port", "Port for /metrics, /healthz and /readyz.")
    log_format: Literal["auto", "json", "text"] = setting(
        "auto",
        "--log-format",
        "json (one event a line), text, or auto: json unless stderr is a terminal.",
    )


def described() -> list[tuple[str, str, Any, str, dict[str, Any]]]:
    """(field, flag, default, help, typer extras) of every setting, in declaration order."""
    return [
        (f.name, f.metadata["flag"], f.default, f.metadata["help"], f.metadata["typer"])
        for f in fields(LoopSettings)
    ]
