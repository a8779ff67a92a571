"""Policy: the access rules platform teams commit to git, loaded and validated as one unit.

`schema` defines the documents; `loader` reads every YAML file under a directory into a `Policy`,
reporting every problem at once as `file:line: message`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from controller.policy.schema import AccessRuleSpec, ConnectedAppSpec, SourceSpec


@dataclass(frozen=True)
class NamedRule:
    name: str
    spec: AccessRuleSpec


@dataclass(frozen=True)
class NamedSource:
    name: str
    spec: SourceSpec
    base_dir: Path
    """The directory of the file the Source was declared in: relative paths start here."""


@dataclass(frozen=True)
class Policy:
    """A complete, valid policy: environment references expanded, cross-references checked."""

    directory: Path
    revision: str
    """A short content hash of every policy file, so metrics and journals can name the policy."""
    sources: tuple[NamedSource, ...]
    apps: Mapping[str, ConnectedAppSpec]
    rules: tuple[NamedRule, ...]
