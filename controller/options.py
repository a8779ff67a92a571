"""Command-line options built from the settings model, and those several commands share.

Each option's flag, environment variable, default and help come from `settings.LoopSettings`,
so `apply`, `run`, `history` and `report` agree with each other and with
docs/configuration.md.
"""

from __future__ import annotations

import os
from dataclasses import fields
from pathlib import Path
from typing import Annotated

import typer

from controller.settings import LoopSettings, environment_variable


def default_state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state"
    return Path(base) / "provisioner"


def setting_option(name: str, *short: str) -> typer.models.OptionInfo:
    """The typer option of the LoopSettings field `name` (e.g. "interval_seconds")."""
    (found,) = (f for f in fields(LoopSettings) if f.name == name)
    flag: str = found.metadata["flag"]
    option: typer.models.OptionInfo = typer.Option(
        flag,
        *short,
        envvar=environment_variable(flag),
        help=found.metadata["help"],
        **found.metadata["typer"],
    )
    return option


DEFAULTS = LoopSettings()
PolicyOption = Annotated[Path, setting_option("policy_dir", "-p")]
StateOption = Annotated[Path | None, setting_option("state_dir")]
RetentionOption = Annotated[int, setting_option("journal_retention_days")]
LockTimeoutOption = Annotated[float, setting_option("lock_timeout_seconds")]
