"""Loads every policy file under a directory into one `Policy`, or reports every problem at once.

`provisioner validate` and each reload go through here. A platform engineer fixing a policy
wants all the mistakes in one run, each as `file:line: message` an editor can jump to, so nothing
stops at the first error: each document is validated against `schema`, then the documents are
checked against each other (names, grants, app types, attributes, templates, the users file).
Values from the environment are never shown: a message names the variable instead.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args

from pydantic import BaseModel, ValidationError

from controller import templates
from controller.errors import PolicyError
from controller.policy import NamedRule, NamedSource, Policy
from controller.policy.schema import (
    API_VERSION,
    AccessRuleDocument,
    ConnectedAppDocument,
    ConnectedAppSpec,
    SourceDocument,
)
from controller.policy.yamlsource import Document, Parsed, Path_, dotted, read_file

MODELS: dict[str, type[BaseModel]] = {
    "Source": SourceDocument,
    "ConnectedApp": ConnectedAppDocument,
    "AccessRule": AccessRuleDocument,
}
_KINDS = ", ".join(sorted(MODELS))
_SUFFIXES = (".yaml", ".yml")


@dataclass
class _Doc:
    """One document with where it came from, what it validated to, and what was reported."""

    file: str
    base_dir: Path
    source: Document
    kind: str | None = None
    model: BaseModel | None = None
    reported: set[Path_] = field(default_factory=set)

    def get(self, *path: str | int) -> Any:
        return self.source.get(path)

    def where(self, *path: str | int) -> str:
        return f"{self.file}:{self.source.line(path)}"


class _Report:
    """Collects every problem as (file, line, message), to be sorted and formatted once."""

    def __init__(self) -> None:
        self.entries: list[tuple[str, int, str]] = []

    def add(
        self,
        doc: _Doc,
        path: Path_,
        message: str,
        *,
        line: int | None = None,
        about: Path_ | None = None,
    ) -> None:
        """Report `message` at `path`, once per value `about` (default: `path`) per document."""
        key = path if about is None else about
        if key in doc.reported:
            return  # one message per value: a later check would only repeat the first
        doc.reported.add(key)
        text = doc.source.redact(path, message)
        shown = f"{dotted(path)}: {text}" if path else text
        self.entries.append((doc.file, line or doc.source.line(path), shown))

    def formatted(self) -> list[str]:
        return [
            f"{file}:{line}: {message}" if line else f"{file}: {message}"
            for file, line, message in sorted(self.entries)
        ]


def load_policy(
    directory: Path,
    *,
    environ: Mapping[str, str],
    supported_attributes: Mapping[str, frozenset[str]],
    required_attributes: Mapping[str, frozenset[str]] | None = None,
    cannot_delete: frozenset[str] = frozenset(),
) -> Policy:
    """The valid policy under `directory`; `PolicyError` listing every problem otherwise."""
    files = _policy_files(directory)
    report = _Report()
    docs: list[_Doc] = []
    parsed = {relative: read_file(directory / relative, environ) for relative in files}
    # A YAML users file of a file Source is data, not policy, even when it sits among the policy.
    data_files = _data_files(directory, parsed)
    policy_files = [relative for relative in files if relative not in data_files]
    if not policy_files:
        raise PolicyError([f"{directory}: no policy documents found, only users files"])
    complete = True
    for relative in policy_files:
        documents, broken = parsed[relative]
        file = str(directory / relative)
        if broken is not None:
            complete = False
            report.entries.append((file, broken[0], broken[1]))
        for document in documents:
            doc = _Doc(file, (directory / relative).parent, document)
            for path, line, message in document.problems:
                report.add(doc, path, message, line=line)
            _validate(doc, report)
            docs.append(doc)
    rules = _AppTypes(supported_attributes, required_attributes or {}, cannot_delete)
    _cross_check(docs, report, rules, complete=complete, directory=directory)
    if report.entries:
        raise PolicyError(report.formatted())
    return _policy(directory, docs, _revision(directory, policy_files))


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
    return files


def _data_files(directory: Path, parsed: Mapping[Path, Parsed]) -> set[Path]:
    """The policy-directory files some file Source names as its users file."""
    named: set[Path] = set()
    for relative, (documents, _) in parsed.items():
        for document in documents:
            doc = _Doc("", (directory / relative).parent, document)
            path = doc.get("spec", "file", "path")
            if doc.get("kind") == "Source" and isinstance(path, str):
                named.add((doc.base_dir / path).resolve())
    return {relative for relative in parsed if (directory / relative).resolve() in named}


def _validate(doc: _Doc, report: _Report) -> None:
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


def _cross_check(
    docs: list[_Doc],
    report: _Report,
    app_types: _AppTypes,
    *,
    complete: bool,
    directory: Path,
) -> None:
    """Checks between documents. They use raw values, so a typo elsewhere hides none of them."""
    seen: dict[tuple[str, str], _Doc] = {}
    for doc in docs:
        name = doc.get("metadata", "name")
        if doc.kind is None or not isinstance(name, str):
            continue
        first = seen.setdefault((doc.kind, name), doc)
        if first is not doc:
            where = first.where("metadata", "name")
            report.add(doc, ("metadata", "name"), f"another {doc.kind} is named {name!r}: {where}")
    apps = sorted(name for kind, name in seen if kind == "ConnectedApp")
    sources = [doc for doc in docs if doc.kind == "Source"]
    if complete and not sources:
        report.entries.append((str(directory), 0, "no Source: exactly one Source is supported"))
    for doc in sources[1:]:
        where = sources[0].where("kind")
        report.add(doc, ("kind",), f"exactly one Source is supported; the first is at {where}")
    for doc in docs:
        if doc.kind == "ConnectedApp":
            _check_app(doc, report, app_types)
        elif doc.kind == "AccessRule" and complete:
            _check_grants(doc, report, apps)
        elif doc.kind == "Source":
            _check_source(doc, report)


@dataclass(frozen=True)
class _AppTypes:
    """What each registered app type can store, and what it cannot do without."""

    supported: Mapping[str, frozenset[str]]
    required: Mapping[str, frozenset[str]]
    cannot_delete: frozenset[str]
    """Types whose API cannot delete an account (Slack, Atlassian): suspending is the end."""


def _check_app(doc: _Doc, report: _Report, app_types: _AppTypes) -> None:
    app_type = doc.get("spec", "type")
    supported = app_types.supported.get(app_type) if isinstance(app_type, str) else None
    if isinstance(app_type, str) and supported is None:
        known = ", ".join(sorted(app_types.supported)) or "none"
        report.add(doc, ("spec", "type"), f"no reconciler for type {app_type!r}; known: {known}")
    deprovision = ("spec", "deprovision")
    deletes = doc.get(*deprovision, "action") == "delete" or doc.get(*deprovision, "deleteAfter")
    if app_type in app_types.cannot_delete and deletes:
        message = f"type {app_type} cannot delete accounts, only suspend them; remove this"
        report.add(doc, deprovision, message)
    attributes = doc.get("spec", "attributes")
    required = app_types.required.get(app_type, frozenset()) if isinstance(app_type, str) else ()
    missing = sorted(set(required) - set(attributes if isinstance(attributes, dict) else ()))
    if missing and isinstance(attributes, dict):
        needed = ", ".join(missing)
        report.add(doc, ("spec", "attributes"), f"type {app_type} needs attributes: {needed}")
    for attribute, text in attributes.items() if isinstance(attributes, dict) else ():
        path = ("spec", "attributes", attribute)
        if supported is not None and attribute not in supported:
            listed = ", ".join(sorted(supported))
            report.add(doc, path, f"type {app_type} has no attribute {attribute!r}; use {listed}")
        elif isinstance(text, str) and (problem := templates.check(text)) is not None:
            report.add(doc, path, problem)


def _check_grants(doc: _Doc, report: _Report, apps: list[str]) -> None:
    grants = doc.get("spec", "grant")
    for index in range(len(grants) if isinstance(grants, list) else 0):
        app = doc.get("spec", "grant", index, "app")
        if isinstance(app, str) and app not in apps:
            known = f"known apps: {', '.join(apps)}" if apps else "no ConnectedApp is declared"
            report.add(doc, ("spec", "grant", index, "app"), f"no app named {app!r}; {known}")


def _check_source(doc: _Doc, report: _Report) -> None:
    path = doc.get("spec", "file", "path")
    if isinstance(path, str) and not (doc.base_dir / path).is_file():
        message = f"users file {path!r} not found (relative to {doc.base_dir})"
        report.add(doc, ("spec", "file", "path"), message)


def _revision(directory: Path, files: list[Path]) -> str:
    digest = hashlib.sha256()
    for relative in files:
        content = (directory / relative).read_bytes()
        digest.update(f"{relative.as_posix()}\0{len(content)}\0".encode())
        digest.update(content)
    return digest.hexdigest()[:12]


def _policy(directory: Path, docs: list[_Doc], revision: str) -> Policy:
    sources: list[NamedSource] = []
    apps: dict[str, ConnectedAppSpec] = {}
    rules: list[NamedRule] = []
    for doc in docs:
        match doc.model:
            case SourceDocument(metadata=metadata, spec=spec):
                sources.append(NamedSource(metadata.name, spec, base_dir=doc.base_dir))
            case ConnectedAppDocument(metadata=metadata, spec=spec):
                apps[metadata.name] = spec
            case AccessRuleDocument(metadata=metadata, spec=spec):
                rules.append(NamedRule(metadata.name, spec))
    return Policy(directory, revision, tuple(sources), apps, tuple(rules))
