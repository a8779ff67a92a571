"""How `provisioner diff` reads: text for a terminal, Markdown for a pull request comment.

Pure formatting of `policy_diff` results. Each affected account appears once per app with what
the base revision would do to it and what the head revision would do instead; lists are capped
like the Markdown plan's, with the total stated.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from controller.cycle import Cycle
from controller.operations import Operation
from controller.policy_diff import AccountDiff, AppDiff, affected_accounts
from controller.render import operation_json, printable
from controller.render_markdown import MAX_ACCOUNTS, Quote, by_attention, code, describe


def _plain(text: str) -> str:
    return text


def _doing(operations: Sequence[Operation], quote: Quote = _plain) -> str:
    return "; ".join(describe(op, quote) for op in operations) or "nothing"


def _attention(account: AccountDiff) -> tuple[int, str]:
    return by_attention((account.account, [*account.base, *account.head]))


def _headline(base: Cycle, head: Cycle, refs: tuple[str, str]) -> tuple[str, str]:
    return (
        f"{refs[0]} (policy revision {base.revision})",
        f"{refs[1]} (policy revision {head.revision})",
    )


def _unknown(base: Cycle, head: Cycle, diffs: Sequence[AppDiff]) -> list[str]:
    """What the diff could not see: apps not read, a source read failed or untrusted."""
    lines = []
    unread = [diff for diff in diffs if diff.error is not None]
    if unread:
        names = ", ".join(diff.app for diff in unread)
        lines.append(
            f"{len(unread)} of {len(diffs)} apps could not be read ({names}): "
            "what the change would do there is unknown."
        )
    for label, cycle in (("base", base), ("head", head)):
        if not cycle.source_complete:
            what = "could not be read" if not cycle.source.ok else "cannot be trusted"
            lines.append(
                f"At {label} the source {cycle.source.source} {what}: removals are not planned, "
                "so the difference in removals is unknown."
            )
    return lines


def _verdict(base: Cycle, head: Cycle, diffs: Sequence[AppDiff]) -> str:
    changed = [diff for diff in diffs if diff.changed]
    unknown = _unknown(base, head, diffs)
    if not changed:
        if unknown:
            return "No difference found in what could be read. " + " ".join(unknown)
        return "No difference: head would do to live accounts exactly what base would."
    count = affected_accounts(diffs)
    accounts = "account" if count == 1 else "accounts"
    apps = "app" if len(changed) == 1 else "apps"
    return " ".join([f"{count} {accounts} affected in {len(changed)} {apps}.", *unknown])


def diff_text(base: Cycle, head: Cycle, diffs: Sequence[AppDiff], *, refs: tuple[str, str]) -> str:
    before, after = _headline(base, head, refs)
    lines = [f"Policy diff: {before} -> {after}", ""]
    for diff in diffs:
        if diff.error is not None:
            lines += [f"{diff.app}: ERROR: {diff.error}", ""]
            continue
        if not diff.changed:
            continue
        lines.append(f"{diff.app}: {len(diff.accounts)} affected")
        if diff.scope is not None:
            lines.append(f"  {diff.scope}")
        for account in diff.accounts:
            lines.append(f"  {account.account}")
            lines.append(f"    base: {_doing(account.base)}")
            lines.append(f"    head: {_doing(account.head)}")
        lines.append("")
    lines.append(_verdict(base, head, diffs))
    return printable("\n".join(lines))


def diff_markdown(
    base: Cycle, head: Cycle, diffs: Sequence[AppDiff], *, refs: tuple[str, str]
) -> str:
    before, after = _headline(base, head, refs)
    lines = [f"### provisioner diff: {code(refs[0])} → {code(refs[1])}", ""]
    lines += [f"From {before} to {after}.", ""]
    for diff in diffs:
        if diff.error is not None:
            lines += [f"#### {diff.app}", "", f"> **Could not be read:** {diff.error}", ""]
            continue
        if not diff.changed:
            continue
        lines += [f"#### {diff.app}: {len(diff.accounts)} affected", ""]
        if diff.scope is not None:
            lines += [f"> {diff.scope}", ""]
        if diff.accounts:
            lines += ["| Account | At base | At head |", "|---|---|---|"]
            for account in sorted(diff.accounts, key=_attention)[:MAX_ACCOUNTS]:
                doing = _doing(account.base, code), _doing(account.head, code)
                lines.append(f"| {code(account.account)} | {doing[0]} | {doing[1]} |")
            hidden = len(diff.accounts) - MAX_ACCOUNTS
            if hidden > 0:
                lines.append(f"| … and {hidden} more | | |")
        lines.append("")
    lines.append(f"**{_verdict(base, head, diffs)}**")
    return printable("\n".join(lines) + "\n")


def diff_json(base: Cycle, head: Cycle, diffs: Sequence[AppDiff], *, refs: tuple[str, str]) -> str:
    document = {
        "base": {"ref": refs[0], "revision": base.revision},
        "head": {"ref": refs[1], "revision": head.revision},
        "affectedAccounts": affected_accounts(diffs),
        "complete": not _unknown(base, head, diffs),
        "unknown": _unknown(base, head, diffs),
        "apps": [
            {
                "app": diff.app,
                "changed": diff.changed,
                "scope": diff.scope,
                "error": diff.error,
                "accounts": [
                    {
                        "account": account.account,
                        "base": [operation_json(op) for op in account.base],
                        "head": [operation_json(op) for op in account.head],
                    }
                    for account in diff.accounts
                ],
            }
            for diff in diffs
        ],
    }
    return json.dumps(document, indent=2, default=str)
