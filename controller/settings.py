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
    state_dir: Path | None
    """Where apply's memory lives (last trusted source size, suspension times)."""
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
