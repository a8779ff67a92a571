"""The `provisioner` command: the composition root, where environment and flags meet the engine.

Exit codes follow Terraform's `-detailed-exitcode`: `plan` exits 0 when every app is in sync, 2
when changes are pending and 1 on any error or while a source record is quarantined (a person
must fix it); `validate` exits 1 on an invalid policy; `apply` exits non-zero when anything
failed or was held. Everything a person reads goes to stdout, errors to stderr.
"""

from __future__ import annotations

import asyncio
import datetime
import enum
import json
import os
from pathlib import Path
from typing import Annotated

import typer
from pydantic import TypeAdapter

from controller import (
    approve_command,
    approving,
    connections,
    diff_command,
    engine,
    errors,
    journal,
    journal_commands,
    render,
    render_markdown,
    run_command,
    runtime,
)
from controller import demo as demo_story
from controller.cycle import Cycle
from controller.engine import Engine
from controller.journal import SqliteJournal, legacy
from controller.options import (
    LockTimeoutOption,
    PolicyOption,
    RetentionOption,
    StateOption,
    default_state_dir,
)
from controller.policy import Policy
from controller.policy.feed import DirectoryFeed
from controller.policy.schema import Document
from controller.writer_lock import Holder, LockHeld, WriterLock, acquire
from reconcilers import REGISTRY

EXIT_IN_SYNC, EXIT_ERROR, EXIT_CHANGES = 0, 1, 2

