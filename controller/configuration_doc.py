"""Writes docs/configuration.md from the settings model, so the reference cannot go stale.

`python -m controller.configuration_doc > docs/configuration.md` regenerates it; a test fails
when the committed file differs. Besides every setting (flag, variable, default, meaning) it
lists the variables read from the environment alone and those the example policy names.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from controller.settings import described, environment_variable

EXAMPLE_POLICY = Path(__file__).resolve().parents[1] / "desired-state"
ENVIRONMENT_ONLY = (
    (
        "PROVISIONER_GIT_TOKEN",
        "An HTTPS token for `--policy-repo`, as an alternative to `--git-token-file`. "
        "Never a flag: command lines are visible to every user of the machine.",
    ),
    (
        "SSL_CERT_FILE",
        "Replaces the whole CA bundle (certifi's) for every connection. To trust one more CA "
        "(a TLS-inspecting proxy, an app behind a private CA), give the policy's `caFile` "
        "instead, in the Source's `salesforce` or in a ConnectedApp's spec: a PEM file added to "
        "the default trust store, relative to the policy file; `validate` checks it.",
    ),
    (
        "XDG_STATE_HOME",
        "The base of the default `--state-dir` (`$XDG_STATE_HOME/provisioner`, else "
        "`~/.local/state/provisioner`).",
    ),
)
COMMANDS = {
    "policy_dir": "all but `schema` and `demo`",
    "state_dir": "`apply`, `run`, `approve`; read by `plan`, `diff`, `history`, `report`",
    "journal_retention_days": "`apply`, `run`",
    "lock_timeout_seconds": "`apply`, `run`",
}


def _shown(default: Any, extra: dict[str, Any]) -> str:
    if "show_default" in extra:
        return f"`{extra['show_default']}`"
    if default is None:
        return "(none)"
    if default == "":
        return "(empty)"
    return f"`{default}`"


def _policy_variables(directory: Path) -> list[tuple[str, str]]:
    """(variable, file) for every `${NAME}` and `...Env: NAME` in the example policy."""
    found: dict[str, str] = {}
    for path in sorted(directory.rglob("*.yaml")):
        text = path.read_text()
        names = re.findall(r"\$\{([A-Z_][A-Z0-9_]*)", text)
        names += re.findall(r"(?:bearerTokenEnv|clientSecretEnv):\s*([A-Z_][A-Z0-9_]*)", text)
        for name in names:
            found.setdefault(name, path.relative_to(directory.parent).as_posix())
    return sorted(found.items())


def render() -> str:
    lines = [
        "# Configuration reference",
        "",
        "<!-- Generated from controller/settings.py by "
        "`python -m controller.configuration_doc > docs/configuration.md`. Do not edit. -->",
        "",
        "Operational settings: how the controller runs, not what access people should have (that "
        "is the policy, in git). Each is a flag and an environment variable; the flag wins when "
        "both are given. `provisioner run` takes all of them; the commands that take a few are "
        "named below.",
        "",
        "| Flag | Environment variable | Default | Meaning |",
        "|---|---|---|---|",
    ]
    for name, flag, default, help_text, extra in described():
        used = f" *Also: {COMMANDS[name]}.*" if name in COMMANDS else ""
        meaning = f"{help_text}{used}".replace("|", "\\|")
        variable = environment_variable(flag)
        lines.append(f"| `{flag}` | `{variable}` | {_shown(default, extra)} | {meaning} |")
    lines += ["", "## Read from the environment only", ""]
    lines += [f"- `{name}`: {meaning}" for name, meaning in ENVIRONMENT_ONLY]
    lines += [
        "",
        "## Named by the policy",
        "",
        "A policy names the variables that hold tokens (`bearerTokenEnv`, `clientSecretEnv`) "
        "and may take any value from the environment with `${NAME}` or `${NAME:-default}`. "
        "`provisioner validate` reports a variable that is needed but unset, by name, never its "
        "value. The example policy in `desired-state/` uses:",
        "",
    ]
    lines += [f"- `{name}` ({where})" for name, where in _policy_variables(EXAMPLE_POLICY)]
    return "\n".join(lines) + "\n"


def main() -> None:
    print(render(), end="")


if __name__ == "__main__":
    main()
