"""The checks between policy documents, and how their problems are collected and reported.

The loader validates each document against its schema; these checks need several documents at
once: unique names, grants naming declared apps and groups, what each app type can store and do,
templates naming fields the source reads and writing values (`template_sample`), the users file.
They use raw values, so a typo elsewhere hides none of them, and every problem is reported at
its own line.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from controller import templates, tls
from controller.policy import template_sample
from controller.policy.yamlsource import Document, Path_, dotted
from controller.sources.base import FROZEN, PERMISSION_SETS
from controller.sources.salesforce import soql


@dataclass
class Doc:
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


class Report:
    """Collects every problem as (file, line, message), to be sorted and formatted once."""

    def __init__(self) -> None:
        self.entries: list[tuple[str, int, str]] = []

    def add(
        self,
        doc: Doc,
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


def cross_check(
    docs: list[Doc],
    report: Report,
    app_types: AppTypes,
    *,
    complete: bool,
    directory: Path,
) -> None:
    """Checks between documents. They use raw values, so a typo elsewhere hides none of them."""
    seen: dict[tuple[str, str], Doc] = {}
    for doc in docs:
        name = doc.get("metadata", "name")
        if doc.kind is None or not isinstance(name, str):
            continue
        first = seen.setdefault((doc.kind, name), doc)
        if first is not doc:
            where = first.where("metadata", "name")
            report.add(doc, ("metadata", "name"), f"another {doc.kind} is named {name!r}: {where}")
    apps = {
        name: groups if isinstance(groups := doc.get("spec", "groups"), list) else None
        for (kind, name), doc in seen.items()
        if kind == "ConnectedApp"
    }
    sources = [doc for doc in docs if doc.kind == "Source"]
    fields = _source_fields(sources[0]) if sources else None
    extra = sources[0].get("spec", "salesforce", "fields") if sources else None
    if complete and not sources:
        report.entries.append((str(directory), 0, "no Source: exactly one Source is supported"))
    for doc in sources[1:]:
        where = sources[0].where("kind")
        report.add(doc, ("kind",), f"exactly one Source is supported; the first is at {where}")
    for doc in docs:
        if doc.kind == "ConnectedApp":
            _check_app(doc, report, app_types)
            _check_fields(doc, report, fields)
            _check_values(doc, report, extra)
            _check_ca_file(doc, report, ("spec", "caFile"))
        elif doc.kind == "AccessRule" and complete:
            _check_grants(doc, report, apps)
        elif doc.kind == "Source":
            _check_source(doc, report)
            _check_ca_file(doc, report, ("spec", "salesforce", "caFile"))


@dataclass(frozen=True)
class AppTypes:
    """What each registered app type can store, and what it cannot do without."""

    supported: Mapping[str, frozenset[str]]
    required: Mapping[str, frozenset[str]]
    cannot_delete: frozenset[str]
    """Types whose API cannot delete an account (Slack, Atlassian): suspending is the end."""


def _check_app(doc: Doc, report: Report, app_types: AppTypes) -> None:
    app_type = doc.get("spec", "type")
    supported = app_types.supported.get(app_type) if isinstance(app_type, str) else None
    if isinstance(app_type, str) and supported is None:
        known = ", ".join(sorted(app_types.supported)) or "none"
        report.add(doc, ("spec", "type"), f"no reconciler for type {app_type!r}; known: {known}")
    deprovision = ("spec", "deprovision")
    deletes = doc.get(*deprovision, "action") == "delete" or doc.get(*deprovision, "deleteAfter")
    if isinstance(app_type, str) and app_type in app_types.cannot_delete and deletes:
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


def _check_grants(doc: Doc, report: Report, apps: Mapping[str, list[Any] | None]) -> None:
    grants = doc.get("spec", "grant")
    for index in range(len(grants) if isinstance(grants, list) else 0):
        app = doc.get("spec", "grant", index, "app")
        if not isinstance(app, str):
            continue
        if app not in apps:
            names = ", ".join(sorted(apps))
            known = f"known apps: {names}" if apps else "no ConnectedApp is declared"
            report.add(doc, ("spec", "grant", index, "app"), f"no app named {app!r}; {known}")
            continue
        declared = apps[app]
        groups = doc.get("spec", "grant", index, "groups")
        for position, group in enumerate(groups if isinstance(groups, list) else ()):
            if declared is not None and isinstance(group, str) and group not in declared:
                listed = ", ".join(map(str, declared)) or "none"
                message = f"app {app} declares no group {group!r}; its groups: {listed}"
                report.add(doc, ("spec", "grant", index, "groups", position), message)


@dataclass(frozen=True)
class SourceFields:
    """The fields a Salesforce Source reads. Standard ones arrive in Salesforce's own letter
    case, which templates must match; the policy's extra fields are matched in any case, since
    Salesforce answers in the field's canonical case, which only the org knows."""

    standard: frozenset[str]
    extra: frozenset[str]
    """Lower case."""

    def reads(self, field: str) -> bool:
        """Whether `field`, any prefix of it, or a field under it is read."""
        parts = field.split(".")
        prefixes = [".".join(parts[: n + 1]) for n in range(len(parts))]
        if any(p in self.standard or p.lower() in self.extra for p in prefixes):
            return True
        below = f"{field}."
        return any(name.startswith(below) for name in self.standard) or any(
            name.startswith(below.lower()) for name in self.extra
        )


