"""How the long-running controller runs: intervals, deadlines, ports. Not policy.

Policy (what should be true) lives in git under `desired-state/`; these operational settings come
from flags and the environment, bound in `cli.py` only. Every field has a default and says why.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class LoopSettings:
    policy_dir: Path
    """The policy directory; with policy_repo, the default `desired-state` is ignored."""
    state_dir: Path | None
    """Where apply's memory lives (last trusted source size, suspension times)."""
    policy_repo: str | None = None
    """A git URL (https://, ssh:// or file://) to fetch the policy from, instead of a directory."""
    policy_branch: str = "main"
    policy_path: str = ""
    """The policy's folder inside the repository; empty for its root."""
    policy_interval_seconds: float = 60.0
    """How often to fetch the repository (or look at the directory) for a new policy."""
    git_token_file: Path | None = None
    """HTTPS token for policy_repo, read at each fetch (or PROVISIONER_GIT_TOKEN)."""
    git_username: str = "x-access-token"
    """The user name sent with the token: x-access-token for GitHub, oauth2 for GitLab."""
    git_ssh_key_file: Path | None = None
    git_known_hosts_file: Path | None = None
    interval_seconds: float = 300.0
    """A full reconcile at least this often: the safety net that needs no event to fire."""
    jitter_seconds: float = 30.0
    """Random delay added to each scheduled run, so many controllers do not beat in step."""
    change_interval_seconds: float = 15.0
    """How often to ask the source what changed (Salesforce: 3 API calls when nothing did)."""
    shutdown_grace_seconds: float = 60.0
    """On SIGTERM, how long in-flight operations may take to finish before they are abandoned."""
    journal_retention_days: int = 400
    """Cycles older than this are pruned from the journal (`<state dir>/journal.db`)."""
    host: str = "127.0.0.1"
    port: int = 9108
    """/metrics, /healthz and /readyz."""
