"""The Salesforce source's one way to send HTTP: each response whole, within a deadline and a size.

The source is what every deprovision is judged against, so a slow, huge or malformed answer must
end as a failed read (rule 1), never as a hung cycle or a controller out of memory. httpx alone
gives neither: its timeout restarts with every byte, and it inflates gzip without a cap. Each
request here is sent and its body read (`controller.http_bodies`, as the apps' are) inside one
deadline; the metrics hooks see the response once its body is in, or the failure. Each request
is counted (`sent`, and `calls.tally`) as it leaves, whatever its answer.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import httpx

from controller import http_bodies
from controller.sources.salesforce import calls

REQUEST_SECONDS = 60.0
"""One request's deadline, body included. A page of 2,000 users takes Salesforce a few
seconds; a minute is ample, and the read is retried (and the loop tries again next cycle)."""
MAX_RESPONSE_MIB = 64
"""The largest response body, decompressed. A page of 2,000 users with their permission sets
is a few MiB; Salesforce's own limit for a query response is far below this."""
SETTING = "the Salesforce source's bound"
ResponseHook = Callable[[httpx.Response], Awaitable[Any]]
ErrorHook = Callable[[Exception], object]


class BoundedHttp:
    """An httpx client whose every response is read whole and bounded before anyone sees it."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        on_response: Sequence[ResponseHook] = (),
        on_error: Sequence[ErrorHook] = (),
        deadline_seconds: float = REQUEST_SECONDS,
        max_bytes: int = MAX_RESPONSE_MIB * http_bodies.MIB,
    ) -> None:
        self.http = http
        self._on_response = tuple(on_response)
        self._on_error = tuple(on_error)
        self._deadline = deadline_seconds
        self._max_bytes = max_bytes
        self.sent = 0
        """Requests sent so far (token requests too), answered or not; it only grows."""

    async def aclose(self) -> None:
        await self.http.aclose()

    async def send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """The whole response; `httpx.RequestError` (a `LateError` past the deadline) or
        `http_bodies.BodyError` (too large, badly encoded) when there is none."""
        request = self.http.build_request(method, url, **kwargs)
        request.headers["Accept-Encoding"] = "gzip, deflate"  # what http_bodies decodes
        self.sent += 1
        calls.count_request()
        try:
            response = await http_bodies.receive(
                self.http,
                request,
                deadline=self._deadline,
                max_bytes=self._max_bytes,
                setting=SETTING,
            )
        except (httpx.RequestError, http_bodies.BodyError) as failure:
            told = failure
            if not isinstance(failure, httpx.RequestError):  # with its request, for the method
                told = httpx.DecodingError(str(failure), request=request)
            for on_error in self._on_error:
                on_error(told)
            raise
        for hook in self._on_response:
            await hook(response)
        return response
