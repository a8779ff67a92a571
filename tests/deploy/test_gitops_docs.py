"""The example CI workflow in docs/gitops.md parses, and every provisioner command in it exists
with the flags it uses: a renamed flag breaks this test, not a user's pipeline."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import typer.main
import yaml

from controller.cli import app

DOC = Path(__file__).resolve().parents[2] / "docs" / "gitops.md"


def workflow() -> dict[str, Any]:
    (block,) = re.findall(r"```yaml\n(.*?)```", DOC.read_text(), flags=re.DOTALL)
    document: dict[str, Any] = yaml.safe_load(block)
    return document


def invocations() -> list[list[str]]:
    """Every `provisioner ...` command line in the workflow's steps, and in the doc's sh blocks."""
    scripts = [step.get("run", "") for job in workflow()["jobs"].values() for step in job["steps"]]
    scripts += re.findall(r"```sh\n(.*?)```", DOC.read_text(), flags=re.DOTALL)
    found = []
    for script in scripts:
        for line in script.replace("\\\n", " ").splitlines():
            if "provisioner " in line and "pip install" not in line:
                words = shlex.split(line[line.index("provisioner ") :].split(">")[0])
                found.append(words[1:])
    return found


def test_the_workflow_is_valid_yaml_with_the_steps_a_pr_needs() -> None:
    document = workflow()
    steps = document["jobs"]["plan"]["steps"]
    assert document["permissions"]["pull-requests"] == "write"
    assert steps[0]["with"]["fetch-depth"] == 0  # diff needs the base revision
    names = [step.get("name") for step in steps]
    assert names[-3:] == ["Validate", "Plan and diff", "Comment"]


def test_every_command_in_the_doc_exists_with_its_flags() -> None:
    commands = typer.main.get_command(app).commands  # type: ignore[attr-defined]
    seen = set()
    for words in invocations():
        command = commands[words[0]]
        flags = {name for param in command.params for name in param.opts}
        used = {word.split("=")[0] for word in words[1:] if word.startswith("-")}
        assert used <= flags, f"{words[0]}: no such flag {sorted(used - flags)}"
        seen.add(words[0])
    assert seen == {"validate", "plan", "diff", "run"}
