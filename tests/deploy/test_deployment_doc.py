"""Every command docs/deployment.md shows exists with the flags it uses, every variable it names
is one the controller or the example policy reads, and its `docker run` lines mount and publish
the paths and port the image declares: a renamed flag or path breaks this test, not a rollout."""

from __future__ import annotations

import re
import shlex
import tomllib
from collections.abc import Iterator
from pathlib import Path

import yaml

from tests.deploy import contract
from tests.deploy.dockerfile import REPO, exec_form, stages

DOC = REPO / "docs" / "deployment.md"
IMAGE = re.compile(r"provisioner:[\w.-]+")
SHELL_OPERATORS = {"|", "||", "&&", ";", ">", ">>", "&"}


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC.read_text(), flags=re.DOTALL)


def command_lines() -> Iterator[list[str]]:
    """Each shell command of the doc's sh blocks, as words, continuations joined."""
    for block in blocks("sh"):
        for line in block.replace("\\\n", " ").splitlines():
            words = shlex.split(line, comments=True)
            if words:
                yield words


def until_operator(words: list[str]) -> list[str]:
    for index, word in enumerate(words):
        if word in SHELL_OPERATORS:
            return words[:index]
    return words


def image_env() -> dict[str, str]:
    return stages()[-1].env({"PATH": ""})


def check_invocation(args: list[str]) -> str:
    """`provisioner args...` names a command and only flags that command has."""
    path = args[:1] or exec_form(stages()[-1].last("CMD"))
    if path == ["report"]:
        path = args[:2]
    options = contract.command_options(*path)
    used = {word.split("=")[0] for word in args[len(path) :] if word.startswith("-")}
    assert used <= set(options), f"provisioner {' '.join(path)}: no such flag {used - set(options)}"
    return " ".join(path)


def test_every_provisioner_command_in_the_doc_exists_with_its_flags() -> None:
    seen = set()
    for words in command_lines():
        if words[:2] == ["docker", "run"]:
            (image,) = [index for index, word in enumerate(words) if IMAGE.fullmatch(word)]
            seen.add(check_invocation(until_operator(words[image + 1 :])))
        elif words[0] == "kubectl" and "--" in words:
            rest = until_operator(words[words.index("--") + 1 :])
            if rest[0] == "provisioner":
                seen.add(check_invocation(rest[1:]))
    assert {"run", "validate", "plan", "history", "report access-removal"} <= seen


def test_docker_run_mounts_publishes_and_sets_what_the_image_declares() -> None:
    env = image_env()
    version = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    runs = 0
    for words in command_lines():
        tags = {word for word in words if IMAGE.fullmatch(word)}
        assert tags <= {f"provisioner:{version}"}, "the doc builds and runs this release"
        if words[:2] != ["docker", "run"]:
            continue
        runs += 1
        options = words[: min(i for i, w in enumerate(words) if IMAGE.fullmatch(w))]
        variables = dict(
            options[i + 1].split("=", 1) for i, word in enumerate(options) if word == "-e"
        )
        for name in variables:
            known = contract.run_variables() | contract.policy_variables()
            assert name in known, f"-e {name}: neither the controller nor the policy reads it"
        files = [value for name, value in variables.items() if name.endswith("_FILE")]
        for i, word in enumerate(options):
            if word == "-v":
                target = options[i + 1].split(":")[1]
                expected = {env["PROVISIONER_POLICY"], env["PROVISIONER_STATE_DIR"]}
                assert target in expected or any(f.startswith(f"{target}/") for f in files), (
                    f"-v ...:{target}: not a path the image or a *_FILE setting uses"
                )
            if word == "-p":
                assert options[i + 1].split(":")[-1] == env["PROVISIONER_PORT"]
    assert runs >= 3


def test_every_setting_the_doc_names_is_one_run_reads() -> None:
    named = set(re.findall(r"\bPROVISIONER_[A-Z][A-Z_]*[A-Z]\b", DOC.read_text()))
    assert named, "the doc names no setting: this test checks nothing"
    assert named <= contract.run_variables(), sorted(named - contract.run_variables())


def test_every_file_the_doc_names_exists() -> None:
    text = DOC.read_text()
    # Repository paths, not `kubectl ... deploy/provisioner` (a Deployment).
    own = r"(?<![\w/])((?:deploy/(?:kubernetes|prometheus|grafana)|tests/deploy)(?:/[\w.-]*\w)*)"
    paths = re.findall(own, text)
    assert "deploy/kubernetes/prometheusrule.py" in paths
    for path in paths:
        assert (REPO / path).exists(), path
    table = text[text.index("| File | What |") :].split("\n\n")[0]
    listed = set()
    for row in table.splitlines()[2:]:
        listed |= set(re.findall(r"`([\w./-]+)`", row.split("|")[1]))
    assert "deployment.yaml" in listed
    for name in listed:
        assert (REPO / "deploy" / "kubernetes" / name).exists(), name


def test_the_kustomization_example_uses_the_git_fetch_component() -> None:
    (block,) = blocks("yaml")
    example = yaml.safe_load(block)
    (base,) = example["resources"]
    (component,) = example["components"]
    assert base.split("?")[0].endswith("/deploy/kubernetes")
    directory = component.split("?")[0].removeprefix("github.com/provisioner/provisioner/")
    (manifest,) = yaml.safe_load_all((Path(REPO) / directory / "kustomization.yaml").read_text())
    assert manifest["kind"] == "Component"
