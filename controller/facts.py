"""PURE: what one applied cycle teaches later cycles: the trusted source size, suspension times.

Two facts cannot be observed again later. The number of active users at the last trusted read
lets the guard notice a sudden drop; when an account was first seen suspended decides when its
grace period ends (delete after `deleteAfter`, never on first sight). `learned` works out what
a cycle changed in them; the journal keeps them (written in the same transaction as the cycle's
end), and without a journal the engine keeps them in memory for the process. Only runs that
change things learn (`apply`, the controller), never `plan`.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping

from controller import executor
from controller.cycle import AppCycle, Cycle
from controller.journal import Facts
from controller.operations import OpKind


def learned(
    known: Facts, cycle: Cycle, applied: Iterable[AppCycle], *, source: str, now: datetime.datetime
) -> Facts:
    """The facts `cycle` replaces: its source's size when trusted, and every app's suspensions."""
    # A targeted cycle read a few users: their count says nothing of the source's size.
    trusted = (
        {source: cycle.evaluation.active_users}
        if cycle.verdict.trusted and cycle.scope is None
        else {}
    )
    return Facts(
        trusted,
        {app.app: suspensions(known.suspended_since.get(app.app, {}), app, now) for app in applied},
    )


def suspensions(
    known: Mapping[str, datetime.datetime], app: AppCycle, now: datetime.datetime
) -> dict[str, datetime.datetime]:
    """When each of the app's managed accounts has been suspended since, after this cycle.

    The clock starts when an account is first seen suspended, or when we suspend it; it stops
    when the account is seen active or gone, or we reactivate or delete it. An observation that
    failed, or an app that could not be planned, changes nothing it did not do itself.
    """
    since: dict[str, datetime.datetime] = dict(known)
    observed = app.observed
    if observed.ok and app.plan.error is None:
        # Forget only what was seen active or gone: an account that is merely not managed
        # this cycle (its user's record quarantined) keeps the time its grace period began.
        inactive: set[str] = {a.id for a in observed.accounts if not a.active}
        for seen in (inactive & app.managed) - since.keys():
            since[seen] = now
        gone = since.keys() - inactive
        if observed.scope is not None:  # a targeted look saw only the changed users' accounts
            gone &= {a.id for a in observed.accounts}
        for forgotten in gone:
            del since[forgotten]
    for outcome in app.report.outcomes if app.report else ():
        account: str | None = outcome.operation.account_id
        if outcome.result != executor.SUCCESS or account is None:
            continue
        if outcome.operation.kind is OpKind.SUSPEND:
            since[account] = now
        elif outcome.operation.kind in (OpKind.DELETE, OpKind.ACTIVATE):
            since.pop(account, None)
    return since
