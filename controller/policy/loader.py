"""Loads every policy file under a directory into one `Policy`, or reports every problem at once.

`provisioner validate` and each reload go through here. A platform engineer fixing a policy
wants all the mistakes in one run, each as `file:line: message` an editor can jump to, so nothing
stops at the first error: each document is validated against `schema`, then the documents are
checked against each other (names, grants, app types, attributes, templates, the users file).
Values from the environment are never shown: a message names the variable instead.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, get_args

from pydantic import BaseModel, ValidationError

from controller.errors import PolicyError
from controller.policy import NamedRule, NamedSource, Policy
from controller.policy.checks import AppTypes, Doc, Report, cross_check
from controller.policy.schema import (
    API_VERSION,
    AccessRuleDocument,
    ConnectedAppDocument,
    ConnectedAppSpec,
    SourceDocument,
)
from controller.policy.yamlsource import Parsed, Path_, read_file

MODELS: dict[str, type[BaseModel]] = {
    "Source": SourceDocument,
    "ConnectedApp": ConnectedAppDocument,
    "AccessRule": AccessRuleDocument,
}
_KINDS = ", ".join(sorted(MODELS))
_SUFFIXES = (".yaml", ".yml")


MAX_FILES = 10_000
"""YAML files under one policy directory."""
MAX_DOCUMENTS = 60_000
"""Documents in one policy directory: room for 50,000 rules and their apps."""
MAX_RULES = 50_000
"""AccessRules in one policy directory (`python -m bench.policy_load` times 10,000)."""
INTERNAL = "internal error while loading"
"""Begins the message of an unexpected exception: a bug, which the fuzz tests look for."""


def load_policy(
    directory: Path,
    *,
    environ: Mapping[str, str],
    supported_attributes: Mapping[str, frozenset[str]],
    required_attributes: Mapping[str, frozenset[str]] | None = None,
    cannot_delete: frozenset[str] = frozenset(),
    revision: str | None = None,
) -> Policy:
    """The valid policy under `directory`; `PolicyError` listing every problem otherwise.

    `revision` names it (a commit); without one, a hash of the policy files' contents does.
    Any input gives one or the other: a file the loader fails on for a reason it did not
    foresee is reported as that file's internal error, never raised.
    """
    files = _policy_files(directory)
    report = Report()
    docs: list[Doc] = []
    parsed = _read_all(directory, files, environ)
    # A YAML users file of a file Source is data, not policy, even when it sits among the policy.
    data_files = _data_files(directory, parsed)
    policy_files = [relative for relative in parsed if relative not in data_files]
    if not policy_files:
        raise PolicyError([f"{directory}: no policy documents found, only users files"])
    complete = len(parsed) == len(files)
    rules = 0
    for relative in policy_files:
        documents, broken = parsed[relative]
        file = str(directory / relative)
        if broken is not None:
            complete = False
            report.entries.append((file, broken[0], broken[1]))
        base_dir = (directory / relative).parent
        for document in documents:
            doc = Doc(file, base_dir, document)
            for path, line, message in document.problems:
                report.add(doc, path, message, line=line)
            _guarded(report, file, _validate, doc, report)
            rules += doc.kind == "AccessRule"
            if rules == MAX_RULES + 1:
                message = f"more than {MAX_RULES} AccessRules in the policy; merge some rules"
                report.add(doc, (), message)
            docs.append(doc)
    app_types = AppTypes(supported_attributes, required_attributes or {}, cannot_delete)
    _guarded(
        report,
        str(directory),
        cross_check,
        docs,
        report,
        app_types,
        complete=complete,
        directory=directory,
    )
    if report.entries:
        raise PolicyError(report.formatted())
    try:
        revision = revision or _revision(directory, policy_files)
    except OSError as error:  # a file removed or made unreadable while loading
        raise PolicyError(
            [f"{directory}: changed while loading ({error.strerror}); retry"]
        ) from None
    return _policy(directory, docs, revision)


def _read_all(directory: Path, files: list[Path], environ: Mapping[str, str]) -> dict[Path, Parsed]:
    """Each file's documents, up to MAX_DOCUMENTS in all; files past that limit are not read."""
    parsed: dict[Path, Parsed] = {}
    left = MAX_DOCUMENTS
    too_many = f"more than {MAX_DOCUMENTS} documents in the policy directory; merge or remove some"
    for relative in files:
        try:
            parsed[relative] = read_file(
                directory / relative, environ, max_documents=(left, too_many)
            )
        except Exception as error:  # the loader must never raise; see INTERNAL
            parsed[relative] = ([], (0, _internal(error)))
        left -= len(parsed[relative][0])
        if left < 0:
            break
    return parsed


def _guarded(
    report: Report, file: str, check: Callable[..., None], *args: Any, **kwargs: Any
) -> None:
    """`check(*args, **kwargs)`; an exception it raises becomes `file`'s internal error."""
    try:
        check(*args, **kwargs)
    except Exception as error:  # the loader must never raise; see INTERNAL
        report.entries.append((file, 0, _internal(error)))


