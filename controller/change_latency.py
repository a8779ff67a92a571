"""PURE: how long a change at the source took to reach each app, as the histogram measures it.

`provisioner_change_latency_seconds{app,kind}` promises "a leaver loses access in seconds" as a
number. This module decides what one confirmed operation says about it: which kind of change it
completed (a joiner, a leaver, a mover, or an access end date that passed) and how long after
the source changed. The loop builds one `ChangeLatency` per cycle from the change check's times
and hands it every outcome; the Recorder observes what it returns. No clock, no I/O: the caller
gives `now`, so tests and the journal-based report (`controller.removal_report`) reason alike.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping

from controller import executor
from controller.model import SourceUserId
from controller.operations import OpKind

JOINER, LEAVER, MOVER, END_DATE = "joiner", "leaver", "mover", "end_date"
KINDS = (JOINER, LEAVER, MOVER, END_DATE)
"""The histogram's `kind` label values."""

_KIND_OF = {
    OpKind.CREATE: JOINER,
    OpKind.ACTIVATE: JOINER,
    OpKind.SUSPEND: LEAVER,
    OpKind.DELETE: LEAVER,
    OpKind.UPDATE: MOVER,
    OpKind.LINK: MOVER,
    OpKind.ADD_MEMBER: MOVER,
    OpKind.REMOVE_MEMBER: MOVER,
}
"""CREATE_GROUP is nobody's change: it has no source user, so it is never measured."""


def kind_of(operation: OpKind, *, end_date: bool) -> str | None:
    """The change an operation completes: a deprovision of a user whose access end date passed
    is `end_date`, any other by its kind; None for an operation that is nobody's change."""
    kind = _KIND_OF.get(operation)
    if kind == LEAVER and end_date:
        return END_DATE
    return kind


class ChangeLatency:
    """The latency of each changed user's operations, each measured once per app and kind.

    `changed_at`: when the source changed each user a change check reported (the newest of
    User.SystemModstamp, UserLogin.LastModifiedDate and PermissionSetAssignment.SystemModstamp).
    `ends`: the access end dates that passed (midnight UTC, `journaling.access_ends`); a
    suspend or delete of such a user is an `end_date` change, measured from that midnight.
    Every datetime is timezone-aware.
    """

    def __init__(
        self,
        changed_at: Mapping[SourceUserId, datetime.datetime],
        ends: Mapping[SourceUserId, datetime.datetime],
    ) -> None:
        self.changed_at = dict(changed_at)
        self.ends = dict(ends)
        self._measured: set[tuple[SourceUserId, str, str]] = set()

    def confirmed(
        self, outcome: executor.Outcome, now: datetime.datetime
    ) -> tuple[str, str, float] | None:
        """(app, kind, seconds) for a successful operation of a known user, the first time
        that user's change of that kind is confirmed in that app; None otherwise."""
        operation = outcome.operation
        source_id = operation.source_id
        if outcome.result != executor.SUCCESS or source_id is None:
            return None
        ended = self.ends.get(source_id) if operation.kind.destructive else None
        kind = kind_of(operation.kind, end_date=ended is not None)
        since = ended if ended is not None else self.changed_at.get(source_id)
        if kind is None or since is None:
            return None
        key = (source_id, str(operation.app), kind)
        if key in self._measured:
            return None
        self._measured.add(key)
        return str(operation.app), kind, max(0.0, (now - since).total_seconds())
