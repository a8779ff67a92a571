"""`provisioner history`'s table: names are shown as written, and never acted on by a terminal."""

from __future__ import annotations

import datetime
import json

from controller.history import HistoryFormat, render
from controller.journal.records import Entry, OperationRecord


def _entry(user_name: str, error: str) -> Entry:
    record = OperationRecord(
        app="tool", kind="update", reason="title changed", source_id="005A", user_name=user_name
    )
    when = datetime.datetime(2026, 12, 2, 12, 0, tzinfo=datetime.UTC)
    return Entry(1, 1, record, "failed", when, error=error)


def test_the_table_shows_names_as_written_and_escapes_what_a_terminal_would_act_on() -> None:
    hostile = "José Müller 😀\x1b]0;owned\x07"
    table = render([_entry(hostile, "app said \x1b[2J")], HistoryFormat.table)
    assert "José Müller 😀" in table
    assert "\x1b" not in table and "\x07" not in table
    assert "\\u001b]0;owned\\u0007" in table
    assert "app said \\u001b[2J" in table


def test_json_keeps_the_name_exactly() -> None:
    hostile = "José\x1b[2J"
    rows = json.loads(render([_entry(hostile, "")], HistoryFormat.json))
    assert rows[0]["user"] == hostile