def _internal(error: Exception) -> str:
    """No text of the exception: it may hold a value from the file."""
    return f"{INTERNAL} ({type(error).__name__}); please report it, with the file if you can"


def _policy_files(directory: Path) -> list[Path]:
    """Every YAML file under `directory`, relative and sorted; hidden directories are skipped."""
    if not directory.is_dir():
        raise PolicyError([f"{directory}: no such directory; pass --policy DIR"])
    files = sorted(
        path.relative_to(directory)
        for path in directory.rglob("*")
        if path.suffix in _SUFFIXES
        and path.is_file()
        and not any(part.startswith(".") for part in path.relative_to(directory).parts)
    )
    if not files:
        raise PolicyError([f"{directory}: no *.yaml or *.yml files; pass --policy DIR"])
    if len(files) > MAX_FILES:
        raise PolicyError([f"{directory}: more than {MAX_FILES} YAML files; merge some"])
    return files


def _data_files(directory: Path, parsed: Mapping[Path, Parsed]) -> set[Path]:
    """The policy-directory files some file Source names as its users file."""
    named: set[Path] = set()
    for relative, (documents, _) in parsed.items():
        for document in documents:
            path = document.get(("spec", "file", "path"))
            if document.get(("kind",)) == "Source" and isinstance(path, str):
                try:
                    named.add(((directory / relative).parent / path).resolve())
                except (OSError, RuntimeError, ValueError):  # a loop of links, a NUL: not a file
                    continue
    return {relative for relative in parsed if (directory / relative).resolve() in named}


def _validate(doc: Doc, report: Report) -> None:
    data = doc.source.data
    if not isinstance(data, dict):
        report.add(doc, (), "a document must be a mapping with apiVersion, kind, metadata, spec")
        return
    if data.get("apiVersion") != API_VERSION:
        report.add(doc, ("apiVersion",), f"expected {API_VERSION}")
    kind = data.get("kind")
    model = MODELS.get(kind) if isinstance(kind, str) else None
    if model is None:
        report.add(doc, ("kind",), f"must be one of {_KINDS}")
        return
    doc.kind = kind
    try:
        doc.model = model.model_validate(data, by_alias=True, by_name=False)
    except ValidationError as error:
        for problem in error.errors():
            loc = tuple(problem["loc"])
            if loc != ("apiVersion",):  # reported above, with the expected value
                path, message = _explain(model, loc, problem["type"], problem["msg"])
                report.add(doc, path, message, about=loc)


def _explain(model: type[BaseModel], path: Path_, kind: str, message: str) -> tuple[Path_, str]:
    """A pydantic error as (path, human message)."""
    if kind == "missing":
        return path[:-1], f"missing required key {path[-1]!r}"
    if kind == "extra_forbidden":
        allowed = _allowed_keys(model, path[:-1])
        listed = f"; allowed keys: {', '.join(allowed)}" if allowed else ""
        return path, f"unknown key {path[-1]!r}{listed}"
    return path, message.removeprefix("Value error, ").removeprefix("Assertion failed, ")


def _allowed_keys(model: type[BaseModel], path: Path_) -> list[str]:
    """The YAML keys the model at `path` accepts, or [] where that is not a model."""
    current: Any = model
    for part in path:
        if isinstance(part, int):
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return []
        fields = {info.alias or name: info for name, info in current.model_fields.items()}
        if part not in fields:
            return []
        current = next(_models_in(fields[part].annotation), None)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return sorted(info.alias or name for name, info in current.model_fields.items())
    return []


def _models_in(annotation: Any) -> Iterator[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
    for argument in get_args(annotation):
        yield from _models_in(argument)


def _revision(directory: Path, files: list[Path]) -> str:
    digest = hashlib.sha256()
    for relative in files:
        content = (directory / relative).read_bytes()
        digest.update(f"{relative.as_posix()}\0{len(content)}\0".encode())
        digest.update(content)
    return digest.hexdigest()[:12]


def _policy(directory: Path, docs: list[Doc], revision: str) -> Policy:
    sources: list[NamedSource] = []
    apps: dict[str, ConnectedAppSpec] = {}
    rules: list[NamedRule] = []
    for doc in docs:
        match doc.model:
            case SourceDocument(metadata=metadata, spec=spec):
                sources.append(NamedSource(metadata.name, spec, base_dir=doc.base_dir))
            case ConnectedAppDocument(metadata=metadata, spec=spec):
                if spec.ca_file is not None:  # relative to its file, as the engine has no dir
                    spec = spec.model_copy(update={"ca_file": str(doc.base_dir / spec.ca_file)})
                apps[metadata.name] = spec
            case AccessRuleDocument(metadata=metadata, spec=spec):
                rules.append(NamedRule(metadata.name, spec))
    return Policy(directory, revision, tuple(sources), apps, tuple(rules))
