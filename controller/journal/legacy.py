"""state.json, where the controller kept its facts before the journal did (issue 15).

Two facts outlive a cycle: the active users at the last trusted read of each source, and when
each managed account was first seen suspended. A controller upgraded from a version that kept
them in `state.json` finds the file in its state directory: the first writer to open the
journal imports it, in one transaction, and renames it to `state.json.imported`, so it is read
once. Until then the read-only commands read it in place. A file that does not parse is an error
naming it and what to do: guessing would forget the baseline the drop guard compares against.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from controller.errors import ProvisionerError
from controller.journal.records import Facts
from controller.journal.store import Journal

FILE_NAME = "state.json"
IMPORTED = "state.json.imported"
VERSION = 1


class LegacyStateError(ProvisionerError):
    """A state.json that cannot be read; the message names it and says what to do."""

    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(
            f"{path}: the state file of an earlier version cannot be read ({problem}); fix it, "
            "or move it aside to start afresh, knowing the drop guard then forgets the last "
            "trusted source size and grace periods restart from the journal's own suspends"
        )
        self.path = path


def read(path: Path) -> Facts:
    """The facts a state.json holds."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        return _facts(document)
    except OSError as error:
        raise LegacyStateError(path, error.strerror or str(error)) from None
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise LegacyStateError(path, f"{type(error).__name__}: {error}") from None


def found(state_dir: Path) -> Facts | None:
    """The facts of the state.json in `state_dir`, if one waits to be imported."""
    path = state_dir / FILE_NAME
    return read(path) if path.exists() else None


def import_into(journal: Journal, state_dir: Path, *, at: datetime.datetime) -> Path | None:
    """Import the state.json in `state_dir` into `journal`, then rename it aside; where it went
    (None: there was none). Should the rename fail, the next opening imports the same again."""
    path = state_dir / FILE_NAME
    if not path.exists():
        return None
    journal.save_facts(read(path), at=at)
    aside = state_dir / IMPORTED
    path.replace(aside)
    return aside


def _facts(document: Mapping[str, Any]) -> Facts:
    if document.get("version") != VERSION:
        raise ValueError(f"version {document.get('version')!r}, expected {VERSION}")
    trusted = {str(source): int(active) for source, active in document["lastGoodActive"].items()}
    since: dict[str, dict[str, datetime.datetime]] = {}
    for app, accounts in document["suspendedSince"].items():
        since[str(app)] = {
            str(account): _utc(datetime.datetime.fromisoformat(moment))
            for account, moment in accounts.items()
        }
    return Facts(trusted, since)


def _utc(moment: datetime.datetime) -> datetime.datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=datetime.UTC)
