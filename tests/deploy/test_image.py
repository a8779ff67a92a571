"""The container image, as far as it can be tested without a container engine.

The Dockerfile's declarations are checked against the code (the console script, the commands,
the variables `run` reads, the HTTP paths). Then the image is rebuilt the way its build stage
builds it, files and commands taken from the Dockerfile: the same files copied (less what
.dockerignore leaves out), the build stage's ENV and its RUN lines run by /bin/sh, into a fresh
virtualenv under a temporary "/". The final stage's ENTRYPOINT, CMD, ENV and HEALTHCHECK are
then run exactly as declared, with tini, against the example policy "mounted" at the image's
policy path. Building takes about half a minute.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from emulators.serving import free_port
from tests.deploy import contract
from tests.deploy.dockerfile import (
    REPO,
    Stage,
    copy_arguments,
    exec_form,
    healthcheck,
    ignore_patterns,
    ignored,
    stages,
)

BASE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
"""PATH in the official python images, which the final stage's ENV builds on."""
BOUND_SECONDS = 60.0
BUILD_TOOLS = {"gcc", "g++", "make", "build-essential", "python3-dev", "libc6-dev", "cargo"}


def build_stage() -> Stage:
    return stages()[0]


def final_stage() -> Stage:
    return stages()[-1]


def final_env() -> dict[str, str]:
    """The final stage's ENV as the image has it (with the image's own paths)."""
    return final_stage().env({"PATH": BASE_PATH})


def wait_for(condition: Callable[[], Any], what: str) -> Any:
    deadline = time.monotonic() + BOUND_SECONDS
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"gave up waiting for {what}")


# --- what the Dockerfile declares -------------------------------------------------------------


def test_two_stages_on_one_slim_python_the_tests_run_on() -> None:
    build, *_, final = stages()
    assert build.name == "build" and final is not build
    assert final.base == build.base, "a virtualenv only works on the Python it was made with"
    match = re.fullmatch(r"python:3\.(\d+)-slim(?:-\w+)?", final.base)
    assert match, f"{final.base}: expected an official python:3.x-slim image"
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    oldest = re.match(r">=\s*3\.(\d+)", pyproject["project"]["requires-python"])
    assert oldest and int(match.group(1)) >= int(oldest.group(1)), "older than requires-python"
    assert int(match.group(1)) == sys.version_info.minor, (
        f"the image runs Python 3.{match.group(1)}; these tests built it with "
        f"{sys.version_info.major}.{sys.version_info.minor}"
    )


def test_the_final_stage_has_the_virtualenv_git_ssh_and_tini_and_no_build_tools() -> None:
    build, final = build_stage(), final_stage()
    packages: set[str] = set()
    for run in final.all("RUN"):
        assert "pip install" not in run, "the final stage installs nothing with pip"
        for command in run.split("&&"):
            words = command.split()
            if words[:2] == ["apt-get", "install"]:
                packages |= {w for w in words[2:] if not w.startswith("-")}
    assert (
        {"git", "openssh-client", "tini"}
        <= packages
        <= {
            "ca-certificates",
            "git",
            "openssh-client",
            "tini",
        }
    )
    assert not BUILD_TOOLS & packages
    venv = build.env({})["VIRTUAL_ENV"]
    copies = [copy_arguments(arguments) for arguments in final.all("COPY")]
    assert copies == [({"from": "build"}, [venv], venv)], "only the virtualenv, at the same path"
    env = final_env()
    assert env["VIRTUAL_ENV"] == venv
    assert env["PATH"] == f"{venv}/bin:{BASE_PATH}"


def test_the_image_runs_as_the_non_root_user_it_creates_and_owns_the_state_dir() -> None:
    final = final_stage()
    user, _, group = final.last("USER").partition(":")
    assert user.isdigit() and int(user) != 0, "numeric, so Kubernetes' runAsNonRoot can verify it"
    setup = " ".join(final.all("RUN"))
    assert re.search(rf"useradd [^&]*--uid {user}\b", setup)
    assert re.search(rf"groupadd [^&]*--gid {group}\b", setup)
    state = final_env()["PROVISIONER_STATE_DIR"]
    assert re.search(rf"chown \S+ {re.escape(state)}\b", setup)


