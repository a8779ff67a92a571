"""One app's accounts of the changed users, found with the app's own filters (issue 16).

A targeted cycle must not list the app: that is what made a leaver wait for the size of the
org. Each account is looked up by the changed user's Id (the externalId the controller writes),
and only for an active user with no linked account by the names `match` may adopt by. An app
whose reconciler offers no lookup, or says it cannot look up faithfully by an attribute, is
listed whole and the listing restricted to the same accounts, so a targeted cycle's plan never
depends on which way its accounts were found. Each app inside its own deadline, as in `alone`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from controller import alone, errors, targeted
from controller.model import AppName, DesiredApp, ObservedAccount, ObservedApp, SourceUserId
from reconcilers.base import AppReconciler


@dataclass(frozen=True)
class Found:
    observed: ObservedApp
    """The accounts that may be the changed users', with `scope` set; or the app's error."""
    listed: int | None = None
    """How many accounts the app holds, when it had to be listed whole."""
    why_listed: str | None = None
    """Why the app was listed whole instead of looked up; None when it was looked up."""


async def look_up(
    name: AppName,
    reconciler: AppReconciler,
    want: DesiredApp,
    *,
    match: Sequence[str],
    scope: frozenset[SourceUserId],
    remembered: targeted.AppBaseline | None,
    seconds: float,
) -> Found:
    """The changed users' accounts in one app, within `seconds` (limits.observeSeconds).

    `want` holds their desired accounts as the app shapes them. Groups are `remembered`'s (the
    last full listing and what was applied since); without one the app is listed whole."""
    deadline = asyncio.timeout(seconds)
    try:
        async with deadline:
            if remembered is None:
                return await _listed(name, reconciler, want, match, scope, "no full listing yet")
            try:
                accounts = await _accounts(reconciler, want, match, scope)
            except errors.LookupUnsupportedError as error:
                return await _listed(name, reconciler, want, match, scope, str(error))
            observed = ObservedApp(name, accounts, remembered.groups, scope=scope)
            return Found(observed)
    except Exception as error:  # one app's fault stays that app's
        why = (
            f"not looked up within {seconds:g} s (limits.observeSeconds)"
            if deadline.expired()
            else f"looking up the changed users failed: {alone.unexpected(error)}"
        )
        return Found(ObservedApp(name, (), (), error=why, scope=scope))


async def _accounts(
    reconciler: AppReconciler,
    want: DesiredApp,
    match: Sequence[str],
    scope: frozenset[SourceUserId],
) -> tuple[ObservedAccount, ...]:
    find = getattr(reconciler, "accounts_where", None)
    if find is None:
        raise errors.LookupUnsupportedError("its reconciler has no lookup")
    by_id = await asyncio.gather(*(find(targeted.EXTERNAL_ID, user) for user in sorted(scope)))
    accounts = [account for found in by_id for account in found]
    linked = {account.external_id for account in accounts if account.external_id}
    names = targeted.names_to_look_up(want, match, linked)
    by_name = await asyncio.gather(*(find(attribute, value) for attribute, value in names))
    accounts += [account for found in by_name for account in found]
    return targeted.belonging(accounts, scope, (value for _, value in names))


async def _listed(  # noqa: PLR0917 - one private call site per reason
    name: AppName,
    reconciler: AppReconciler,
    want: DesiredApp,
    match: Sequence[str],
    scope: frozenset[SourceUserId],
    why: str,
) -> Found:
    """The app listed whole, restricted to what a lookup would have found."""
    seen = await reconciler.observe()
    if not seen.ok:
        return Found(ObservedApp(name, (), (), error=seen.error, scope=scope))
    linked = {a.external_id for a in seen.accounts if a.external_id and a.external_id in scope}
    names = targeted.names_to_look_up(want, match, linked)
    accounts = targeted.belonging(seen.accounts, scope, (value for _, value in names))
    observed = ObservedApp(name, accounts, seen.groups, scope=scope)
    return Found(observed, listed=len(seen.accounts), why_listed=why)
