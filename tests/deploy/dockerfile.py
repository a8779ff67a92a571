"""The Dockerfile and .dockerignore read the way Docker reads them, for the deploy tests.

No container engine runs where the tests run, so the tests take the image apart instead: its
stages, the ENV each one ends with, its exec-form ENTRYPOINT, CMD and HEALTHCHECK, what the
build stage copies and runs. Only the forms the Dockerfile uses are understood; anything else
(a shell-form ENTRYPOINT, a legacy `ENV key value`) fails loudly rather than being guessed at.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"

_VARIABLE = re.compile(r"\$(?:\{(\w+)(?::-([^}]*))?\}|(\w+))")


@dataclass(frozen=True)
class Instruction:
    keyword: str
    arguments: str


@dataclass(frozen=True)
class Stage:
    base: str
    name: str | None
    instructions: tuple[Instruction, ...]

    def all(self, keyword: str) -> list[str]:
        return [i.arguments for i in self.instructions if i.keyword == keyword]

    def last(self, keyword: str) -> str:
        found = self.all(keyword)
        assert found, f"the stage FROM {self.base} has no {keyword}"
        return found[-1]

    def env(self, inherited: Mapping[str, str]) -> dict[str, str]:
        """The environment after this stage's ENV instructions, over the base image's."""
        env = dict(inherited)
        for arguments in self.all("ENV"):
            for name, value in env_pairs(arguments):
                env[name] = substitute(value, env)
        return env

    def workdir(self) -> str:
        return self.last("WORKDIR")


def substitute(text: str, env: Mapping[str, str]) -> str:
    """Docker's $NAME, ${NAME} and ${NAME:-default} in ENV, COPY, WORKDIR..."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(3)
        return env.get(name) or (match.group(2) or "")

    return _VARIABLE.sub(value, text)


def env_pairs(arguments: str) -> list[tuple[str, str]]:
    pairs = []
    for word in shlex.split(arguments):
        name, equals, value = word.partition("=")
        assert equals, f"ENV {arguments}: only the NAME=value form is understood"
        pairs.append((name, value))
    return pairs


def exec_form(arguments: str) -> list[str]:
    """An exec-form (JSON array) argument list; a shell form fails the test."""
    try:
        words = json.loads(arguments)
    except ValueError:
        raise AssertionError(f"not an exec-form JSON array: {arguments}") from None
    assert isinstance(words, list) and all(isinstance(w, str) for w in words), arguments
    return words


def healthcheck(arguments: str) -> tuple[dict[str, str], list[str]]:
    """(options such as interval, the exec-form command) of a HEALTHCHECK."""
    options, _, command = arguments.partition(" CMD ")
    flags = dict(word.removeprefix("--").split("=", 1) for word in options.split())
    return flags, exec_form(command.strip())


def copy_arguments(arguments: str) -> tuple[dict[str, str], list[str], str]:
    """(flags such as from, sources, destination) of a COPY."""
    words = shlex.split(arguments)
    flags = dict(w.removeprefix("--").split("=", 1) for w in words if w.startswith("--"))
    paths = [w for w in words if not w.startswith("--")]
    return flags, paths[:-1], paths[-1]


def _instructions(text: str) -> list[Instruction]:
    found: list[Instruction] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue  # comments, parser directives, and comment lines inside a continuation
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        keyword, _, arguments = (pending + line).partition(" ")
        found.append(Instruction(keyword.upper(), arguments.strip()))
        pending = ""
    assert not pending, "the Dockerfile ends inside a continued line"
    return found


def stages(text: str | None = None) -> list[Stage]:
    """Every stage, in order, with the global ARGs' defaults put into each FROM."""
    instructions = _instructions(DOCKERFILE.read_text() if text is None else text)
    arguments: dict[str, str] = {}
    found: list[Stage] = []
    current: list[Instruction] = []
    header: tuple[str, str | None] | None = None
    for instruction in instructions:
        if instruction.keyword == "ARG" and header is None:
            variable, _, default = instruction.arguments.partition("=")
            arguments[variable] = default
        elif instruction.keyword == "FROM":
            if header is not None:
                found.append(Stage(header[0], header[1], tuple(current)))
            words = instruction.arguments.split()
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            header, current = (substitute(words[0], arguments), name), []
        else:
            current.append(instruction)
    assert header is not None, "no FROM in the Dockerfile"
    found.append(Stage(header[0], header[1], tuple(current)))
    return found


# --- .dockerignore ---------------------------------------------------------------------------


def ignore_patterns(text: str | None = None) -> list[str]:
    lines = (DOCKERIGNORE.read_text() if text is None else text).splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def _pattern(pattern: str) -> re.Pattern[str]:
    """Go's filepath.Match with Docker's `**`; character classes are not used, so not read."""
    assert "[" not in pattern, f"{pattern}: character classes are not understood here"
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        else:
            out += {"*": "[^/]*", "?": "[^/]"}.get(pattern[i], re.escape(pattern[i]))
            i += 1
    return re.compile(out + r"\Z")


def ignored(path: str, patterns: Iterable[str]) -> bool:
    """Whether Docker leaves `path` (relative to the context) out of the build context: the last
    pattern matching it or one of its parent directories decides, `!` patterns re-including."""
    parts = path.strip("/").split("/")
    candidates = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    excluded = False
    for pattern in patterns:
        keep = pattern.startswith("!")
        compiled = _pattern(pattern.removeprefix("!").strip("/"))
        if any(compiled.match(candidate) for candidate in candidates):
            excluded = not keep
    return excluded
