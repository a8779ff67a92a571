"""docs/configuration.md is what the settings model generates, and the CLI takes every setting
with the flag, variable and default the model declares."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer.main

from controller.cli import app
from controller.configuration_doc import render
from controller.settings import described, environment_variable

DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"
REGENERATE = "python -m controller.configuration_doc > docs/configuration.md"


def test_the_configuration_reference_is_up_to_date() -> None:
    assert DOC.read_text() == render(), f"docs/configuration.md is stale: run `{REGENERATE}`"


def options(command: str) -> dict[str, object]:
    commands = typer.main.get_command(app).commands  # type: ignore[attr-defined]
    return {opt: param for param in commands[command].params for opt in param.opts}


@pytest.mark.parametrize(("name", "flag", "default"), [(n, f, d) for n, f, d, _, _ in described()])
def test_run_takes_every_setting_as_its_flag_and_variable(
    name: str, flag: str, default: object
) -> None:
    param = options("run")[flag]
    assert param.envvar == environment_variable(flag)  # type: ignore[attr-defined]
    shown = getattr(param, "default", None)
    assert str(shown) == str(default) or (shown is None and default is None), name


def test_the_commands_that_share_a_setting_take_it_alike() -> None:
    for command in ("plan", "apply", "diff", "validate"):
        assert options(command)["--policy"].envvar == "PROVISIONER_POLICY"  # type: ignore[attr-defined]
    for command in ("plan", "apply", "diff", "history"):
        assert options(command)["--state-dir"].envvar == "PROVISIONER_STATE_DIR"  # type: ignore[attr-defined]
