"""What the controller must remember between runs: the last trusted source size, suspension times.

Two facts cannot be observed again later. The number of active users at the last trusted read
lets the guard notice a sudden drop; when an account was first seen suspended decides when its
grace period ends (delete after `deleteAfter`, never on first sight). They live in one small
JSON file in the state directory, written atomically, and only by runs that change things
(`apply`, the controller), never by `plan`.
"""

from __future__ import annotations

import datetime
import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from controller.errors import ProvisionerError
from controller.model import AccountId, ObservedApp

FILE_NAME = "state.json"
VERSION = 1


@dataclass
class State:
    last_good_active: dict[str, int] = field(default_factory=dict)
    """Active users at the last trusted read, by source name."""
    suspended_since: dict[str, dict[AccountId, datetime.datetime]] = field(default_factory=dict)
    """By app, when each managed account was first seen (or made) suspended."""

    def suspensions(self, app: str) -> Mapping[AccountId, datetime.datetime]:
        return self.suspended_since.get(app, {})

    def observe_suspensions(
        self, observed: ObservedApp, managed: frozenset[AccountId], now: datetime.datetime
    ) -> None:
        """Start the clock for newly suspended managed accounts; forget reactivated or gone ones."""
        if not observed.ok:
            return
        known = self.suspended_since.setdefault(observed.app, {})
        inactive = {a.id for a in observed.accounts if not a.active and a.id in managed}
        for account_id in inactive - known.keys():
            known[account_id] = now
        for account_id in known.keys() - inactive:
            del known[account_id]


class StateStore:
    """Loads and saves `State` in a directory; with no directory it remembers nothing."""

    def __init__(self, directory: Path | None) -> None:
        self.path = directory / FILE_NAME if directory is not None else None

    def load(self) -> State:
        if self.path is None or not self.path.exists():
            return State()
        try:
            document = json.loads(self.path.read_text(encoding="utf-8"))
            return _from_json(document)
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise ProvisionerError(
                f"{self.path}: unreadable state ({error}); move it aside to start afresh, "
                "knowing the guards then forget the last trusted source size"
            ) from None

    def save(self, state: State) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(_to_json(state), indent=2, sort_keys=True)
        handle, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=".state-")
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        Path(temporary).replace(self.path)


def _to_json(state: State) -> dict[str, Any]:
    return {
        "version": VERSION,
        "lastGoodActive": state.last_good_active,
        "suspendedSince": {
            app: {account: moment.isoformat() for account, moment in accounts.items()}
            for app, accounts in state.suspended_since.items()
        },
    }


def _from_json(document: Mapping[str, Any]) -> State:
    if document.get("version") != VERSION:
        raise ValueError(f"version {document.get('version')!r}, expected {VERSION}")
    return State(
        last_good_active={str(k): int(v) for k, v in document["lastGoodActive"].items()},
        suspended_since={
            str(app): {
                AccountId(str(account)): datetime.datetime.fromisoformat(moment)
                for account, moment in accounts.items()
            }
            for app, accounts in document["suspendedSince"].items()
        },
    )
