"""The API-limit back-off, kept in the state directory so every process honours it.

When Salesforce says REQUEST_LIMIT_EXCEEDED, calling again only spends an allowance the whole
org shares. The source stops calling until a moment; kept in memory only, the next `plan`,
`apply` or a restarted `run` would call again at once. So the moment is also written to one
small JSON file per source in the state directory (atomically: a temporary file renamed over
it), and read before every call. The file names the org it is about, so a policy pointed at
another org is not held back. A file that cannot be read or parsed is ignored with a warning:
a lost back-off costs a few calls, while trusting a corrupt one could stop reads for ever
(a moment more than a day ahead is not believed either: Salesforce's limit is daily).
Deleting the file ends the back-off early, in a running process too.
"""

from __future__ import annotations

import datetime
import json
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)
LONGEST = datetime.timedelta(days=1)


@dataclass(frozen=True)
class Pause:
    until: datetime.datetime
    why: str


class PauseFile:
    """One source's back-off on disk; with no state directory, a no-op."""

    def __init__(self, state_dir: Path | None, source: str, org: str) -> None:
        self.path = None if state_dir is None else state_dir / f"salesforce-backoff-{source}.json"
        self._org = org
        self._written = False

    def read(self, now: datetime.datetime) -> Pause | None:
        """The back-off in force at `now`, if the file holds one for this org."""
        if self.path is None:
            return None
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as error:
            log.warning("ignoring the Salesforce back-off file %s: %s", self.path, error)
            return None
        try:
            saved = json.loads(text)
            org, until, why = saved["org"], saved["until"], saved["why"]
            if not (isinstance(org, str) and isinstance(until, str) and isinstance(why, str)):
                raise ValueError("a field is not a string")
            moment = datetime.datetime.fromisoformat(until)
            if moment.tzinfo is None:
                raise ValueError("until has no time zone")
        except (ValueError, TypeError, KeyError, RecursionError) as error:
            log.warning(
                "ignoring the Salesforce back-off file %s: not a back-off (%s)", self.path, error
            )
            return None
        if org != self._org or not now < moment <= now + LONGEST:
            return None
        return Pause(moment, why)

    def removed(self) -> bool:
        """Whether an operator deleted the file this process wrote, to end the back-off early
        (one `stat`); False when it was never written (no state directory, or not writable),
        as the back-off then lives in memory only."""
        return self.path is not None and self._written and not self.path.exists()

    def write(self, pause: Pause) -> None:
        """Keep `pause` for the next process; a state directory that cannot be written is
        warned about (this process still honours the back-off)."""
        if self.path is None:
            return
        text = json.dumps({"org": self._org, "until": pause.until.isoformat(), "why": pause.why})
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=".backoff-")
            try:
                with os.fdopen(handle, "w", encoding="utf-8") as out:
                    out.write(text)
                os.replace(temporary, self.path)
                self._written = True
            except BaseException:
                Path(temporary).unlink(missing_ok=True)
                raise
        except OSError as error:
            log.warning("cannot keep the Salesforce back-off in %s: %s", self.path, error)
