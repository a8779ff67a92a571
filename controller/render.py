"""How plans and their outcomes read to a person (text) and to a program (JSON).

Pure formatting: no I/O. The text form follows Terraform's plan shape (`+` create, `~` change,
`-` removal) because that is what platform teams already review; the JSON form is stable for CI
comments and scripts.

Names are shown as written (`José Müller`, `😀`), but text for a terminal passes `printable`: a
name from an app must not be able to move the cursor, recolour the screen or reorder the line
(control characters, ANSI escapes, bidirectional overrides), so those are written as `\\uXXXX`.
The JSON form escapes everything but ASCII, as before: valid, and safe wherever it is shown.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Sequence
from typing import Any

from controller.cycle import CHANGES, IN_SYNC, REMOVALS_WITHHELD, AppCycle, Cycle
from controller.executor import ApplyReport, Outcome
from controller.operations import Operation, OpKind, Plan

SYMBOL = {
    OpKind.CREATE_GROUP: "+",
    OpKind.CREATE: "+",
    OpKind.LINK: "~",
    OpKind.UPDATE: "~",
    OpKind.ACTIVATE: "+",
    OpKind.ADD_MEMBER: "+",
    OpKind.REMOVE_MEMBER: "-",
    OpKind.SUSPEND: "-",
    OpKind.DELETE: "-",
}


def count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


_UNPRINTABLE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
"""What a terminal acts on rather than shows: C0 (but newline) and C1 controls with DEL, ESC
among them; bidirectional embeddings, overrides and isolates; and lone surrogates, which no
output encoding can write."""


def printable(text: str) -> str:
    """`text` as written, but for `_UNPRINTABLE` characters, each written as `\\uXXXX`."""
    return _UNPRINTABLE.sub(lambda found: f"\\u{ord(found.group()):04x}", text)


def quoted(value: Any) -> str:
    """A value in double quotes, JSON-escaped but for non-ASCII letters, shown as written."""
    return printable(json.dumps(value, ensure_ascii=False, default=str))


def _value(value: Any) -> str:
    return "(none)" if value is None else quoted(value)


def operation_line(operation: Operation) -> str:
    line = f"  {SYMBOL[operation.kind]} {operation.kind.value:<13} {operation.subject}"
    return f"{line}  ({operation.reason})" if operation.reason else line


def _operation_lines(operation: Operation) -> list[str]:
    lines = [operation_line(operation)]
    for change in operation.changes:
        if operation.kind is OpKind.CREATE:
            lines.append(f"        {change.attribute}: {_value(change.after)}")
        else:
            lines.append(
                f"        {change.attribute}: {_value(change.before)} -> {_value(change.after)}"
            )
    return lines


def summary(plan: Plan) -> str:
    counts = Counter(operation.kind.value for operation in plan.operations)
    done = ", ".join(f"{count} {kind}" for kind, count in counts.items())
    if plan.conflicts:  # never "in sync" while a group or a user is held twice
        return ", ".join(filter(None, (done, conflicts_said(plan.conflicts))))
    return done or "in sync"


def conflicts_said(conflicts: Sequence[str]) -> str:
    """`1 group conflict, 2 account conflicts`: groups held twice under one name, and users
    whose externalId several accounts carry (`plan.account_conflict`)."""
    groups = sum(1 for conflict in conflicts if conflict.startswith("group "))
    accounts = len(conflicts) - groups
    said = (
        count(groups, "group conflict") if groups else "",
        count(accounts, "account conflict") if accounts else "",
    )
    return ", ".join(filter(None, said))


def quarantine_lines(cycle: Cycle) -> list[str]:
    """One line per quarantined record, naming the user and (in its message) the field."""
    held = cycle.evaluation.quarantined
    if not held:
        return []
    lines = [
        f"QUARANTINED {count(len(held), 'source record')}: nothing of those users is created, "
        "changed or deprovisioned in any app until their record is fixed in the source."
    ]
    lines += [f"  ! {record.who}: {record.message}" for record in held]
    return lines


def source_line(cycle: Cycle) -> str | None:
    """What a failed or untrusted source read withholds, or None when the read is complete."""
    if cycle.source_complete:
        return None
    read = cycle.source
    what = "could not be read" if not read.ok else "cannot be trusted"
    return (
        f"Source {read.source} {what}: removals are withheld in every app, orphans are not "
        "reported, and no app is reported in sync."
    )


UNOBSERVED = "could not observe the app: "
"""How the planner's error for an unobserved app begins; the closing line names the app already."""


