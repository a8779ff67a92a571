"""PURE: the safety guards between a plan and its application (DESIGN.md section 6).

Two judgements, both data in and data out, so `plan` shows exactly what `apply` will hold:
`judge_source` decides whether a source read can be trusted to remove anyone (a failed read,
too many quarantined records, zero active users, or a sudden drop in active users cannot), and
`hold_deprovisions` holds an app's suspensions and deletions when there are more of them than
its policy allows in one run.
Every tool in this field grew such guards after an incident (reference/prior-art.md).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from controller.operations import Plan
from controller.policy.schema import SafetySpec

OVERRIDE = "provisioner apply --allow-deprovisions"
ALLOW_FLAG = "--allow-deprovisions"


@dataclass(frozen=True)
class Release:
    """An operator's one-time consent to deprovisions past the per-run limits (rule 4 only)."""

    by: str
    """How it is named in the plan and the journal: the flag, or an approval."""
    at_most: int | None = None
    """The batch reviewed: a larger one is held again. None: no bound (the flag)."""


FLAG_RELEASE = Release(ALLOW_FLAG)


@dataclass(frozen=True)
class SourceVerdict:
    trusted: bool
    reason: str | None = None
    """Why the read cannot be trusted to remove anyone; None when it can."""


def judge_source(
    *,
    error: str | None,
    active: int,
    last_good_active: int | None,
    max_drop_percent: float,
    accept_drop: bool = False,
    records: int = 0,
    quarantined: int = 0,
    max_quarantined_percent: float = 100.0,
) -> SourceVerdict:
    """Whether absence from this read may count as a reason to deprovision.

    `accept_drop` is the operator confirming a real mass departure (apply
    --allow-deprovisions); a failed read, an empty one, or one with more than
    `max_quarantined_percent` of its `records` quarantined is never accepted.
    """
    if error is not None:
        return SourceVerdict(False, f"the source read failed: {error}")
    share = quarantined * 100 / max(records, 1)
    if quarantined and share > max_quarantined_percent:
        return SourceVerdict(
            False,
            f"{quarantined} of {records} source records ({share:.1f}%) are quarantined, "
            f"more than maxQuarantinedPercent {max_quarantined_percent:g}%",
        )
    if active == 0:
        return SourceVerdict(False, "the source read returned zero active users")
    if last_good_active:
        drop = (last_good_active - active) * 100 / last_good_active
        if drop > max_drop_percent and not accept_drop:
            return SourceVerdict(
                False,
                f"active users dropped from {last_good_active} to {active} ({drop:.1f}%), "
                f"more than maxActiveDropPercent {max_drop_percent:g}%",
            )
    return SourceVerdict(True)


def deprovision_limit_exceeded(
    count: int, accounts: int, safety: SafetySpec, *, already: int = 0
) -> str | None:
    """The limit `count` deprovisions break in an app of `accounts` accounts, in words; with
    `already` applied by targeted cycles since the last full one, which count towards it."""
    total = count + already
    what = f"{total} deprovisions ({already} of them applied since the last full cycle)"
    if not already:
        what = f"{count} deprovisions"
    if total > safety.max_deprovisions_per_run:
        return f"{what} exceed maxDeprovisionsPerRun {safety.max_deprovisions_per_run}"
    percent = total * 100 / max(accounts, 1)
    if total >= safety.min_deprovisions_for_percent and percent > safety.max_deprovisions_percent:
        return (
            f"{what} of {accounts} accounts ({percent:.1f}%) exceed "
            f"maxDeprovisionsPercent {safety.max_deprovisions_percent:g}%"
        )
    return None


def hold_deprovisions(
    plan: Plan,
    *,
    accounts: int,
    safety: SafetySpec,
    release: Release | None = None,
    already: int = 0,
) -> Plan:
    """The plan with every suspend and delete held when there are too many for one run.

    `already` is what targeted cycles applied since the last full cycle: a run's limit is
    the same whether its leavers came in one full cycle or in several targeted ones.

    Creates, updates and memberships still proceed. `release` is the operator's one-time
    override (the flag, or an approval of at most so many); the plan then says it was used, and
    so does the reason of every deprovision it let through (journaled with it). An approval of
    fewer than are planned now releases nothing: the batch grew since it was reviewed.
    """
    destructive = [op for op in plan.operations if op.kind.destructive]
    reason = deprovision_limit_exceeded(len(destructive), accounts, safety, already=already)
    if reason is None:
        return plan
    if release is not None and release.at_most is not None and len(destructive) > release.at_most:
        reason = (
            f"{reason}; {release.by} covers at most {release.at_most}, fewer than are planned "
            "now: review the larger batch and approve again"
        )
    elif release is not None:
        allowed_by = release.by
        allowed = f"allowed once by {allowed_by}"
        operations = tuple(
            dataclasses.replace(op, reason=f"{op.reason}; {reason}, {allowed}")
            if op.kind.destructive
            else op
            for op in plan.operations
        )
        return dataclasses.replace(
            plan,
            operations=operations,
            notes=(*plan.notes, f"{reason}; {allowed}"),
            released_by=allowed_by,
        )
    kept = tuple(op for op in plan.operations if not op.kind.destructive)
    how = (
        f"review them, then allow them once: `provisioner approve --app {plan.app}` (a running "
        f"controller releases them in its next cycle), or `{OVERRIDE}` when none runs"
    )
    return dataclasses.replace(
        plan,
        operations=kept,
        blocked=(*plan.blocked, *destructive),
        blocked_reason=f"{reason}; {how}",
    )
