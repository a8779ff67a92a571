"""What the image, the manifests and the deployment guide must agree with, read from the code.

The controller's own variables and flags (from the `provisioner` command itself), the paths its
HTTP server answers, and the variables the example policy reads: so a renamed setting, route or
token fails a deploy test instead of a rollout.
"""

from __future__ import annotations

import re
from pathlib import Path

import typer.main
import yaml

from controller import http, service
from controller.cli import app
from controller.metrics import Recorder

REPO = Path(__file__).resolve().parents[2]
POLICY = REPO / "desired-state"
_POLICY_VARIABLE = re.compile(r"\$\{(\w+)(?::-[^}]*)?\}")


def command_options(*command: str) -> dict[str, str | None]:
    """Every flag of `provisioner <command...>` (such as "report", "access-removal"), with the
    variable it also reads (None: none); KeyError when there is no such command."""
    found = typer.main.get_command(app)
    for name in command:
        found = found.commands[name]  # type: ignore[attr-defined]
    options: dict[str, str | None] = {}
    for param in found.params:
        envvar = getattr(param, "envvar", None)
        for flag in param.opts:
            options[flag] = envvar if isinstance(envvar, str) else None
    return options


def commands() -> set[str]:
    return set(typer.main.get_command(app).commands)  # type: ignore[attr-defined]


def run_variables() -> set[str]:
    """Every PROVISIONER_* variable `provisioner run` reads."""
    variables = {v for v in command_options("run").values() if v is not None}
    return variables | {service.GIT_TOKEN_VARIABLE}


def http_paths() -> set[str]:
    """The paths the controller's HTTP port answers."""
    routes = http.make_app(Recorder(), http.Health()).routes
    return {route.path for route in routes}  # type: ignore[attr-defined]


def policy_documents() -> list[dict[str, object]]:
    documents = []
    for path in sorted(POLICY.glob("*.yaml")):
        documents += [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    return documents


def policy_variables() -> set[str]:
    """Every variable the example policy reads: each ${NAME}, and each secret it names."""
    found: set[str] = set()
    for path in POLICY.glob("*.yaml"):
        found |= set(_POLICY_VARIABLE.findall(path.read_text()))
    return found | policy_secret_variables()


def policy_secret_variables() -> set[str]:
    """The variables the example policy reads secrets from (bearerTokenEnv, clientSecretEnv)."""
    found: set[str] = set()

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("bearerTokenEnv", "clientSecretEnv") and isinstance(value, str):
                    found.add(value)
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(policy_documents())
    return found