def _short(error: str, limit: int = 120) -> str:
    return error if len(error) <= limit else f"{error[: limit - 1]}…"


def withheld_line(cycle: Cycle, *, applied: bool = False) -> str | None:
    """How many apps could not be planned, and why; None when every app was observed."""
    withheld = cycle.withheld
    if not withheld:
        return None
    reasons = ((app.app, (app.plan.error or "").removeprefix(UNOBSERVED)) for app in withheld)
    apps = ", ".join(f"{name} ({_short(reason)})" for name, reason in reasons)
    changed = "nothing was changed there" if applied else "nothing would be changed there"
    return (
        f"{len(withheld)} of {count(len(cycle.apps), 'app')} could not be planned: "
        f"{printable(apps)}; {changed}."
    )


def quarantined_line(cycle: Cycle) -> str | None:
    """That quarantined records keep their users unreconciled; None when there are none."""
    held = len(cycle.evaluation.quarantined)
    if not held:
        return None
    are = "is" if held == 1 else "are"
    return (
        f"{count(held, 'source record')} {are} quarantined: their users are not reconciled "
        "until fixed (listed above)."
    )


def closing_lines(cycle: Cycle) -> list[str]:
    """The end of a plan: what it would do, and everything it could not plan. It says "every
    app is in sync" only when the source was read and trusted, no record is quarantined, and
    every app was read and needs nothing."""
    if cycle.in_sync:
        return ["No changes: every app is in sync with the policy."]
    lines = []
    total = sum(len(app.plan.operations) for app in cycle.apps)
    held = sum(len(app.plan.blocked) for app in cycle.apps)
    conflicts = [conflict for app in cycle.apps for conflict in app.plan.conflicts]
    if total or held or conflicts:
        changing = sum(1 for app in cycle.apps if cycle.status(app) == CHANGES)
        line = f"Plan: {count(total, 'operation')} in {count(changing, 'app')}"
        line = f"{line}, {held} blocked by safety guards" if held else line
        if conflicts:
            line += f", {conflicts_said(conflicts)} for a person to resolve in the app"
        lines.append(f"{line}.")
    else:
        in_sync = [app.app for app in cycle.apps if cycle.status(app) == IN_SYNC]
        if in_sync and cycle.evaluation.quarantined:
            apps = ", ".join(in_sync)
            lines.append(f"No changes in {apps}: nothing to do for the users read whole.")
        elif in_sync:
            lines.append(f"No changes in {', '.join(in_sync)}: in sync with the policy.")
    ends = (withheld_line(cycle), source_line(cycle), quarantined_line(cycle))
    return lines + [line for line in ends if line]


def _app_lines(cycle: Cycle, app: AppCycle) -> list[str]:
    plan = app.plan
    if plan.error is not None:
        return [f"{app.app}: ERROR: {plan.error}", "  plan withheld: nothing is planned here"]
    mode = "  (observe-only: nothing is written)" if app.observe_only else ""
    status = cycle.status(app)
    if status == REMOVALS_WITHHELD:
        head = "nothing to create or change; removals withheld (source read incomplete)"
    elif status == CHANGES and not plan.operations and plan.blocked:
        head = f"nothing to apply; {len(plan.blocked)} held (below)"
    else:
        head = summary(plan)
    lines = [f"{app.app}: {head}{mode}"]
    for operation in plan.operations:
        lines.extend(_operation_lines(operation))
    if plan.blocked:
        lines.append(f"  BLOCKED {len(plan.blocked)}: {plan.blocked_reason}")
        lines.extend(f"  !{operation_line(op)[3:]}" for op in plan.blocked)
    lines.extend(f"  CONFLICT {conflict}" for conflict in plan.conflicts)
    drift = ", ".join(f"{kind.value} {n}" for kind, n in cycle.drift(app).items() if n)
    if drift:
        lines.append(f"  drift: {drift}")
    for orphan in cycle.orphans(app):
        state = "active" if orphan.active else "inactive"
        lines.append(f"  ? orphan        {orphan.user_name} ({state}; reported, not touched)")
    lines.extend(f"  note: {note}" for note in plan.notes)
    return lines