app = typer.Typer(
    name="provisioner",
    help=(
        "Keep SaaS app accounts in line with Salesforce and an access policy kept in git.\n\n"
        "Start with `provisioner demo` (everything on local emulators), then `validate`, "
        "`plan` and `apply` against your own policy directory."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",  # docstrings reflow to the terminal; `code` shows as code
)

AppOption = Annotated[
    list[str] | None,
    typer.Option("--app", "-a", help="Only this app (repeat for several). Default: every app."),
]


class Format(enum.StrEnum):
    text = "text"
    json = "json"
    markdown = "markdown"


def _load_or_exit(directory: Path) -> Policy:
    """The policy under `directory`, named by its commit when it is exactly one; else exit 1."""
    try:
        revision = DirectoryFeed(directory, os.environ).latest().revision
        return connections.load_policy(
            directory, registry=REGISTRY, environ=os.environ, revision=revision
        )
    except errors.PolicyError as error:
        for line in error.errors:
            typer.echo(line, err=True)
        typer.echo(f"{len(error.errors)} error(s) in the policy under {directory}.", err=True)
        raise typer.Exit(EXIT_ERROR) from None


def _check_apps(policy: Policy, only: list[str] | None) -> None:
    unknown = sorted(set(only or ()) - set(policy.apps))
    if unknown:
        known = ", ".join(sorted(policy.apps))
        typer.echo(f"error: no app named {', '.join(unknown)}; the policy has: {known}", err=True)
        raise typer.Exit(EXIT_ERROR)


def writer_lock_or_exit(state_dir: Path, command: str, timeout: float) -> WriterLock:
    """The state directory's writer lock, waited for up to `timeout` s; else exit 1."""

    def waiting(holder: Holder | None) -> None:
        who = holder.describe() if holder else "another writer"
        typer.echo(f"waiting up to {timeout:g} s for the writer lock: {who} holds it", err=True)

    try:
        return acquire(
            state_dir, command=f"provisioner {command}", timeout=timeout, on_wait=waiting
        )
    except LockHeld as refused:
        typer.echo(f"error: {refused}", err=True)
        raise typer.Exit(EXIT_ERROR) from None


async def _plan(policy: Policy, only: list[str] | None, state_dir: Path | None) -> Cycle:
    directory = state_dir or default_state_dir()
    # The journal is only read (grace periods, the trusted source size), never created nor
    # migrated. The one thing plan writes in the state directory (creating it if need be) is a
    # Salesforce API-limit back-off it begins, so the next process does not call again.
    with journal.existing(directory) as remembered:
        async with Engine(
            policy,
            registry=REGISTRY,
            environ=os.environ,
            only=only,
            remembered=legacy.found(directory),
            journal=remembered,
            state_dir=directory,
        ) as running:
            return await running.plan()


def _or_exit(error: errors.ProvisionerError) -> typer.Exit:
    """A state directory that cannot be used (its journal or state file): say so, exit 1."""
    typer.echo(f"error: {error}", err=True)
    return typer.Exit(EXIT_ERROR)


def plan_exit_code(cycle: Cycle) -> int:
    """0 in sync, 2 changes pending, 1 an error or a quarantined record: a person must act."""
    if cycle.failed or cycle.evaluation.quarantined:
        return EXIT_ERROR
    return EXIT_IN_SYNC if cycle.in_sync and not cycle.blocked else EXIT_CHANGES


@app.command()
def validate(policy: PolicyOption = Path("desired-state")) -> None:
    """Check a policy directory: every error is printed as `file:line: message`.

    Exits 0 when the policy is valid and 1 otherwise. Nothing is contacted.
    """
    loaded = _load_or_exit(policy)
    typer.echo(
        f"{policy}: valid. {len(loaded.apps)} apps, {len(loaded.rules)} access rules, "
        f"revision {loaded.revision}."
    )


@app.command()
def schema() -> None:
    """Print the JSON Schema of policy documents, for editor completion and CI checks."""
    document = TypeAdapter(Document).json_schema(by_alias=True)
    document["title"] = "provisioner policy document"
    typer.echo(json.dumps(document, indent=2))


@app.command()
def plan(
    policy: PolicyOption = Path("desired-state"),
    only: AppOption = None,
    output: Annotated[
        Format,
        typer.Option("--format", "-f", help="text, json, or markdown (a pull request comment)."),
    ] = Format.text,
    state_dir: StateOption = None,
) -> None:
    """Show what `apply` would change, changing nothing.

    Reads the source and every app, then prints the operations that would converge them.
    Exits 0 when everything is in sync, 2 when changes are pending, 1 on any error or while a
    source record is quarantined (a person must fix it; its user is not reconciled).
    """
    loaded = _load_or_exit(policy)
    _check_apps(loaded, only)
    try:
        cycle = asyncio.run(_plan(loaded, only, state_dir))
    except (journal.JournalError, legacy.LegacyStateError) as error:
        raise _or_exit(error) from None
    shown = {Format.json: render.plan_json, Format.markdown: render_markdown.plan_markdown}
    typer.echo(shown.get(output, render.plan_text)(cycle))
    raise typer.Exit(plan_exit_code(cycle))


async def _apply(
    policy: Policy,
    only: list[str] | None,
    state_dir: Path | None,
    *,
    allow_deprovisions: bool,
    retention_days: int,
) -> Cycle:
    directory = state_dir or default_state_dir()
    opened, imported = journal.for_writing(directory, at=datetime.datetime.now(datetime.UTC))
    if imported is not None:
        typer.echo(f"note: imported {legacy.FILE_NAME} into the journal; renamed it {imported}")
    try:
        return await _apply_journaled(
            policy, only, opened, allow_deprovisions, retention_days, directory
        )
    finally:
        opened.close()


async def _apply_journaled(
    policy: Policy,
    only: list[str] | None,
    journal: SqliteJournal,
    allow_deprovisions: bool,
    retention_days: int,
    state_dir: Path,
) -> Cycle:
    async with Engine(
        policy,
        registry=REGISTRY,
        environ=os.environ,
        only=only,
        allow_deprovisions=allow_deprovisions,
        journal=journal,
        journal_retention_days=retention_days,
        state_dir=state_dir,
    ) as running:
        approved = approving.pending(journal, now=engine.utc_now())  # `provisioner approve`
        cycle = await running.plan(approved=approving.grants(approved))
        claimed = approving.claim(journal, cycle, approved, now=engine.utc_now())
        typer.echo(render.plan_text(cycle))
        if any(app.plan.operations and not app.observe_only for app in cycle.apps):
            typer.echo("\nApplying:")
        applied = await running.apply(
            cycle, on_outcome=lambda outcome: typer.echo(render.outcome_line(outcome))
        )
        for taken in approving.settle(journal, applied, approved, claimed):
            typer.echo(approving.sentence(taken))
        return applied


@app.command()
def apply(
    policy: PolicyOption = Path("desired-state"),
    only: AppOption = None,
    allow_deprovisions: Annotated[
        bool,
        typer.Option(
            "--allow-deprovisions",
            help=(
                "For this run only, after reviewing what `plan` shows as blocked: lift "
                "maxDeprovisionsPerRun and maxDeprovisionsPercent, and accept a drop in active "
                "users above maxActiveDropPercent as real. Failed or empty source reads, "
                "exclusions and unmanaged accounts stay protected."
            ),
        ),
    ] = False,
    state_dir: StateOption = None,
    journal_retention_days: RetentionOption = 400,
    lock_timeout: LockTimeoutOption = 0.0,
) -> None:
    """Converge every app once: plan, then carry the plan out, printing each operation.

    Safety guards hold deprovisions when the source read cannot be trusted or when an app
    would lose more accounts than its policy allows in one run; creates and updates still go.
    Exits 0 when everything succeeded, 1 when anything failed, could not be read, or was held
    (by a guard, or because a source record is quarantined).

    One writer per state directory: `apply` holds its writer.lock for the run, and refuses
    (exit 1, naming the holder) while a controller (`provisioner run`) or another `apply`
    holds it, after waiting up to --lock-timeout. Beside a running controller, release held
    deprovisions with `provisioner approve --app APP` instead.
    """
    loaded = _load_or_exit(policy)
    _check_apps(loaded, only)
    if allow_deprovisions:
        typer.echo(
            "warning: --allow-deprovisions: deprovision limits are lifted for this run", err=True
        )
    with writer_lock_or_exit(state_dir or default_state_dir(), "apply", lock_timeout):
        try:
            cycle = asyncio.run(
                _apply(
                    loaded,
                    only,
                    state_dir,
                    allow_deprovisions=allow_deprovisions,
                    retention_days=journal_retention_days,
                )
            )
        except (journal.JournalError, legacy.LegacyStateError) as error:
            raise _or_exit(error) from None
    reports = [app.report for app in cycle.apps if app.report is not None]
    if reports:
        typer.echo("")
        for report in reports:
            typer.echo(render.report_summary(report))
        # The plan's closing lines scrolled past: say again what could not be done at all.
        for line in (
            render.withheld_line(cycle, applied=True),
            render.source_line(cycle),
            render.quarantined_line(cycle),
        ):
            if line:
                typer.echo(line)
    for app_cycle in cycle.apps:
        if app_cycle.plan.blocked:
            typer.echo(
                f"blocked: {app_cycle.app}: {len(app_cycle.plan.blocked)} operations held: "
                f"{app_cycle.plan.blocked_reason}",
                err=True,
            )
    held = cycle.blocked or bool(cycle.evaluation.quarantined)
    raise typer.Exit(EXIT_ERROR if cycle.failed or held else EXIT_IN_SYNC)


app.command()(run_command.run)
app.command()(approve_command.approve)
app.command()(diff_command.diff)
app.command()(journal_commands.history)
report = typer.Typer(help="Reports from the journal, for auditors.", no_args_is_help=True)
report.command("access-removal")(journal_commands.access_removal)
app.add_typer(report, name="report")


@app.command()
def demo(
    serve: Annotated[
        bool,
        typer.Option(
            "--serve",
            help="After the stories, keep the controller running on the emulators (Ctrl+C stops).",
        ),
    ] = False,
    port: Annotated[int, typer.Option(help="Port for /metrics with --serve.")] = 9108,
) -> None:
    """Run the whole system on local stand-in apps: plan, apply, and show the second plan empty.

    Needs no account anywhere: it starts two SCIM apps on 127.0.0.1, reads the example org, and
    uses the example policy in desired-state/.
    """
    raise typer.Exit(demo_story.run(serve=port if serve else None))


def main() -> None:
    runtime.tune_gc()
    runtime.raise_open_file_limit()
    app()
