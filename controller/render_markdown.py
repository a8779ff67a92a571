"""A plan as GitHub-flavoured Markdown: the comment a policy pull request gets.

Pure formatting, like `render`. A reviewer wants the size of the change first (a table of counts
by app and operation), then who is affected and how (each account once, with the fields that
change), then anything a safety guard would hold and why. Lists are capped per app with the
total stated, so a change touching thousands of accounts still fits in one comment.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

from controller import render
from controller.cycle import AppCycle, Cycle
from controller.operations import Operation, OpKind
from controller.render import count as _count

MAX_ACCOUNTS = 20
"""Accounts listed per app (and per app's blocked list); the rest are counted."""
Quote = Callable[[str], str]


def code(text: str) -> str:
    """Inline code that survives backticks and table pipes in the text."""
    text = text.replace("|", "\\|")
    fence = "``" if "`" in text else "`"
    return f"{fence}{text}{fence}" if fence == "`" else f"{fence} {text} {fence}"


def _value(value: Any, quote: Quote) -> str:
    return "(none)" if value is None else quote(render.quoted(value))


def describe(operation: Operation, quote: Quote = code) -> str:
    """One operation on an account, as the words a reviewer reads; `quote` marks up names."""
    kind = operation.kind
    if kind in (OpKind.ADD_MEMBER, OpKind.REMOVE_MEMBER):
        verb = "add to" if kind is OpKind.ADD_MEMBER else "remove from"
        return f"{verb} group {quote(operation.group or '')}"
    text = kind.value.replace("_", " ")
    if kind is OpKind.CREATE:
        return text
    changes = [
        f"{quote(c.attribute)}: {_value(c.before, quote)} → {_value(c.after, quote)}"
        for c in operation.changes
    ]
    return f"{text} ({', '.join(changes)})" if changes else text


def _account(operation: Operation) -> str:
    if operation.kind is OpKind.CREATE_GROUP:
        return f"group {operation.group}"
    return operation.user_name or str(operation.account_id)


def affected(operations: Iterable[Operation]) -> dict[str, list[Operation]]:
    """Operations by the account (or new group) they touch, in plan order."""
    accounts: dict[str, list[Operation]] = {}
    for operation in operations:
        accounts.setdefault(_account(operation), []).append(operation)
    return accounts


ATTENTION = {OpKind.DELETE: 0, OpKind.SUSPEND: 1, OpKind.UPDATE: 2, OpKind.LINK: 2}
ATTENTION |= {OpKind.ACTIVATE: 2, OpKind.REMOVE_MEMBER: 3, OpKind.ADD_MEMBER: 4}
"""What a reviewer must see first when a list is capped: removals, then changes to existing
accounts, then new ones (creates, at 5, are the most numerous and the least surprising)."""


def by_attention(item: tuple[str, list[Operation]]) -> tuple[int, str]:
    name, operations = item
    return min(ATTENTION.get(op.kind, 5) for op in operations), name


def account_rows(operations: Iterable[Operation], *, limit: int = MAX_ACCOUNTS) -> list[str]:
    """`- account: what happens` lines, most consequential first, capped at `limit` with the
    total stated."""
    accounts = affected(operations)
    rows = [
        f"- {code(name)}: {'; '.join(describe(op) for op in ops)}"
        for name, ops in sorted(accounts.items(), key=by_attention)[:limit]
    ]
    if len(accounts) > limit:
        rows.append(f"- … and {len(accounts) - limit} more ({len(accounts)} accounts in all)")
    return rows


def _counts_table(cycle: Cycle) -> list[str]:
    counts = {app.app: Counter(op.kind for op in app.plan.operations) for app in cycle.apps}
    kinds = [kind for kind in OpKind if any(c[kind] for c in counts.values())]
    header = ["App", *(kind.value.replace("_", " ") for kind in kinds), "Blocked"]
    lines = [f"| {' | '.join(header)} |", f"|{'---|' * len(header)}"]
    for app in cycle.apps:
        if app.plan.error is not None:
            cells = ["withheld"] * (len(kinds) + 1)
        else:
            cells = [str(counts[app.app][kind]) for kind in kinds]
            cells.append(str(len(app.plan.blocked)))
        lines.append(f"| {app.app} | {' | '.join(cells)} |")
    return lines


def _app_section(app: AppCycle) -> list[str]:
    plan = app.plan
    if plan.error is not None:
        return [
            f"#### {app.app}: plan withheld",
            "",
            f"> **Could not be read:** {plan.error}. Nothing is planned for this app.",
            "",
        ]
    if plan.in_sync:
        return []
    accounts = len(affected(plan.operations))
    mode = " · observe-only: nothing is written" if app.observe_only else ""
    lines = [f"#### {app.app}: {_count(accounts, 'account')} affected{mode}", ""]
    lines += account_rows(plan.operations)
    if plan.blocked:
        lines += ["", f"**Blocked by a safety guard ({len(plan.blocked)}):** {plan.blocked_reason}"]
        lines += account_rows(plan.blocked)
    lines += [f"> **Conflict:** {conflict}" for conflict in plan.conflicts]
    lines += [f"> note: {note}" for note in plan.notes]
    lines.append("")
    return lines


def plan_markdown(cycle: Cycle) -> str:
    """The plan of `cycle` as one Markdown document."""
    read = cycle.source
    lines = [f"### provisioner plan · policy revision `{cycle.revision}`", ""]
    if read.ok:
        states = Counter(user.state for user in cycle.evaluation.users.values())
        detail = ", ".join(f"{n} {state}" for state, n in sorted(states.items()))
        lines.append(f"Source `{read.source}`: {len(read.users)} users read ({detail}).")
    else:
        lines.append(f"> **Source `{read.source}` could not be read:** {read.error}")
    for record in cycle.evaluation.quarantined:
        lines.append(f"> **Quarantined:** {record.who}: {record.message}")
    if not cycle.verdict.trusted:
        lines.append(f"> **Safety:** {cycle.verdict.reason}: nobody is deprovisioned.")
    lines += [f"> warning: {problem}" for problem in cycle.evaluation.problems]
    lines.append("")
    if cycle.in_sync:
        lines.append("**No changes:** every app is in sync with the policy.")
        return render.printable("\n".join(lines) + "\n")
    lines += [*_counts_table(cycle), ""]
    for app in cycle.apps:
        lines += _app_section(app)
    closing = render.closing_lines(cycle)
    if closing and closing[0].startswith(("Plan:", "No changes")):
        head, _, rest = closing[0].partition(": ")
        closing[0] = f"**{head}:** {rest}"
    lines += [f"{line}\n" for line in closing]
    return render.printable("\n".join(lines))
