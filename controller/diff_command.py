"""`provisioner diff --base REF --head REF`: a policy change's effect on live accounts, for CI.

Both revisions of the policy folder are exported from git into temporary folders and planned
over one look at the source and the apps (an app or source configured alike in both is read
once). Exits 0 when the two revisions would do the same, 2 when they differ (the pull request
changes access), 1 when either revision is invalid or anything could not be read.
"""

from __future__ import annotations

import asyncio
import enum
import os
import tempfile
from pathlib import Path
from typing import Annotated

import typer

from controller import connections, errors, journal, policy_diff
from controller.cycle import Cycle
from controller.engine import Engine
from controller.journal import legacy
from controller.options import PolicyOption, StateOption, default_state_dir
from controller.policy import Policy, git
from controller.render_diff import diff_json, diff_markdown, diff_text
from reconcilers import REGISTRY

EXIT_SAME, EXIT_ERROR, EXIT_DIFFERENT = 0, 1, 2


class DiffFormat(enum.StrEnum):
    text = "text"
    markdown = "markdown"
    json = "json"


def _export(repository: Path, ref: str, path: str, scratch: Path, label: str) -> Policy:
    """The policy folder at `ref`, loaded and validated; every error names the revision."""
    commit = git.resolve(repository, ref, os.environ)
    folder = git.export(repository, commit, path, scratch / label, os.environ)
    revision = git.last_change(repository, commit, path, os.environ)[:12]
    try:
        return connections.load_policy(
            folder, registry=REGISTRY, environ=os.environ, revision=revision
        )
    except errors.PolicyError as error:
        shown = [line.replace(str(folder), f"{label} ({ref})") for line in error.errors]
        raise errors.PolicyError(shown) from None


def _reusable(base: Policy, head: Policy) -> tuple[bool, set[str]]:
    """Whether head's source read and which of head's app observations stand for base's too.

    A file Source is read twice (its file may differ between revisions, and reading is free);
    an app is reused when it is reached and listed the same way.
    """
    same_source = (
        base.sources[0].spec == head.sources[0].spec and head.sources[0].spec.salesforce is not None
    )
    apps = {
        name
        for name, spec in head.apps.items()
        if name in base.apps
        and (spec.type, spec.endpoint, spec.auth, spec.page_size)
        == (
            base.apps[name].type,
            base.apps[name].endpoint,
            base.apps[name].auth,
            base.apps[name].page_size,
        )
    }
    return same_source, apps


async def _plan_both(
    base: Policy, head: Policy, only: list[str] | None, state_dir: Path
) -> tuple[Cycle, Cycle]:
    with journal.existing(state_dir) as remembered:

        def build(policy: Policy) -> Engine:
            return Engine(
                policy,
                registry=REGISTRY,
                environ=os.environ,
                only=only,
                remembered=legacy.found(state_dir),
                journal=remembered,
                state_dir=state_dir,
            )

        async with build(head) as at_head, build(base) as at_base:
            read, seen = await at_head.observe()
            same_source, apps = _reusable(base, head)
            base_read, base_seen = await at_base.observe(
                read=read if same_source else None,
                seen={name: found for name, found in seen.items() if name in apps},
            )
            return at_base.plan_observed(base_read, base_seen), at_head.plan_observed(read, seen)


def diff(
    base: Annotated[
        str,
        typer.Option("--base", help="The revision the policy moves from: a branch, tag or commit."),
    ],
    head: Annotated[
        str, typer.Option("--head", help="The revision it moves to (the pull request's).")
    ] = "HEAD",
    policy: PolicyOption = Path("desired-state"),
    only: Annotated[
        list[str] | None,
        typer.Option("--app", "-a", help="Only this app (repeat for several). Default: every app."),
    ] = None,
    output: Annotated[
        DiffFormat,
        typer.Option("--format", "-f", help="text, markdown (a PR comment) or json."),
    ] = DiffFormat.text,
    state_dir: StateOption = None,
) -> None:
    """Show which live accounts a policy change would affect: plan at --head versus at --base.

    Run it in the policy repository's CI, e.g. `provisioner diff --base origin/main --head HEAD
    --format markdown`. --policy names the policy folder in the working copy; both revisions of
    that folder are read from git. The apps and the source are read, never written.
    Exits 0 when both revisions would do the same, 2 when they differ, 1 on any error.
    """
    try:
        repository, path = git.locate(policy, os.environ)
        with tempfile.TemporaryDirectory(prefix="provisioner-diff-") as scratch:
            policies = (
                _export(repository, base, path, Path(scratch), "base"),
                _export(repository, head, path, Path(scratch), "head"),
            )
            directory = state_dir or default_state_dir()
            at_base, at_head = asyncio.run(_plan_both(*policies, only, directory))
    except errors.PolicyError as error:
        for line in error.errors:
            typer.echo(line, err=True)
        raise typer.Exit(EXIT_ERROR) from None
    except (journal.JournalError, legacy.LegacyStateError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(EXIT_ERROR) from None
    diffs = policy_diff.compare(at_base, at_head)
    render = {DiffFormat.markdown: diff_markdown, DiffFormat.json: diff_json}.get(output, diff_text)
    typer.echo(render(at_base, at_head, diffs, refs=(base, head)))
    if at_base.failed or at_head.failed:
        raise typer.Exit(EXIT_ERROR)
    raise typer.Exit(EXIT_DIFFERENT if any(d.changed for d in diffs) else EXIT_SAME)
