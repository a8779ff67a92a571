"""The access-removal report from journal entries with known times: latencies, totals, slowest."""

from __future__ import annotations

import csv
import datetime
import io

from controller.journal import Entry, OperationRecord
from controller.removal_report import ReportFormat, human, percentile, removals, render

T0 = datetime.datetime(2026, 11, 2, 9, 0, tzinfo=datetime.UTC)


def _at(seconds: float) -> datetime.datetime:
    return T0 + datetime.timedelta(seconds=seconds)


def _entry(n: int, app: str, user: str, changed: float | None, done: float, **kw: str) -> Entry:
    record = OperationRecord(
        app=app,
        kind=kw.get("kind", "suspend"),
        reason=kw.get("reason", "deactivated in the source"),
        source_id=f"005{user}",
        user_name=user,
        source_changed_at=_at(changed) if changed is not None else None,
    )
    return Entry(
        id=n,
        cycle_id=1,
        record=record,
        status=kw.get("status", "success"),
        intended_at=_at(done - 1),
        finished_at=_at(done),
    )


# A scripted day: Alan deactivated at T0 and suspended in three apps 4 s to 12 s later; Dora's
# contract ended at midnight and she went at 09:00; Eve was frozen (no source time); an update
# and a failed suspend are not removals.
ENTRIES = [
    _entry(1, "slack", "alan", 0, 4),
    _entry(2, "jira", "alan", 0, 6),
    _entry(3, "zendesk", "alan", 0, 12),
    _entry(4, "slack", "dora", -9 * 3600, 0, reason="Contractor_End_Date__c 2026-11-02 has passed"),
    _entry(5, "slack", "eve", None, 30, reason="frozen in the source"),
    _entry(6, "slack", "bob", None, 40, kind="update"),
    _entry(7, "jira", "carl", 0, 50, status="error"),
]


def test_latency_per_app_from_the_source_change() -> None:
    found = {r.user_name: r for r in removals(ENTRIES)}
    assert set(found) == {"alan", "dora", "eve"}
    alan = found["alan"]
    assert {app: alan.latency(app) for app in alan.converged} == {
        "slack": datetime.timedelta(seconds=4),
        "jira": datetime.timedelta(seconds=6),
        "zendesk": datetime.timedelta(seconds=12),
    }
    assert found["dora"].latency("slack") == datetime.timedelta(hours=9)
    assert found["eve"].latency("slack") is None


def test_markdown_gives_totals_every_case_and_the_slowest_first() -> None:
    text = render(removals(ENTRIES), ReportFormat.markdown, since=T0)
    assert "3 people lost access to 5 app accounts." in text
    assert "median 6s, slowest 9h 00m (4 of 5 with a known source time)" in text
    assert "| alan | deactivated in the source | 2026-11-02T09:00:00+00:00 | zendesk |" in text
    assert "| eve | frozen in the source | ? | slack |" in text
    slowest = text.split("## Slowest")[1].strip().splitlines()
    assert slowest[0] == "1. dora in slack: 9h 00m"
    assert slowest[1] == "1. alan in zendesk: 12s"


def test_csv_has_a_row_per_app_account_with_seconds() -> None:
    rows = list(csv.DictReader(io.StringIO(render(removals(ENTRIES), ReportFormat.csv, since=T0))))
    assert [(r["user"], r["app"], r["seconds"]) for r in rows] == [
        ("dora", "slack", "32400"),
        ("alan", "jira", "6"),
        ("alan", "slack", "4"),
        ("alan", "zendesk", "12"),
        ("eve", "slack", ""),
    ]


def test_an_empty_period_says_so() -> None:
    assert "No access was removed" in render([], ReportFormat.markdown, since=T0)
    assert human(datetime.timedelta(days=1, hours=2)) == "1d 02h"
    assert human(datetime.timedelta(seconds=75)) == "1m 15s"


def test_percentiles_are_latencies_that_happened() -> None:
    ordered = [datetime.timedelta(seconds=n) for n in range(1, 21)]
    assert percentile(ordered, 0.5) == datetime.timedelta(seconds=10)
    assert percentile(ordered, 0.95) == datetime.timedelta(seconds=19)
    assert percentile(ordered[:1], 0.95) == ordered[0]
    assert [r.kind for r in removals(ENTRIES)] == ["end_date", "leaver", "leaver"]