def _source_fields(doc: Doc) -> SourceFields | None:
    """What a Salesforce Source reads; None for a file Source (its columns are whatever the
    file holds)."""
    salesforce = doc.get("spec", "salesforce")
    if not isinstance(salesforce, dict):
        return None
    extra = salesforce.get("fields")
    extra = [name for name in extra if isinstance(name, str)] if isinstance(extra, list) else []
    standard = frozenset((*soql.USER_FIELDS, PERMISSION_SETS, FROZEN))
    return SourceFields(standard, frozenset(name.lower() for name in extra))


def _check_fields(doc: Doc, report: Report, fields: SourceFields | None) -> None:
    """Every field a template reads is one the Source reads (or a part of one, or a method
    on one): a misspelt field would otherwise fail every user's render at run time."""
    attributes = doc.get("spec", "attributes")
    if fields is None or not isinstance(attributes, dict):
        return
    for attribute, text in attributes.items():
        if not isinstance(text, str) or templates.check(text) is not None:
            continue
        for used in sorted(templates.fields_used(text)):
            if not fields.reads(used):
                message = (
                    f"the Source reads no field {used}; add it to the Source's salesforce.fields "
                    "or correct the name"
                )
                report.add(doc, ("spec", "attributes", attribute), message)


def _check_values(doc: Doc, report: Report, extra: Any) -> None:
    """Each template writes a value for a sample user, never an object (`{{ user.UserRole }}`)."""
    attributes = doc.get("spec", "attributes")
    for attribute, text in attributes.items() if isinstance(attributes, dict) else ():
        if not isinstance(text, str) or templates.check(text) is not None:
            continue  # reported by _check_app
        if (problem := template_sample.object_written(text, extra)) is not None:
            report.add(doc, ("spec", "attributes", attribute), problem)


def _check_ca_file(doc: Doc, report: Report, path: Path_) -> None:
    """A caFile is a readable file of PEM certificates (its content is never quoted)."""
    value = doc.get(*path)
    if not isinstance(value, str):
        return
    problem = tls.ca_file_problem(str(doc.base_dir / value))
    if problem is not None:
        message = f"caFile {value!r} (relative to {doc.base_dir}) {problem}"
        report.add(doc, path, message)


def _check_source(doc: Doc, report: Report) -> None:
    path = doc.get("spec", "file", "path")
    if not isinstance(path, str):
        return
    try:
        found = (doc.base_dir / path).is_file()
    except (OSError, ValueError) as error:  # a name too long, a NUL written as "\0"
        why = error.strerror if isinstance(error, OSError) else "it holds a NUL character"
        report.add(doc, ("spec", "file", "path"), f"not a usable file name ({why}); correct it")
        return
    if not found:
        message = f"users file {path!r} not found (relative to {doc.base_dir})"
        report.add(doc, ("spec", "file", "path"), message)
