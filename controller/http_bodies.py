"""Reading an untrusted HTTP response within a size bound, and its JSON within shape bounds.

Both the apps' reconcilers (`reconcilers.http.ApiSession`) and the Salesforce source read
bodies they cannot trust, so this lives in `controller`, which both may import. A body is
untrusted: a 2 MB gzip body can inflate to gigabytes, and JSON nested 100,000
deep makes Python's parser raise RecursionError rather than ValueError. httpx decodes a whole
raw chunk at once (64 KiB of gzip can be 64 MiB of output), so the body is read raw here and
inflated with zlib's `max_length` a slice at a time, never holding more than the bound. Every
refusal is a `BodyError` or `ValueError`, which `reconcilers.http.ApiSession` turns into the
app's own error (and the Salesforce client into a failed read).

Under the size cap, JSON can still be dense: 32 MiB of `{},` is 11 million objects, which
`json.loads` turns into ~770 MiB and a model then validates for minutes of synchronous code,
during which no deadline can fire. So containers are counted: while streaming (`read_body`),
and again before parsing (`parse_json`), for a body that came another way.
"""

from __future__ import annotations

import asyncio
import json
import zlib
from collections.abc import Iterator
from typing import Any

import httpx

MIB = 1024 * 1024
_SLICE = MIB
"""The most zlib inflates at once: its output buffer, not the body, sets the step's memory."""
_DROPPED_HEADERS = ("content-encoding", "content-length", "transfer-encoding")
MAX_JSON_CONTAINERS = 500_000
"""The most `{` and `[` bytes a body may hold before it is parsed.

Counted with `bytes.count` (C speed, a few ms for 32 MiB), which over-counts (brackets inside
strings count too) and so errs towards refusing. A real API page is far below it: 100 SCIM users
of ~20 containers each is 2,000; a Salesforce page of 2,000 records with subqueries ~20,000. At
the limit, json.loads costs ~35 MiB and validation well under a second. Not a per-app setting:
no honest response comes near it, and memory is bounded by it for every app alike.
"""


class BodyError(Exception):
    """The response body could not be taken whole and sound: too large, or badly encoded."""


class UnfitJsonError(ValueError):
    """JSON too dense or nested too deeply: the same body fails the same way (not retried)."""


class TooLargeError(BodyError):
    """The body (decompressed, or raw) is larger than the app's bound."""


class _Inflater:
    """Decodes one Content-Encoding with a cap on its output; identity passes through."""

    def __init__(self, encoding: str) -> None:
        coding = encoding.strip().lower()
        if coding in ("", "identity"):
            self._zlib = None
        elif coding in ("gzip", "x-gzip"):
            self._zlib = zlib.decompressobj(zlib.MAX_WBITS | 16)
        elif coding == "deflate":
            self._zlib = zlib.decompressobj()
        else:  # we only ever ask for gzip and deflate (ApiSession's Accept-Encoding)
            raise BodyError(f"unsupported Content-Encoding {encoding!r}")
        self._raw_deflate_tried = coding != "deflate"  # the fallback below is for deflate

    def feed(self, data: bytes, room: int) -> Iterator[bytes]:
        """Decoded `data` in slices of at most 1 MiB, stopping once more than `room` came."""
        if self._zlib is None:
            yield data
            return
        while data and room >= 0:
            try:
                piece = self._zlib.decompress(data, min(room + 1, _SLICE))
            except zlib.error as error:
                if self._raw_deflate_tried:
                    raise BodyError(f"the body is not valid compressed data: {error}") from None
                # Some servers send raw deflate without the zlib header (httpx tolerates it).
                self._raw_deflate_tried = True
                self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)
                continue
            self._raw_deflate_tried = True  # the stream's form is settled by its first bytes
            data = self._zlib.unconsumed_tail
            room -= len(piece)
            yield piece


class LateError(httpx.TimeoutException):
    """No complete response (headers and whole body) within the request's deadline."""


