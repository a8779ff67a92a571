"""Fuzzing the policy loader: any input gives a Policy or `file:line: message` errors, in bounds.

Two kinds of mutation, over the real policy in `desired-state/` plus a file Source and its users
file: structured (values, keys, tags, dates, anchors and aliases, `${}` references, nesting,
written into the YAML text where a value or key stands) and byte-level (inserted, deleted and
flipped bytes, NUL, invalid UTF-8, huge lines). The loader must return a Policy or raise a
PolicyError whose every entry begins with a file (or the directory) under the policy; nothing
else may escape, no entry may be the loader's internal-error fallback (that is a bug it caught),
and each case stays within the time and memory bounds of `tests/fuzz/bounds.py`.
"""

from __future__ import annotations

import functools
import itertools
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from controller import connections, templates
from controller.errors import PolicyError
from controller.policy import Policy
from controller.policy.loader import INTERNAL
from reconcilers import REGISTRY
from tests.fuzz.bounds import LOADER_CASES, bounded, fuzz
from tests.unit.test_policy_loader import SOURCE as FILE_SOURCE

DESIRED = Path(__file__).parents[2] / "desired-state"
USERS = """\
users:
  - {Id: 005A, Username: a@x, Email: a@x, Profile: {Name: Standard User}, Department: Support}
  - Id: 005B
    Username: b@x
    Email: b@x
    Contractor_End_Date__c: 2027-01-31
    PermissionSets: [Jira Admin]
"""
ENVIRON = {"SLACK_SCIM_URL": "http://127.0.0.1:9201/v2", "EMPTY": "", "B": "bee"}
_APPS = (DESIRED / "apps.yaml").read_text().split("\n---\n")
BASE: dict[str, str] = {
    # Two of the four apps: each template costs a parse per case, and these two have every kind.
    "apps.yaml": "\n".join(
        line
        for line in f"{_APPS[0]}\n---\n{_APPS[2]}".split("\n")
        if not line.startswith(("    name.", "    enterprise."))
    ),
    "rules.yaml": (DESIRED / "rules.yaml")
    .read_text()
    .replace("app: jira", "app: zendesk")
    .replace("app: carepoint", "app: zendesk"),
    "source.yaml": FILE_SOURCE,
    "users.yaml": USERS,
}
_ENTRY = re.compile(r"(?P<file>[^:]+)(:(?P<line>\d+))?: \S")
_counter = itertools.count()

SNIPPETS = st.sampled_from(
    [
        "2024-02-30",
        "2024-13-01",
        "2024-02-29",
        "!!timestamp foo",
        "!!timestamp 2024-02-30",
        "!!bool maybe",
        "!!int x",
        "!!float y",
        "!!null z",
        "!!str 1",
        "!!binary aGk=",
        "!!set {a: null}",
        "!!omap [{a: 1}]",
        "!!python/object/apply:os.system [ls]",
        "!!python/name:os.system",
        "!local x",
        "!<tag:example.com,2000:x> y",
        "[x]",
        "[]",
        "{}",
        "{a: b}",
        "[[[[[[[[]]]]]]]]",
        "[" * 80 + "]" * 80,
        "[" * 600 + "]" * 600,
        "${X}",
        "[${X}]",
        "{a: ${X}}",
        '"${SLACK_SCIM_URL}"',
        "${A:-${B}}",
        "${A:-${B:-${C:-d}}}",
        "${A:-${B}",
        "${",
        "$${HOME}",
        "${EMPTY:-x}",
        "&a x",
        "*a",
        "*undefined",
        "&b [*b]",
        "{<<: *a}",
        "{<<: [1, 2]}",
        "~",
        "null",
        "yes",
        "0x1F",
        "0o17",
        "1_000",
        "190:20:30",
        ".inf",
        "-.nan",
        "9" * 5000,
        "'quoted'",
        '"\\x00\\u00e9"',
        "|\n  block\n  text",
        ">-\n  folded",
        "? [complex]\n  : key",
        "x: y: z",
        "- a\n- b",
        "'unterminated",
        '"unterminated',
        "@reserved",
        "`backtick",
        "%YAML 1.1",
        "---",
        "...",
        "\t",
        "é😀",
        "{{ user.UserRole }}",
        "{{ user.Email | lower }",
    ]
)
"""YAML fragments of every kind the loader has crashed on or might: tags, dates, anchors."""
KEYS = st.sampled_from(
    ["type", "kind", "apiVersion", "<<", "spec", "1", "null", "[a]", "? x", "'a'", "a.b", ""]
)


def _write(files: dict[str, bytes], root: Path) -> Path:
    directory = root / f"case{next(_counter)}"
    directory.mkdir()
    for name, content in files.items():
        (directory / name).write_bytes(content)
    return directory


