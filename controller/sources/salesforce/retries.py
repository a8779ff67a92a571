"""How hard the Salesforce source tries a request that failed in passing, with stamina.

One policy serves the token request and every query page: network failures, 5xx, 429 and a
body that came cut short (so is not JSON) are tried again after a jittered, exponentially
growing wait (so a fleet of controllers does not retry in lock-step); an auth refusal, an API
error or REQUEST_LIMIT_EXCEEDED is final at once, and so is a TLS trust failure, which no
retry cures, and a body too large, badly encoded, or JSON too deep or too dense, which would
only be downloaded again to fail the same way. When the attempts run out the last failure is
raised and the read fails (the loop tries again next cycle). Tests that must not wait call
`stamina.set_testing(True, ...)` or pass a policy with zero waits.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import stamina
import stamina.instrumentation

from controller import http_bodies, tls
from controller.sources.salesforce.errors import (
    IncompleteQueryError,
    SalesforceError,
    TlsError,
    TransientSalesforceError,
)

stamina.instrumentation.set_on_retry_hooks([])
"""stamina's default hooks would log through structlog (to stdout in `plan`) and add a
Prometheus counter of its own; a retry shows in the request metrics and, when it runs out,
in the read's error."""


class UnreadableResponseError(TransientSalesforceError):
    """A 2xx whose body is cut short or not JSON: sent again, as a dropped connection is."""


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try a failing request before the read fails."""

    attempts: int = 4
    backoff_seconds: float = 0.5
    """The first wait; it doubles with each retry, up to `max_backoff_seconds`."""
    max_backoff_seconds: float = 8.0
    jitter_seconds: float = 0.5
    """Up to this much, at random, is added to each wait."""


def transient(error: Exception) -> bool:
    """Whether the same request may succeed if sent again."""
    if isinstance(error, http_bodies.BodyError):
        return False  # too large or badly encoded: the same body would come again
    if isinstance(error, httpx.RequestError):  # a body cut short in transit is one too
        return tls.failure(error) is None  # a certificate nobody trusts stays untrusted
    return isinstance(error, TransientSalesforceError)


def attempts(policy: RetryPolicy) -> AsyncIterator[stamina.Attempt]:
    """`async for attempt in attempts(policy): with attempt: ...` tries the block until it
    returns, raises a non-transient error, or runs out of attempts (the last error raised)."""
    return aiter(
        stamina.retry_context(
            on=transient,
            attempts=policy.attempts,
            timeout=None,  # the read's own deadline (readSeconds) bounds the whole
            wait_initial=policy.backoff_seconds,
            wait_max=policy.max_backoff_seconds,
            wait_jitter=policy.jitter_seconds,
        )
    )


def network_error(where: str, failure: Exception) -> SalesforceError:
    """The error for a request that got no usable response (no connection, cut, too large)."""
    said = tls.failure(failure)
    if said is not None:
        return TlsError(f"{where}: {said}")
    if isinstance(failure, http_bodies.BodyError):
        return IncompleteQueryError(f"{where}: {failure}")
    detail = f": {failure}" if str(failure) else ""
    return TransientSalesforceError(f"{where}: {type(failure).__name__}{detail}")
