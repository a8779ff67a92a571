"""The one way reconcilers send HTTP: auth, the app's throttle, retries, one write per object.

Every API family (SCIM, Slack, Atlassian, Zendesk) needs the same discipline, and it is easy to
get subtly wrong in several copies: retry only what cannot have acted twice, wait out the app's
Retry-After rather than our own guess, pause every request to an app that said 429 rather than
only the one that got it, never let the token into a message. `ApiSession` does that once; each
adapter brings its own `ErrorFor`, the single function that turns its vendor's failures into
`controller.errors`.

Every request also runs inside the app's bounds: one deadline for connecting, headers and the
whole body (httpx's timeout restarts with every byte, so a server dripping a byte a second never
trips it), and a cap on the body as decoded (`controller.http_bodies`). A body over the deadline,
over the cap, or not the JSON the adapter expects is retried like a dropped connection when the
request is idempotent, then reported as the app's error.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import httpx

from controller import errors, http_bodies, tls
from reconcilers.base import AppConnection
from reconcilers.throttle import Throttle

Sleep = Callable[[float], Awaitable[None]]
ErrorFor = Callable[[str, str, httpx.Response | Exception], errors.AppError]
"""(method, path, failed response or exception) -> the controller's error for it."""
T = TypeVar("T")
Parse = Callable[[Any], T]
"""The JSON body (None when empty) -> the adapter's value; ValueError for a wrong shape.

A TypeError, KeyError or AttributeError it lets slip is taken as a wrong shape too."""


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try before a failure is reported (the loop tries again next cycle)."""

    attempts: int = 3
    """Tries for a server error or a dropped connection."""
    max_wait_seconds: float = 10.0
    """Sleeping allowed across those retries; a longer Retry-After on a 5xx is reported."""
    backoff_seconds: float = 0.5
    """First delay when the server gives no Retry-After; doubles on each retry."""
    rate_limited_attempts: int = 10
    """Tries for a request the app answered 429: the app is up, it only wants us slower."""
    rate_limited_wait_seconds: float = 180.0
    """Waiting allowed across 429s for one request before it is reported."""
    longest_retry_after_seconds: float = 30.0
    """A longer Retry-After is reported at once: the next cycle is the better retry."""


def retry_after(response: httpx.Response) -> float | None:
    try:
        return max(0.0, float(response.headers["Retry-After"]))
    except (KeyError, ValueError):
        return None  # absent, or an HTTP date: fall back to our own backoff


def exception_error(method: str, path: str, failure: Exception, unreadable: str) -> errors.AppError:
    """The controller error for a request that got no usable response.

    A bad URL or a failed TLS handshake (named, with what to do) stalls the app, a network
    failure is transient, and anything else is a response
    we could not read (`unreadable` says how), which means the endpoint is not the API we think.
    """
    what = f"{method} {path}: {type(failure).__name__}"
    said = tls.failure(failure)
    if said is not None:  # a certificate nobody trusts stays untrusted: the app stalls
        return errors.StalledError(f"{method} {path}: {said}")
    if isinstance(failure, DeadlineExceeded):
        return errors.TransientError(f"{method} {path}: {failure}")
    if isinstance(failure, httpx.UnsupportedProtocol | httpx.InvalidURL):
        return errors.StalledError(f"{what}: the endpoint is not an http(s) URL")
    if isinstance(failure, httpx.TransportError):
        return errors.TransientError(f"{what}: {failure}" if str(failure) else what)
    return errors.StalledError(f"{what}: {unreadable}")


_BY_STATUS: dict[int, type[errors.AppError]] = {
    401: errors.StalledError,
    403: errors.StalledError,
    404: errors.NotFoundError,
    409: errors.ConflictError,
}


def status_error(
    message: str, response: httpx.Response, *, conflict: bool = False
) -> errors.AppError:
    """The controller error for a response with a failing status; every API family agrees.

    429 and 5xx are transient (with the app's Retry-After), 401 and 403 stall the app, 404 is
    not found, 409 (or a vendor's own way of saying a value is taken: `conflict`) is a
    conflict, another 4xx refuses this one request, and anything else (a redirect) means the
    endpoint is not the API we were given.
    """
    status = response.status_code
    if status == 429 or status >= 500:
        return errors.TransientError(message, status=status, retry_after=retry_after(response))
    if conflict:
        return errors.ConflictError(message, status=status)
    default = errors.BadRequestError if 400 <= status < 500 else errors.StalledError
    return _BY_STATUS.get(status, default)(message, status=status)


class DeadlineExceeded(httpx.TimeoutException):
    """No complete response (headers and whole body) within the request's deadline."""


def _unreadable(failure: httpx.Response | Exception) -> bool:
    """A response that came but could not be taken: over its bound, or malformed."""
    return isinstance(failure, http_bodies.BodyError | ValueError)


def _wrong_shape(error: Exception) -> str:
    """A parse function's TypeError, KeyError or AttributeError, said as what was missing."""
    if isinstance(error, KeyError):
        return f"no {error}"
    return str(error)


def _may_retry(method: str, failure: httpx.Response | Exception) -> bool:
    """A POST is retried only when the server cannot have acted on it, lest it create twice."""
    if method != "POST":
        return True
    if isinstance(failure, httpx.Response):
        return failure.status_code in (429, 503)
    return isinstance(failure, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)


def _scrub(error: errors.AppError, secret: str | None) -> errors.AppError:
    """Belt and braces: a server that echoes the token must not get it into a message."""
    if secret and secret in str(error):
        error.args = (str(error).replace(secret, "***"),)
    return error


class ApiSession:
    """Requests to one app over one httpx client, within its throttle, bounds and retry budget."""

    def __init__(
        self,
        connection: AppConnection,
        *,
        error_for: ErrorFor,
        headers: Mapping[str, str],
        retry: RetryPolicy | None = None,
        sleep: Sleep = asyncio.sleep,
        transport: httpx.AsyncBaseTransport | None = None,
        one_write_per_object: bool = False,
    ) -> None:
        all_headers = {"Accept-Encoding": "gzip, deflate", **headers}  # what `http_bodies` decodes
        if connection.token:
            all_headers["Authorization"] = f"Bearer {connection.token}"
        hooks = connection.event_hooks or {}
        self.http = httpx.AsyncClient(
            base_url=connection.endpoint.rstrip("/"),
            headers=all_headers,
            timeout=httpx.Timeout(connection.timeout_seconds),
            verify=tls.context(connection.ca_file),  # the loader checked the file
            transport=transport,
            event_hooks={"request": list(hooks.get("request", ())), "response": []},
        )
        self._on_response = list(hooks.get("response", ()))
        """Called with each response once its body is read within bounds (metrics)."""
        self._on_error = list(hooks.get("error", ()))
        """Called with each exception that left a request without a response (metrics)."""
        self._error_for = error_for
        self._token = connection.token
        self._deadline = connection.deadline_seconds
        self._max_bytes = connection.max_response_bytes
        self._limit = asyncio.Semaphore(connection.concurrency)
        self.throttle = connection.throttle or Throttle(None, sleep=sleep)
        self._retry = retry or RetryPolicy()
        self._sleep = sleep
        self._one_write_per_object = one_write_per_object
        self._object_locks: dict[str, asyncio.Lock] = {}
        self._lock_users: collections.Counter[str] = collections.Counter()

    async def aclose(self) -> None:
        await self.http.aclose()

    def error(self, method: str, path: str, failure: httpx.Response | Exception) -> errors.AppError:
        return _scrub(self._error_for(method, path, failure), self._token)

    async def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Send one request; retry what the retry policy allows; raise `controller.errors`."""
        response, _ = await self._one_request(method, path, None, kwargs)
        return response

    async def fetch(self, method: str, path: str, parse: Parse[T], **kwargs: Any) -> T:
        """Send one request and return `parse` of its JSON body (None when empty).

        A body that is not JSON, or that `parse` refuses, is a malformed response: retried
        when the request is idempotent, then raised as the app's error (via `ErrorFor`).
        """
        _, parsed = await self._one_request(method, path, parse, kwargs)
        return cast(T, parsed)

    async def _one_request(
        self, method: str, path: str, parse: Parse[Any] | None, kwargs: dict[str, Any]
    ) -> tuple[httpx.Response, Any]:
        write = method != "GET"
        if write and method != "POST" and self._one_write_per_object:
            async with self._one_at_a_time(path):  # PUT, PATCH, DELETE name one object
                return await self._request(method, path, write=write, parse=parse, **kwargs)
        return await self._request(method, path, write=write, parse=parse, **kwargs)

    @contextlib.asynccontextmanager
    async def _one_at_a_time(self, key: str) -> AsyncIterator[None]:
        """Hold `key`'s lock; the lock is dropped when nobody holds or waits for it, so a
        long-running controller does not keep one for every object it ever wrote."""
        lock = self._object_locks.setdefault(key, asyncio.Lock())
        self._lock_users[key] += 1
        try:
            async with lock:
                yield
        finally:
            self._lock_users[key] -= 1
            if not self._lock_users[key]:
                del self._lock_users[key]
                del self._object_locks[key]

    async def _attempt(
        self, method: str, path: str, kwargs: dict[str, Any]
    ) -> httpx.Response | Exception:
        """One try: the whole response within the deadline and size bound, or what failed."""
        answered: httpx.Response | None = None
        try:
            request = self.http.build_request(method, path, **kwargs)
        except httpx.InvalidURL as exc:
            return await self._failed(exc, None)
        except UnicodeEncodeError:  # a lone surrogate in a value: no URL or body can carry it
            raise errors.BadRequestError(
                f"{method} {path}: a value holds text that cannot be sent (a lone surrogate"
                " code point); correct it at its source"
            ) from None
        try:
            async with asyncio.timeout(self._deadline):
                answered = await self.http.send(request, stream=True)
                try:
                    body = await http_bodies.read_body(answered, self._max_bytes)
                finally:
                    await answered.aclose()
        except TimeoutError:
            late = DeadlineExceeded(
                f"no complete response within {self._deadline:g} s (limits.requestSeconds)",
                request=request,
            )
            return await self._failed(late, answered)
        except (httpx.RequestError, httpx.InvalidURL) as exc:
            return await self._failed(exc, answered)
        except http_bodies.BodyError as exc:  # without its traceback, which holds the body's frame
            return await self._failed(exc.with_traceback(None), answered)
        response = http_bodies.settled(answered, body)
        for hook in self._on_response:
            await hook(response)
        return response

    async def _failed(self, failure: Exception, answered: httpx.Response | None) -> Exception:
        """Tell the error hooks of a failed try, even when its headers came: a 200 whose body
        never came whole (late, too large, cut short) is a failed request, not a 200."""
        told = failure
        if answered is not None and not isinstance(failure, httpx.RequestError):
            told = httpx.DecodingError(str(failure), request=answered.request)  # with its method
        for on_error in self._on_error:
            on_error(told)
        return failure

    async def _request(
        self, method: str, path: str, *, write: bool, parse: Parse[Any] | None, **kwargs: Any
    ) -> tuple[httpx.Response, Any]:
        failed = rate_limited = 0
        waited = rate_waited = 0.0
        while True:
            await self.throttle.wait_turn(write=write)
            async with self._limit:
                failure = await self._attempt(method, path, kwargs)
            if isinstance(failure, httpx.Response) and failure.is_success:
                if parse is None:
                    return failure, None
                try:
                    return failure, parse(http_bodies.parse_json(failure.content))
                except ValueError as exc:  # JSON, pydantic and adapter shape errors alike
                    failure = exc.with_traceback(None)  # whose frames hold the body
                except RecursionError:
                    failure = ValueError("the body is nested too deeply to read")
                except (TypeError, KeyError, AttributeError) as exc:  # a shape `parse` missed
                    failure = ValueError(f"the body has the wrong shape: {_wrong_shape(exc)}")
            error = self.error(method, path, failure)
            transient = isinstance(error, errors.TransientError)
            if not (transient or _unreadable(failure)) or not _may_retry(method, failure):
                raise error
            retry_after = error.retry_after if isinstance(error, errors.TransientError) else None
            if error.status == 429:
                rate_limited += 1
                delay = retry_after if retry_after is not None else 1.0
                rate_waited += delay
                if (
                    rate_limited >= self._retry.rate_limited_attempts
                    or rate_waited > self._retry.rate_limited_wait_seconds
                    or delay > self._retry.longest_retry_after_seconds
                ):
                    raise error
                self.throttle.back_off(delay)  # every request to this app waits it out
                continue
            failed += 1
            backoff = self._retry.backoff_seconds * 2 ** (failed - 1)
            pause = retry_after if retry_after is not None else backoff
            if failed >= self._retry.attempts or waited + pause > self._retry.max_wait_seconds:
                raise error
            waited += pause
            if retry_after is not None:
                self.throttle.back_off(pause)
            else:
                await self._sleep(pause)