def test_entrypoint_cmd_env_and_healthcheck_are_the_controllers_own() -> None:
    final = final_stage()
    entrypoint = exec_form(final.last("ENTRYPOINT"))
    assert entrypoint[:2] == ["tini", "--"], "tini as PID 1 passes signals on and reaps children"
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert entrypoint[2:] == list(pyproject["project"]["scripts"])
    (command,) = exec_form(final.last("CMD"))
    assert command in contract.commands()
    env = final_env()
    assert env["PROVISIONER_HOST"] == "0.0.0.0"
    assert env["PROVISIONER_POLICY"] == "/policy"
    assert env["PROVISIONER_STATE_DIR"] == "/var/lib/provisioner"
    assert final.last("EXPOSE").split() == [env["PROVISIONER_PORT"]]
    settings = {name for name in env if name.startswith("PROVISIONER_")}
    assert settings <= contract.run_variables(), "variables `provisioner run` does not read"
    options, probe = healthcheck(final.last("HEALTHCHECK"))
    assert {"interval", "timeout", "retries"} <= set(options)
    assert probe == ["python", "-m", "controller.healthcheck"]
    checker = (REPO / "controller" / "healthcheck.py").read_text()
    assert "/healthz" in checker and "/healthz" in contract.http_paths()


def test_the_dockerignore_keeps_secrets_and_local_state_out_but_not_the_sources() -> None:
    patterns = ignore_patterns()
    build = build_stage()
    for arguments in build.all("COPY"):
        _, sources, _ = copy_arguments(arguments)
        for source in sources:
            assert not ignored(source, patterns), f"COPY {source}: .dockerignore leaves it out"
    kept = ["pyproject.toml", "README.md", "controller/cli.py", "emulators/seed/org.yaml"]
    left_out = [
        ".venv/bin/python",
        ".git/config",
        "tests/conftest.py",
        "controller/__pycache__/cli.cpython-311.pyc",
        "salesforce.key",
        "keys/salesforce.pem",
        ".env",
        "state/journal.db",
        "provisioner.egg-info/PKG-INFO",
    ]
    assert [path for path in kept if ignored(path, patterns)] == []
    assert [path for path in left_out if not ignored(path, patterns)] == []


def test_the_dockerignore_reader_follows_docker_rules() -> None:
    # The check above is only as good as this reader.
    assert ignored("a/b/c.pyc", ["**/*.pyc"]) and not ignored("a/b/c.py", ["**/*.pyc"])
    assert ignored("tests/deep/file.py", ["tests"])  # a directory takes its contents along
    assert not ignored("sub/x.key", ["*.key"])  # without **, only the context's top level
    assert not ignored("keep.key", ["**/*.key", "!keep.key"])  # the last match decides


# --- the image, built as the Dockerfile builds it ----------------------------------------------


@dataclass(frozen=True)
class Image:
    root: Path
    """Stands for the image's "/": the image's own paths live under it."""
    env: dict[str, str]
    """The final stage's environment, its paths under `root`."""
    entrypoint: list[str]
    cmd: list[str]
    healthcheck: list[str]

    def path(self, image_path: str) -> Path:
        return self.root / image_path.lstrip("/")


def relocate(value: str, root: Path, prefixes: Iterable[str]) -> str:
    """`value` (a path or a PATH list) with the image's own paths moved under `root`."""

    def moved(part: str) -> str:
        own = any(part == p or part.startswith(p.rstrip("/") + "/") for p in prefixes)
        return f"{root}{part}" if own else part

    return ":".join(moved(part) for part in value.split(":"))


