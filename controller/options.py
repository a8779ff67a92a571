"""Command-line options shared by several commands: where state lives and how long it is kept.

One definition each, so `apply`, `run`, `history` and `report` agree on flags, environment
variables and defaults.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer


def default_state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state"
    return Path(base) / "provisioner"


RetentionOption = Annotated[
    int,
    typer.Option(
        "--journal-retention-days",
        envvar="PROVISIONER_JOURNAL_RETENTION_DAYS",
        min=1,
        help="Days the journal keeps each cycle before pruning it.",
    ),
]

StateOption = Annotated[
    Path | None,
    typer.Option(
        "--state-dir",
        help=(
            "Where apply and run keep the audit journal (journal.db) and remember the last "
            "trusted source size and when accounts were suspended (for deleteAfter). plan, "
            "history and report only read it."
        ),
        envvar="PROVISIONER_STATE_DIR",
        show_default="$XDG_STATE_HOME/provisioner",
    ),
]

PolicyOption = Annotated[
    Path,
    typer.Option(
        "--policy",
        "-p",
        help="Directory of policy YAML files; every *.yaml under it is loaded.",
        envvar="PROVISIONER_POLICY",
    ),
]