def plan_text(cycle: Cycle) -> str:
    states = Counter(state.state for state in cycle.evaluation.users.values())
    read = cycle.source
    if read.ok:
        head = f"Source {read.source}: {len(read.users)} users read"
        head += f" ({', '.join(f'{n} {state}' for state, n in sorted(states.items()))})"
    else:
        head = f"Source {read.source}: READ FAILED: {read.error}"
    lines = [f"{head}. Policy revision {cycle.revision}."]
    lines += quarantine_lines(cycle)
    if not cycle.verdict.trusted:
        lines.append(f"SAFETY: {cycle.verdict.reason}: nobody is deprovisioned this cycle.")
    lines.append("")
    lines += [f"warning: {problem}" for problem in cycle.evaluation.problems]
    for app in cycle.apps:
        lines += [*_app_lines(cycle, app), ""]
    return printable("\n".join(lines + closing_lines(cycle)))


def operation_json(operation: Operation) -> dict[str, Any]:
    return {
        "kind": operation.kind.value,
        "userName": operation.user_name,
        "sourceId": operation.source_id,
        "accountId": operation.account_id,
        "group": operation.group,
        "changes": [
            {"attribute": c.attribute, "before": c.before, "after": c.after}
            for c in operation.changes
        ],
        "reason": operation.reason,
    }


def plan_json(cycle: Cycle) -> str:
    document = {
        "revision": cycle.revision,
        "source": {
            "name": cycle.source.source,
            "users": len(cycle.source.users),
            "error": cycle.source.error,
            "quarantined": [
                {
                    "sourceId": record.source_id,
                    "username": record.username,
                    "where": record.where,
                    "field": record.field,
                    "error": record.message,
                }
                for record in cycle.evaluation.quarantined
            ],
        },
        "problems": list(cycle.evaluation.problems),
        "inSync": cycle.in_sync,
        "sourceTrusted": cycle.verdict.trusted,
        "sourceVerdict": cycle.verdict.reason,
        "sourceComplete": cycle.source_complete,
        "removalsWithheld": not cycle.source_complete,
        "withheld": [{"app": app.app, "error": app.plan.error} for app in cycle.withheld],
        "apps": [
            {
                "app": app.app,
                "status": cycle.status(app),
                "error": app.plan.error,
                "operations": [operation_json(op) for op in app.plan.operations],
                "drift": {kind.value: n for kind, n in cycle.drift(app).items()},
                "orphansReported": cycle.source_complete and app.plan.error is None,
                "orphans": [
                    {"accountId": o.account_id, "userName": o.user_name, "active": o.active}
                    for o in cycle.orphans(app)
                ],
                "notes": list(app.plan.notes),
                "conflicts": list(app.plan.conflicts),
                "blocked": [operation_json(op) for op in app.plan.blocked],
                "blockedReason": app.plan.blocked_reason,
                "observeOnly": app.observe_only,
            }
            for app in cycle.apps
        ],
    }
    return json.dumps(document, indent=2, default=str)


def outcome_line(outcome: Outcome) -> str:
    mark = {"success": "ok", "error": "FAILED", "skipped": "skipped"}[outcome.result]
    line = f"{operation_line(outcome.operation)}  [{mark}]"
    return printable(f"{line} {outcome.detail}" if outcome.detail else line)


def report_summary(report: ApplyReport) -> str:
    return (
        f"{report.app}: {report.count('success')} succeeded, {report.count('error')} failed, "
        f"{report.count('skipped')} skipped"
    )
