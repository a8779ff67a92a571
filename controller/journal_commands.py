"""`provisioner history` and `provisioner report`: the journal, read back for people.

Both only read the journal in the state directory (`apply` and `run` write it), opened
read-only and never migrated, and work while the controller runs (the journal is SQLite in WAL
mode).
"""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Annotated

import typer

from controller import history as history_view
from controller import removal_report
from controller.history import HistoryFormat
from controller.journal import JOURNAL_FILE, HistoryQuery, JournalError, SqliteJournal, opening
from controller.options import StateOption, default_state_dir
from controller.policy.schema import DURATION, duration_seconds
from controller.removal_report import ReportFormat

EXIT_ERROR = 1


def _window(since: str) -> datetime.datetime:
    if not DURATION.match(since):
        typer.echo(f"error: --since {since!r} is not a duration such as 90m, 24h or 30d", err=True)
        raise typer.Exit(EXIT_ERROR)
    return datetime.datetime.now(datetime.UTC) - datetime.timedelta(seconds=duration_seconds(since))


def _open(state_dir: Path | None) -> SqliteJournal:
    path = (state_dir or default_state_dir()) / JOURNAL_FILE
    if not path.exists():
        typer.echo(f"error: no journal at {path}; `apply` or `run` writes it", err=True)
        raise typer.Exit(EXIT_ERROR)
    try:
        journal = SqliteJournal(path, read_only=True)  # never migrated by a reader
    except JournalError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(EXIT_ERROR) from None
    if journal.behind:
        journal.close()
        typer.echo(
            f"error: {path}: the journal is at migration {journal.revision}, older than this "
            f"provisioner's {opening.head_revision()}; {opening.MIGRATE}",
            err=True,
        )
        raise typer.Exit(EXIT_ERROR)
    return journal


def history(  # noqa: PLR0917 (typer passes options by keyword)
    user: Annotated[
        str | None,
        typer.Option(help="A Salesforce user Id, or an account's userName or email."),
    ] = None,
    only: Annotated[str | None, typer.Option("--app", help="Only this app.")] = None,
    since: Annotated[
        str | None, typer.Option(help="Only this recent, e.g. 90m, 24h or 30d.")
    ] = None,
    output: Annotated[
        HistoryFormat, typer.Option("--format", "-f", help="table, json or csv.")
    ] = HistoryFormat.table,
    limit: Annotated[int, typer.Option(help="At most this many entries, newest first.")] = 200,
    state_dir: StateOption = None,
) -> None:
    """Show what the controller did, newest first, from the journal in the state directory.

    Every operation `apply` and `run` carried out is there: when it was sent, the app, the
    account, the result, and why (the rule, the lifecycle step, or the drift it corrected).
    Example: `provisioner history --user grace.hopper@orion.example --since 30d`.
    """
    window = _window(since) if since is not None else None
    journal = _open(state_dir)
    try:
        query = HistoryQuery(user=user, app=only, since=window, limit=limit)
        typer.echo(history_view.render(journal.history(query), output))
    finally:
        journal.close()


def access_removal(
    since: Annotated[str, typer.Option(help="The period to report, e.g. 30d or 90d.")] = "30d",
    output: Annotated[
        ReportFormat, typer.Option("--format", "-f", help="markdown or csv.")
    ] = ReportFormat.markdown,
    state_dir: StateOption = None,
) -> None:
    """Who lost access, when the source changed, and when each app was converged.

    For every person deactivated, frozen or past their access end date whom the controller
    deprovisioned in the period: the latency from the change in Salesforce to each app's
    suspension, each app's p50, p95 and maximum, and the slowest cases. Example:
    `provisioner report access-removal --since 90d --format csv > leavers.csv`.
    """
    window = _window(since)
    journal = _open(state_dir)
    try:
        entries = journal.history(HistoryQuery(since=window, statuses=frozenset({"success"})))
    finally:
        journal.close()
    found = removal_report.removals(entries)
    typer.echo(removal_report.render(found, output, since=window))