def _check(directory: Path) -> None:
    """The property: a Policy, or a PolicyError whose entries each name a file of the policy."""
    try:
        with bounded(f"loading {directory.name}"):
            try:
                policy = connections.load_policy(directory, registry=REGISTRY, environ=ENVIRON)
            except PolicyError as error:
                entries = error.errors
            else:
                assert isinstance(policy, Policy)
                return
        assert entries, "a PolicyError with no entries"
        for entry in entries:
            found = _ENTRY.match(entry)
            assert found is not None, f"not `file:line: message`: {entry!r}"
            assert Path(found["file"]).is_relative_to(directory), entry
            assert INTERNAL not in entry, entry
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@st.composite
def _structured(draw: st.DrawFn) -> dict[str, bytes]:
    """The base files, with a few lines' values or keys replaced by YAML fragments."""
    files = dict(BASE)
    for _ in range(draw(st.integers(1, 4))):
        name = draw(st.sampled_from(sorted(files)))
        lines = files[name].split("\n")
        index = draw(st.integers(0, len(lines) - 1))
        line = lines[index]
        indent = line[: len(line) - len(line.lstrip())]
        operation = draw(st.sampled_from(["value", "key", "insert", "duplicate", "indent", "flow"]))
        snippet = draw(SNIPPETS)
        if operation == "value" and ":" in line:
            key = line.split(":", 1)[0]
            lines[index] = f"{key}: {snippet}"
        elif operation == "key" and ":" in line:
            lines[index] = f"{indent}{draw(KEYS)}:{line.split(':', 1)[1]}"
        elif operation == "insert":
            lines.insert(index, f"{indent}{draw(KEYS)}: {snippet}")
        elif operation == "duplicate":
            lines.insert(index, line)
        elif operation == "indent":
            lines[index] = " " * draw(st.integers(0, 9)) + line.lstrip()
        else:  # a fragment inside a flow collection already on the line
            brace = max(line.rfind("["), line.rfind("{"))
            if brace >= 0:
                lines[index] = f"{line[: brace + 1]}{snippet}, {line[brace + 1 :]}"
        files[name] = "\n".join(lines)
    return {name: text.encode() for name, text in files.items()}


@st.composite
def _bytes(draw: st.DrawFn) -> dict[str, bytes]:
    """The base files, with bytes inserted, deleted or flipped in one or two of them."""
    files = {name: text.encode() for name, text in BASE.items()}
    for _ in range(draw(st.integers(1, 2))):
        name = draw(st.sampled_from(sorted(files)))
        content = bytearray(files[name])
        for _ in range(draw(st.integers(1, 6))):
            at = draw(st.integers(0, len(content)))
            operation = draw(st.sampled_from(["insert", "delete", "flip", "nul", "utf8", "huge"]))
            if operation == "insert":
                content[at:at] = draw(st.binary(min_size=1, max_size=16))
            elif operation == "delete":
                del content[at : at + draw(st.integers(1, 64))]
            elif operation == "flip" and at < len(content):
                content[at] ^= 1 << draw(st.integers(0, 7))
            elif operation == "nul":
                content[at:at] = b"\0"
            elif operation == "utf8":
                content[at:at] = draw(st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\x80"]))
            elif operation == "huge":
                content[at:at] = b"x" * draw(st.sampled_from([1_000, 64_000]))
        files[name] = bytes(content)
    return files


@pytest.fixture(scope="module", autouse=True)
def _templates_checked_once() -> Iterator[None]:
    """Each distinct template is checked once: the check is a pure function of its text, and
    jinja's parser (not the subject here) would otherwise cost half of every case."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(templates, "check", functools.lru_cache(maxsize=4096)(templates.check))
        yield


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("policy-fuzz")


def test_the_base_policy_loads(root: Path) -> None:
    """The fuzzers start from a valid policy, so a mutation is what makes an error."""
    directory = _write({name: text.encode() for name, text in BASE.items()}, root)
    policy = connections.load_policy(directory, registry=REGISTRY, environ=ENVIRON)
    assert len(policy.rules) > 3 and policy.sources[0].spec.file is not None


@fuzz(LOADER_CASES // 2)
@given(files=_structured())
def test_structured_mutations_give_a_policy_or_errors_at_lines(
    root: Path, files: dict[str, bytes]
) -> None:
    _check(_write(files, root))


@fuzz(LOADER_CASES // 2)
@given(files=_bytes())
def test_byte_mutations_give_a_policy_or_errors_at_lines(
    root: Path, files: dict[str, bytes]
) -> None:
    _check(_write(files, root))
