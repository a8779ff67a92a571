"""`provisioner approve`: an operator's one-time approval of an app's held deprovisions.

The approval reaches the running controller through the journal (DESIGN.md section 6, rule 9):
this command adds one row and writes to no app, so it takes no writer lock and works beside
`provisioner run`. `controller.approving` is where a cycle takes it up.
"""

from __future__ import annotations

import datetime
import getpass
import os
from pathlib import Path
from typing import Annotated

import typer

from controller.journal import JOURNAL_FILE, JournalError, SqliteJournal
from controller.journal import approvals as table
from controller.options import StateOption, default_state_dir

EXIT_ERROR = 1


def _operator() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # a container user with no name
        return f"uid {os.getuid()}"


def _held(last: table.LastCycle | None, app: str) -> str:
    if last is None:
        return ""
    when = f", ended {last.ended_at:%Y-%m-%d %H:%M} UTC" if last.ended_at else ""
    if last.held_by_limit:
        return (
            f"{app}'s last journaled cycle (#{last.cycle_id}{when}) held {last.held_by_limit} "
            "deprovisions by its per-run limit."
        )
    if last.blocked:
        return (
            f"warning: {app}'s last journaled cycle (#{last.cycle_id}{when}) held "
            f"{last.blocked} removals because the source read was not trusted, which no "
            "approval lifts; this approval covers none unless --at-most says otherwise."
        )
    return (
        f"warning: {app}'s last journaled cycle (#{last.cycle_id}{when}) held nothing; the next "
        "cycle uses this approval up even if it holds nothing then."
    )


def approve(
    app_name: Annotated[
        str,
        typer.Option(
            "--app", "-a", help="The app whose held deprovisions to allow once, as policy names it."
        ),
    ],
    reason: Annotated[
        str, typer.Option(help="Why: the ticket or review. Journaled with the approval.")
    ] = "",
    by: Annotated[
        str | None, typer.Option("--by", help="Who approves. Default: the OS user running this.")
    ] = None,
    at_most: Annotated[
        int | None,
        typer.Option(
            "--at-most",
            min=0,
            help=(
                "The most deprovisions this approval lets through. Default: as many as the "
                "app's last cycle held by its per-run limit, the batch you reviewed; a larger "
                "batch is held again."
            ),
        ),
    ] = None,
    state_dir: StateOption = None,
) -> None:
    """Allow once the deprovisions a per-run limit holds in one app, for the running controller.

    When an app would lose more accounts in one run than its `maxDeprovisionsPerRun` or
    `maxDeprovisionsPercent` allow, every deprovision of it is held (`BLOCKED` in `plan`,
    `provisioner_safety_blocked{app}=1`). Review them with `provisioner plan --app APP`, then
    run `provisioner approve --app APP --reason "TICKET-1: team left"`.

    This only records the approval in the journal of the state directory: it writes to no app
    and takes no lock, so it works while `provisioner run` holds the state directory. The
    controller's next cycle (`kill -USR1 <pid>` starts one now) lets that app's deprovisions
    past the per-run limits once, journals each with the approval's number and approver (see
    `provisioner history --app APP`), and logs `approval consumed`. Without a controller, the
    next `provisioner apply` takes it up the same way.

    Only the per-run limits are lifted, and only for the batch reviewed: at most as many
    deprovisions as the app's last cycle held by its per-run limit (or `--at-most N`); a larger
    batch is held again. What an untrusted source read held is never covered.
    A source read that cannot be trusted, exclusions and unmanaged accounts stay protected. The
    approval is used up by the next cycle that plans the app over a trusted read, even if that
    cycle holds nothing (it never releases a later, unreviewed batch); one that no cycle takes
    up lapses after 24 hours.

    Exits 0 when recorded; 1 when there is no journal, it cannot be read, or it knows no such
    app.
    """
    path = (state_dir or default_state_dir()) / JOURNAL_FILE
    if not path.exists():
        typer.echo(f"error: no journal at {path}; `apply` or `run` writes it", err=True)
        raise typer.Exit(EXIT_ERROR)
    try:
        journal = SqliteJournal(path)
    except JournalError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(EXIT_ERROR) from None
    try:
        _record(journal, path, app_name, reason=reason, by=by or _operator(), at_most=at_most)
    finally:
        journal.close()


def _record(
    journal: SqliteJournal, path: Path, app: str, *, reason: str, by: str, at_most: int | None
) -> None:
    known = table.known_apps(journal.engine)
    if app not in known:
        listed = ", ".join(known) or "none yet"
        typer.echo(
            f"error: the journal at {path} has no cycle of an app named {app}; "
            f"apps it knows: {listed}",
            err=True,
        )
        raise typer.Exit(EXIT_ERROR)
    now = datetime.datetime.now(datetime.UTC)
    last = table.last_cycle(journal.engine, app)
    covers = at_most if at_most is not None else (last.held_by_limit if last is not None else 0)
    approval = table.record(
        journal.engine, app=app, approved_by=by, reason=reason, at=now, covers=covers
    )
    lapses = now + table.EXPIRES_AFTER
    typer.echo(f"Recorded {approval.describe()}, for at most {covers} held deprovisions of {app}.")
    held = _held(last, app)
    if held:
        typer.echo(held, err=held.startswith("warning"))
    typer.echo(
        "The running controller takes it up in its next cycle (`kill -USR1 <pid>` runs one "
        f"now); unused, it lapses at {lapses:%Y-%m-%d %H:%M} UTC."
    )
