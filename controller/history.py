"""`provisioner history`: what the controller did, read back from the journal.

The journal answers "when did this person lose access to that app, and why?" and "what did
the controller do last night?". This module turns its entries into a table for people, or
JSON or CSV for scripts and auditors' spreadsheets. It only reads.
"""

from __future__ import annotations

import csv
import enum
import io
import json
from collections.abc import Sequence
from typing import Any

from controller.journal import Entry
from controller.render import printable

COLUMNS = ("time", "app", "operation", "user", "account", "result", "reason", "error")


class HistoryFormat(enum.StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


def _row(entry: Entry) -> dict[str, Any]:
    record = entry.record
    subject = record.user_name or record.source_id or ""
    if record.group_name:
        subject = f"{subject} in {record.group_name}" if subject else record.group_name
    return {
        "time": entry.intended_at.isoformat(timespec="seconds"),
        "app": record.app,
        "operation": record.kind,
        "user": subject,
        "source_id": record.source_id,
        "account": record.account_id or "",
        "result": entry.status,
        "reason": record.reason,
        "error": entry.error or "",
        "changes": [
            {"attribute": c.attribute, "before": c.before, "after": c.after} for c in record.changes
        ],
        "duration_seconds": entry.duration_seconds,
    }


def render(entries: Sequence[Entry], output: HistoryFormat) -> str:
    rows = [_row(entry) for entry in entries]
    if output is HistoryFormat.json:
        return json.dumps(rows, indent=2, default=str)
    if output is HistoryFormat.csv:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
        return buffer.getvalue().rstrip("\n")
    if not rows:
        return "No journaled operations match."
    # Names come from apps and Salesforce: a terminal must not act on what they contain.
    shown = [[printable(str(row[column])) for column in COLUMNS[:6]] for row in rows]
    widths = [max(len(c), *(len(line[i]) for line in shown)) for i, c in enumerate(COLUMNS[:6])]
    lines = ["  ".join(c.upper().ljust(w) for c, w in zip(COLUMNS[:6], widths, strict=True))]
    for row, line in zip(rows, shown, strict=True):
        text = "  ".join(value.ljust(w) for value, w in zip(line, widths, strict=True))
        why = printable(str(row["error"] or row["reason"] or ""))
        lines.append(f"{text}  {why}".rstrip())
    return "\n".join(lines)