async def receive(
    http: httpx.AsyncClient,
    request: httpx.Request,
    *,
    deadline: float,
    max_bytes: int,
    setting: str = "limits.maxResponseMib",
) -> httpx.Response:
    """`request`'s whole response, decoded, within `deadline` seconds and `max_bytes`.

    `LateError` (an httpx.TimeoutException, so a transport error) past the deadline, however
    slowly the bytes come; `BodyError` for a body too large or badly encoded (`setting` names
    the bound in the message).
    """
    try:
        async with asyncio.timeout(deadline):
            answered = await http.send(request, stream=True)
            try:
                body = await read_body(answered, max_bytes, setting=setting)
            finally:
                await answered.aclose()
    except TimeoutError:
        raise LateError(f"no complete response within {deadline:g} s", request=request) from None
    except BodyError as error:  # without its traceback, which holds the body's frame
        raise error.with_traceback(None) from None
    return settled(answered, body)


async def read_body(
    response: httpx.Response, max_bytes: int, *, setting: str = "limits.maxResponseMib"
) -> bytes:
    """The decoded body of a streamed `response`; `TooLargeError` past `max_bytes`, or once
    it holds more than `MAX_JSON_CONTAINERS` `{` and `[` (a dense body stops at its first
    few MiB instead of costing twice the cap).

    Raw bytes count against the bound too, so bytes after the end of a compressed stream
    cannot pile up either.
    """
    if response.is_stream_consumed:  # an event hook read it already
        if len(response.content) > max_bytes:
            raise TooLargeError(_too_large(max_bytes, setting))
        return response.content
    inflater = _Inflater(response.headers.get("content-encoding", ""))
    parts: list[bytes] = []
    raw = decoded = containers = 0
    async for chunk in response.aiter_raw():
        raw += len(chunk)
        for piece in inflater.feed(chunk, max_bytes - decoded):
            decoded += len(piece)
            containers += _containers(piece)
            parts.append(piece)
            if containers > MAX_JSON_CONTAINERS:  # checked per slice: 32 KiB can hold millions
                parts.clear()
                raise TooLargeError(_too_dense(containers))
        if raw > max_bytes or decoded > max_bytes:
            parts.clear()  # not kept alive by the traceback while the request is retried
            raise TooLargeError(_too_large(max_bytes, setting))
    return b"".join(parts)


def _containers(data: bytes) -> int:
    """How many JSON objects and arrays `data` may open: an over-count (strings hold some)."""
    return data.count(b"{") + data.count(b"[")


def _too_dense(containers: int) -> str:
    return (
        f"the body holds {containers:,} JSON objects and arrays or more, past the"
        f" {MAX_JSON_CONTAINERS:,} any API response needs: too large to read"
    )


def _too_large(max_bytes: int, setting: str) -> str:
    return f"the body is larger than {max_bytes / MIB:g} MiB ({setting})"


def settled(response: httpx.Response, body: bytes) -> httpx.Response:
    """A complete, decoded copy of a streamed response, for code that reads `.content`."""
    headers = [(k, v) for k, v in response.headers.multi_items() if k not in _DROPPED_HEADERS]
    return httpx.Response(
        response.status_code,
        headers=headers,
        content=body,
        request=response.request,
        extensions=response.extensions,
    )


def parse_json(content: bytes) -> Any:
    """The JSON value of a body, None for an empty one; `ValueError` for anything else.

    Density is bounded by `MAX_JSON_CONTAINERS`, checked before parsing. Nesting is bounded
    by Python's recursion limit: deeper JSON raises RecursionError in the parser, which is
    reported here as the malformed body it is.
    """
    if not content.strip():
        return None
    containers = _containers(content)
    if containers > MAX_JSON_CONTAINERS:
        raise UnfitJsonError(_too_dense(containers))
    try:
        return json.loads(content)
    except RecursionError:
        raise UnfitJsonError("the body is JSON nested too deeply to be an API response") from None
    except ValueError as error:  # JSONDecodeError and UnicodeDecodeError alike
        raise ValueError(f"the body is not JSON: {error}") from None