def stage_context(build: Stage, root: Path) -> None:
    """The build stage's COPY instructions, from this repository less .dockerignore's patterns."""
    patterns = ignore_patterns()
    workdir = build.workdir()
    for arguments in build.all("COPY"):
        flags, sources, destination = copy_arguments(arguments)
        assert not flags, f"COPY {arguments}: the build stage copies from the context only"
        image_path = destination if destination.startswith("/") else f"{workdir}/{destination}"
        target = (root / image_path.lstrip("/")).resolve()
        assert target.is_relative_to(root.resolve()), f"COPY {arguments} leaves the image"
        for source in sources:
            origin = REPO / source
            into = target / origin.name if destination.endswith("/") else target
            if origin.is_dir():
                for path in sorted(origin.rglob("*")):
                    relative = path.relative_to(REPO).as_posix()
                    if path.is_file() and not ignored(relative, patterns):
                        copied = into / path.relative_to(origin)
                        copied.parent.mkdir(parents=True, exist_ok=True)
                        shutil.copy2(path, copied)
            else:
                into.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(origin, into)


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> Image:
    root = tmp_path_factory.mktemp("image")
    build, final = build_stage(), final_stage()
    built_env = build.env({"PATH": BASE_PATH})
    image_env = final_env()
    own = {
        build.workdir(),
        built_env["VIRTUAL_ENV"],
        image_env["PROVISIONER_POLICY"],
        image_env["PROVISIONER_STATE_DIR"],
        "/home",
    }
    stage_context(build, root)
    # The image's /usr/local/bin/python is this interpreter, bare (no virtualenv of the tests').
    python_bin = root / "usr" / "local" / "bin"
    python_bin.mkdir(parents=True)
    (python_bin / "python").symlink_to(getattr(sys, "_base_executable", sys.executable))
    # The machine's pip configuration (its package index) is what a build would be given too.
    environment = {k: v for k, v in os.environ.items() if k.startswith("PIP_") or k == "HOME"}
    for name, value in built_env.items():
        environment[name] = relocate(value, root, own)
    environment["PATH"] = f"{python_bin}:{environment['PATH']}"
    for run in build.all("RUN"):
        done = subprocess.run(
            ["/bin/sh", "-c", run],
            cwd=root / build.workdir().lstrip("/"),
            env=environment,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert done.returncode == 0, f"RUN {run}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    # What the final stage's RUN lines make: the user's home, the policy and state directories.
    for path in (image_env["PROVISIONER_POLICY"], image_env["PROVISIONER_STATE_DIR"]):
        (root / path.lstrip("/")).mkdir(parents=True)
    home = root / "home" / "provisioner"
    home.mkdir(parents=True)
    env = {name: relocate(value, root, own) for name, value in image_env.items()}
    env |= {"HOME": str(home), "LANG": "C.UTF-8"}  # Docker's HOME for USER; python's LANG
    return Image(
        root=root,
        env=env,
        entrypoint=exec_form(final.last("ENTRYPOINT")),
        cmd=exec_form(final.last("CMD")),
        healthcheck=healthcheck(final.last("HEALTHCHECK"))[1],
    )


@pytest.fixture
def tini(image: Image) -> None:
    if shutil.which(image.entrypoint[0], path=image.env["PATH"]) is None:
        if os.environ.get("CI"):
            pytest.fail("tini is not installed; .ci/run must install Debian's tini")
        pytest.skip("tini is not installed (apt-get install tini); set CI to require it")


def docker_run(image: Image, *args: str, cwd: Path | None = None, **env: str) -> Any:
    """`docker run image args...`: the ENTRYPOINT with `args`, or with CMD when there are none."""
    return subprocess.run(
        [*image.entrypoint, *(args or image.cmd)],
        env={**image.env, **env},
        cwd=cwd or image.root,
        capture_output=True,
        text=True,
        timeout=BOUND_SECONDS,
        check=False,
    )


def test_the_image_holds_the_installed_wheel_not_the_source_tree(image: Image) -> None:
    venv = image.path(final_env()["VIRTUAL_ENV"])
    script = "import controller, emulators, reconcilers; print(controller.__file__)"
    found = subprocess.run(
        [str(venv / "bin" / "python"), "-c", script],
        cwd=image.root,
        capture_output=True,
        text=True,
        check=True,
    )
    assert Path(found.stdout.strip()).is_relative_to(venv / "lib")
    assert not list(venv.glob("lib/python3*/site-packages/__editable__*"))
    assert not list(venv.glob("lib/python3*/site-packages/desired-state"))  # mounted, not built in


@pytest.mark.usefixtures("tini")
def test_help_and_validate_run_through_the_entrypoint(image: Image, tmp_path: Path) -> None:
    shown = docker_run(image, "--help")
    assert shown.returncode == 0, shown.stderr
    for command in ("validate", "plan", "apply", "run", "history"):
        assert command in shown.stdout

    policy = image.path(final_env()["PROVISIONER_POLICY"])
    shutil.copytree(REPO / "desired-state", policy, dirs_exist_ok=True)  # -v ...:/policy
    mounted = docker_run(image, "validate")  # the policy path comes from the image's ENV
    assert mounted.returncode == 0, mounted.stderr
    assert mounted.stdout.startswith(f"{policy}: valid. 4 apps")

    shutil.copytree(REPO / "desired-state", tmp_path / "desired-state")
    named = docker_run(image, "validate", "--policy", "desired-state", cwd=tmp_path)
    assert named.returncode == 0, named.stderr
    assert named.stdout.startswith("desired-state: valid.")


def metric(port: int, name: str, **labels: str) -> float | None:
    try:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    except httpx.HTTPError:
        return None
    wanted = name + (
        "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}" if labels else ""
    )
    for line in text.splitlines():
        series, _, value = line.rpartition(" ")
        if series == wanted:
            return float(value)
    return None


def log_events(path: Path) -> list[dict[str, Any]]:
    events = []
    for line in path.read_text().splitlines():
        try:
            events.append(json.loads(line))
        except ValueError:
            continue  # tini's own warning, when it is not PID 1
    return events


def files_outside(root: Path, *left_out: Path) -> dict[str, tuple[int, int]]:
    """Every file under `root` but those under `left_out`, with its size and modification time."""
    found = {}
    for path in root.rglob("*"):
        if path.is_file() and not any(path.is_relative_to(other) for other in left_out):
            stat = path.stat()
            found[str(path)] = (stat.st_size, stat.st_mtime_ns)
    return found


def unreachable_endpoints(port: int) -> Mapping[str, str]:
    """Every endpoint the example policy reads, at a closed port here: nothing leaves the host."""
    closed = f"http://127.0.0.1:{port}"
    return {name: closed for name in contract.policy_variables() if name.endswith("_URL")}


@pytest.mark.usefixtures("tini")
def test_run_serves_health_takes_signals_through_tini_and_exits_0_on_sigterm(
    image: Image,
) -> None:
    policy = image.path(final_env()["PROVISIONER_POLICY"])
    shutil.copytree(REPO / "desired-state", policy, dirs_exist_ok=True)
    state = image.path(final_env()["PROVISIONER_STATE_DIR"])
    port = free_port()
    env = {**image.env, "PROVISIONER_PORT": str(port), **unreachable_endpoints(free_port())}

    def probe() -> int:
        done = subprocess.run(
            image.healthcheck, env=env, capture_output=True, timeout=30, check=False
        )
        return done.returncode

    log_path = image.root / "run.log"
    before = files_outside(image.root, state, log_path)
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [*image.entrypoint, *image.cmd], env=env, cwd=image.root, stdout=log, stderr=log
        )
    try:
        wait_for(lambda: probe() == 0, "the HEALTHCHECK to pass")
        ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5)
        assert ready.status_code == 503 and ready.json()["ready"] is False  # no app reachable
        assert metric(port, "provisioner_policy_valid") == 1.0

        process.send_signal(signal.SIGUSR1)  # to tini, which passes it on
        wait_for(
            lambda: metric(port, "provisioner_reconcile_triggers_total", trigger="signal") == 1.0,
            "the signal trigger counted",
        )
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=BOUND_SECONDS) == 0, log_path.read_text()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert probe() != 0  # nothing answers any more
    events = log_events(log_path)
    (serving,) = [event for event in events if event.get("event") == "serving"]
    assert serving["metrics"] == f"http://0.0.0.0:{port}/metrics"  # the image's host
    assert events[-1]["event"] == "stopped"
    assert (state / "journal.db").is_file()  # the image's state directory
    # ... and nothing else: the root filesystem can be read-only.
    assert files_outside(image.root, state, log_path) == before
