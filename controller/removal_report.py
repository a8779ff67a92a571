"""PURE: `provisioner report access-removal`: the leaver latency an auditor asks for.

For each person whose access the source took away (deactivated, frozen, or past an access end
date) and whom the controller then deprovisioned: when the source changed, when each app was
converged (the journaled suspend or delete succeeded), and the latency between, with totals,
each app's p50, p95 and maximum (the figures `provisioner_change_latency_seconds` measures
for leavers and end dates), and the slowest cases. Built from journal entries only; rendered
as Markdown or CSV.
"""

from __future__ import annotations

import csv
import datetime
import enum
import io
import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from controller import desired
from controller.change_latency import END_DATE, LEAVER
from controller.journal import Entry

DEPROVISIONS = frozenset({"suspend", "delete"})
SLOWEST = 5


class ReportFormat(enum.StrEnum):
    markdown = "markdown"
    csv = "csv"


@dataclass
class Removal:
    """One person's lost access, app by app."""

    source_id: str
    user_name: str
    reason: str
    changed_at: datetime.datetime | None
    converged: dict[str, datetime.datetime] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        """end_date when the access end date passed, else leaver: the histogram's kind."""
        return END_DATE if desired.end_date_passed(self.reason) else LEAVER

    def latency(self, app: str) -> datetime.timedelta | None:
        if self.changed_at is None:
            return None
        return max(datetime.timedelta(0), self.converged[app] - self.changed_at)


def removals(entries: Iterable[Entry]) -> list[Removal]:
    """The removals the journal shows: successful deprovisions, grouped by person."""
    found: dict[str, Removal] = {}
    for entry in entries:
        record = entry.record
        if record.kind not in DEPROVISIONS or entry.status != "success" or not record.source_id:
            continue
        done = entry.finished_at or entry.intended_at
        removal = found.setdefault(
            record.source_id,
            Removal(record.source_id, record.user_name or "", record.reason, None),
        )
        if record.source_changed_at is not None and (
            removal.changed_at is None or record.source_changed_at < removal.changed_at
        ):
            removal.changed_at = record.source_changed_at
        if record.app not in removal.converged or done < removal.converged[record.app]:
            removal.converged[record.app] = done
    return sorted(found.values(), key=lambda r: min(r.converged.values()))


def human(delta: datetime.timedelta | None) -> str:
    if delta is None:
        return "unknown"
    seconds = int(delta.total_seconds())
    for unit, size, smaller, small_size in (("d", 86400, "h", 3600), ("h", 3600, "m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit} {(seconds % size) // small_size:02d}{smaller}"
    return f"{seconds // 60}m {seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


def percentile(ordered: Sequence[datetime.timedelta], share: float) -> datetime.timedelta:
    """The nearest-rank percentile of sorted latencies: one that actually happened."""
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def figures(found: Sequence[Removal]) -> list[tuple[str, str, list[datetime.timedelta]]]:
    """(app, kind, sorted latencies) for every app and kind with a known source time."""
    latencies: dict[tuple[str, str], list[datetime.timedelta]] = {}
    for removal, app in _rows(found):
        latency = removal.latency(app)
        if latency is not None:
            latencies.setdefault((app, removal.kind), []).append(latency)
    return [(app, kind, sorted(known)) for (app, kind), known in sorted(latencies.items())]


def _short(delta: datetime.timedelta) -> str:
    """Seconds to a tenth under a minute (a targeted cycle's scale), else as `human`."""
    seconds = delta.total_seconds()
    return f"{seconds:.1f}s" if seconds < 60 else human(delta)


def _rows(found: Sequence[Removal]) -> list[tuple[Removal, str]]:
    return [(removal, app) for removal in found for app in sorted(removal.converged)]


def render(found: Sequence[Removal], output: ReportFormat, *, since: datetime.datetime) -> str:
    if output is ReportFormat.csv:
        return _csv(found)
    return _markdown(found, since)


def _csv(found: Sequence[Removal]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(
        ["source_id", "user", "reason", "source_changed_at", "app", "converged_at", "seconds"]
    )
    for removal, app in _rows(found):
        latency = removal.latency(app)
        writer.writerow(
            [
                removal.source_id,
                removal.user_name,
                removal.reason,
                removal.changed_at.isoformat() if removal.changed_at else "",
                app,
                removal.converged[app].isoformat(),
                int(latency.total_seconds()) if latency is not None else "",
            ]
        )
    return buffer.getvalue().rstrip("\n")


def _markdown(found: Sequence[Removal], since: datetime.datetime) -> str:
    rows = _rows(found)
    lines = [f"# Access removal since {since.isoformat(timespec='minutes')}", ""]
    if not rows:
        return "\n".join([*lines, "No access was removed in this period."])
    known = sorted(lat for r, app in rows if (lat := r.latency(app)) is not None)
    summary = f"{len(found)} people lost access to {len(rows)} app accounts." + (
        f" From the change in the source to the app converged: median"
        f" {human(statistics.median_low(known))}, slowest {human(known[-1])}"
        f" ({len(known)} of {len(rows)} with a known source time)."
        if known
        else " The source gave no time for these changes."
    )
    lines += [summary, ""]
    by_app = figures(found)
    if by_app:
        lines += ["## By app", "", "| app | kind | removals | p50 | p95 | max |"]
        lines.append("|---|---|---|---|---|---|")
        for app, kind, known in by_app:
            p50, p95 = percentile(known, 0.5), percentile(known, 0.95)
            lines.append(
                f"| {app} | {kind} | {len(known)} | {_short(p50)} | {_short(p95)} |"
                f" {_short(known[-1])} |"
            )
        lines.append("")
    lines += ["## Every removal", "", "| user | why | source changed | app | converged | latency |"]
    lines.append("|---|---|---|---|---|---|")
    for removal, app in rows:
        changed = removal.changed_at.isoformat(timespec="seconds") if removal.changed_at else "?"
        lines.append(
            f"| {removal.user_name} | {removal.reason} | {changed} | {app} |"
            f" {removal.converged[app].isoformat(timespec='seconds')} |"
            f" {human(removal.latency(app))} |"
        )
    slow = sorted(
        ((lat, r, app) for r, app in rows if (lat := r.latency(app)) is not None),
        key=lambda item: item[0],
        reverse=True,
    )[:SLOWEST]
    if slow:
        lines += ["", "## Slowest", ""]
        lines += [f"1. {r.user_name} in {app}: {human(lat)}" for lat, r, app in slow]
    return "\n".join(lines)
