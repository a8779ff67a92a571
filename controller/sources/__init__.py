"""Where people come from: the file source and the Salesforce source, and the choice between them.

`build_source` turns a policy's Source document into the object that reads it; everything else
only sees the `Source` protocol (and, for sources that can say what changed recently,
`IncrementalSource`).
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

from controller.policy import NamedSource
from controller.sources.base import Source
from controller.sources.file import FileSource
from controller.sources.salesforce import ChangedUsers, SalesforceSource, Watermark

__all__ = [
    "ChangedUsers",
    "FileSource",
    "IncrementalSource",
    "SalesforceSource",
    "Source",
    "Watermark",
    "build_source",
]


class IncrementalSource(Source, Protocol):
    """A source that can also list the users changed after a watermark (Salesforce)."""

    async def changed_since(self, watermark: Watermark | None) -> ChangedUsers: ...


def build_source(
    named: NamedSource,
    *,
    environ: Mapping[str, str],
    clock: Callable[[], datetime.datetime],
    event_hooks: Mapping[str, list[Callable[..., Any]]] | None = None,
    state_dir: Path | None = None,
) -> Source:
    """The source a policy's Source document describes; relative paths start at its file.
    `state_dir` keeps what other processes must honour (Salesforce's API-limit back-off)."""
    spec = named.spec
    if spec.salesforce is not None:
        return SalesforceSource(
            named.name,
            spec.salesforce,
            base_dir=named.base_dir,
            environ=environ,
            clock=clock,
            event_hooks=event_hooks,
            state_dir=state_dir,
        )
    if spec.file is not None:
        return FileSource(named.name, named.base_dir / spec.file.path, clock=clock)
    raise ValueError(f"source {named.name} has no supported kind")
