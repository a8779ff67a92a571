"""The seam between the controller and one connected app.

A reconciler observes an app (lists every account and group, page by page) and applies one
operation at a time. It maps the app's wire format to `controller.model` values and its failures
to `controller.errors`; it holds no policy and makes no decisions. New API families (Slack, Jira,
Zendesk) plug in here by registering a factory in `reconcilers.REGISTRY`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from controller.model import USER_NAME, AppName, DesiredApp, ObservedAccount, ObservedApp
from controller.operations import Applied, Operation
from reconcilers.throttle import Throttle, WriteRate


@dataclass(frozen=True)
class AppConnection:
    """How to reach one app: everything a reconciler needs from policy and the environment."""

    app: AppName
    endpoint: str
    token: str | None = None
    """The bearer token, read from the environment variable policy names; never logged."""
    timeout_seconds: float = 30.0
    """httpx's timeout: for connecting, and between any two reads of the response."""
    deadline_seconds: float = 60.0
    """One request's whole time: connecting, the headers and the whole body, however dripped."""
    max_response_bytes: int = 32 * 1024 * 1024
    """The largest body accepted, counted as decoded (a gzip body inflates) and as sent."""
    max_pages: int = 1000
    """The most pages one listing may take, whatever the app says its total is."""
    concurrency: int = 8
    """How many requests this reconciler may have in flight at once."""
    page_size: int = 100
    event_hooks: Mapping[str, list[Callable[..., Any]]] | None = None
    """httpx event hooks, e.g. the metrics Recorder's request counting; None for none."""
    throttle: Throttle | None = None
    """The app's one rate limiter, shared by every request to it; None for an unthrottled one."""
    ca_file: str | None = None
    """A PEM file of CA certificates trusted besides the default ones (policy's caFile)."""


class AppReconciler(Protocol):
    """One connected app, seen through its API."""

    app: AppName

    async def observe(self) -> ObservedApp:
        """List every account and group; a failure is reported in `ObservedApp.error`."""
        ...

    async def apply(self, operation: Operation) -> Applied:
        """Carry out one operation, or raise one of `controller.errors`."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


EXTERNAL_ID = "externalId"
EMAIL = "emails.work"
LOOKUP_ATTRIBUTES = (EXTERNAL_ID, USER_NAME, EMAIL)
"""What a targeted cycle looks accounts up by: the source user Id the controller writes as the
account's externalId, and the two names `match` may adopt an unlinked account by."""


class AccountLookup(Protocol):
    """An app that can find one person's accounts without listing every account (issue 16).

    A reconciler offers this when its API has a documented filter or search; a targeted cycle
    then reads and writes only the changed users' accounts. One that does not, or raises
    `controller.errors.LookupUnsupportedError`, is listed whole and the result restricted.
    """

    async def accounts_where(self, attribute: str, value: str) -> tuple[ObservedAccount, ...]:
        """Every account whose `attribute` (one of LOOKUP_ATTRIBUTES) equals `value`, mapped
        exactly as `observe` maps it: externalId compared as the app compares it, userName and
        emails.work ignoring case. None found is an empty tuple, never an error. Raises
        `LookupUnsupportedError` when the app cannot filter faithfully by `attribute`, and
        another `controller.errors.AppError` when the request fails."""
        ...


def account_matches(account: ObservedAccount, attribute: str, value: str) -> bool:
    """PURE: whether `account` answers to `value` as `AccountLookup.accounts_where` means it.

    Every lookup filters what its app returned through this, so a looser server (a filter
    that ignores case, a search that matches in part) never widens the result.
    """
    if attribute == EXTERNAL_ID:
        return bool(value) and account.external_id == value
    if attribute == USER_NAME:
        return account.user_name.casefold() == value.casefold()
    email = account.attributes.get(check_lookup(attribute))
    return bool(email) and str(email).casefold() == value.casefold()


def check_lookup(attribute: str) -> str:
    """`attribute`, when accounts are looked up by it; a ValueError (a caller's bug) if not."""
    if attribute not in LOOKUP_ATTRIBUTES:
        raise ValueError(f"accounts are looked up by {', '.join(LOOKUP_ATTRIBUTES)}: {attribute!r}")
    return attribute


ReconcilerFactory = Callable[[AppConnection], AppReconciler]


Shaping = Callable[[DesiredApp], tuple[DesiredApp, tuple[str, ...]]]
"""PURE: desired accounts rewritten to the app's own rules (Slack's userName), with notes on
what had to change, so the plan compares like with like and says why."""


@dataclass(frozen=True)
class ReconcilerKind:
    """One API family: how to build its reconciler, and what its apps can and must hold.

    The attribute sets are static so that `provisioner validate` can reject a policy the app
    cannot honour without connecting to anything.
    """

    factory: ReconcilerFactory
    supported_attributes: frozenset[str]
    required_attributes: frozenset[str] = frozenset({USER_NAME})
    write_rate: WriteRate | None = None
    """The vendor's documented write limit, used when policy sets no `rateLimit`."""
    max_page_size: int = 1000
    """The most the API serves per page; a larger `pageSize` in policy is lowered to it."""
    shape: Shaping | None = None
    can_delete: bool = True
    """False where the API's DELETE only deactivates (Slack, Atlassian): policy may not ask."""
    batches_members: bool = False
    """The reconciler coalesces concurrent membership changes of a group into one request
    (`reconcilers.members`), so the executor lets them all wait for it at once."""


Registry = Mapping[str, ReconcilerKind]
