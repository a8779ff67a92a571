"""Just enough HTTP/1.1 for the fault proxy: whole messages as bytes, framed as sent.

The proxy must see where each request and response ends (to reset or cut a connection at a
chosen point) yet change nothing it passes on: heads are forwarded as they came, bodies as raw
bytes, chunked framing and gzip included. Only the framing is parsed: Content-Length, chunked,
or (for a response) until the server closes.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

HEAD_LIMIT = 64 * 1024
NO_BODY_STATUSES = frozenset({204, 304})
REASONS = {
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


class MalformedError(Exception):
    """A message the proxy cannot frame."""


@dataclass(frozen=True)
class Message:
    head: bytes
    """The start line and headers, through the blank line."""
    body: bytes
    """The body as framed on the wire (chunk sizes included when chunked)."""
    method: str
    """The request's method (for a response, the method it answers)."""
    closes: bool
    """The sender said `Connection: close`, or the body ran until the connection closed."""


def _headers(head: bytes) -> tuple[str, dict[str, str]]:
    start, *lines = head.decode("latin-1").split("\r\n")
    headers: dict[str, str] = {}
    for line in lines:
        if line:
            name, colon, value = line.partition(":")
            if not colon:
                raise MalformedError(f"a header line without a colon: {line[:80]!r}")
            headers[name.strip().lower()] = value.strip()
    return start, headers


async def _read_head(reader: asyncio.StreamReader) -> bytes | None:
    """The next head, or None if the peer closed cleanly before sending one."""
    try:
        return await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if not exc.partial:
            return None
        raise
    except asyncio.LimitOverrunError as exc:
        raise MalformedError("a head over the size limit") from exc


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    parts: list[bytes] = []
    while True:
        line = await reader.readuntil(b"\r\n")
        parts.append(line)
        try:
            size = int(line.split(b";", 1)[0].strip(), 16)
        except ValueError:
            raise MalformedError(f"a bad chunk size line: {line[:40]!r}") from None
        if size == 0:
            while (trailer := await reader.readuntil(b"\r\n")) != b"\r\n":
                parts.append(trailer)
            parts.append(trailer)
            return b"".join(parts)
        parts.append(await reader.readexactly(size + 2))


async def _read_body(
    reader: asyncio.StreamReader, headers: dict[str, str], *, until_close: bool
) -> tuple[bytes, bool]:
    """(body, whether it ran until the connection closed)."""
    if "chunked" in headers.get("transfer-encoding", "").lower():
        return await _read_chunked(reader), False
    if "content-length" in headers:
        try:
            length = int(headers["content-length"])
        except ValueError:
            raise MalformedError("a bad Content-Length") from None
        return await reader.readexactly(length), False
    if until_close:
        return await reader.read(), True
    return b"", False


def _closes(headers: dict[str, str]) -> bool:
    return "close" in headers.get("connection", "").lower()


async def read_request(reader: asyncio.StreamReader) -> Message | None:
    """The client's next request, whole; None when it closed the connection between requests."""
    head = await _read_head(reader)
    if head is None:
        return None
    start, headers = _headers(head)
    method = start.split(" ", 1)[0]
    body, _ = await _read_body(reader, headers, until_close=False)
    return Message(head, body, method, _closes(headers))


async def read_response(reader: asyncio.StreamReader, method: str) -> Message | None:
    """The server's response to a `method` request, whole; None if it closed before a byte."""
    while True:
        head = await _read_head(reader)
        if head is None:
            return None
        start, headers = _headers(head)
        try:
            status = int(start.split(" ", 2)[1])
        except (IndexError, ValueError):
            raise MalformedError(f"a bad status line: {start[:80]!r}") from None
        if 100 <= status < 200:
            continue  # 100 Continue and friends: the final response follows
        if method == "HEAD" or status in NO_BODY_STATUSES:
            return Message(head, b"", method, _closes(headers))
        body, until_close = await _read_body(reader, headers, until_close=True)
        return Message(head, body, method, until_close or _closes(headers))


def local_response(status: int, retry_after: str | None = None) -> bytes:
    """A response the proxy makes up, as a load balancer or a throttling gateway would."""
    body = f"fault injected: {status} {REASONS[status]}\n".encode()
    lines = [
        f"HTTP/1.1 {status} {REASONS[status]}",
        "Content-Type: text/plain; charset=utf-8",
        f"Content-Length: {len(body)}",
    ]
    if retry_after is not None:
        lines.append(f"Retry-After: {retry_after}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


class Upstream:
    """One kept-alive connection to the app, opened when needed and again when it was closed."""

    def __init__(self, host: str, port: int) -> None:
        self.address = (host, port)
        self._streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self._streams is not None and self._streams[0].at_eof():
            self.close()  # the app closed it while idle
        if self._streams is None:
            self._streams = await asyncio.open_connection(*self.address)
        return self._streams

    async def exchange(self, request: Message) -> Message:
        """Send `request`, return the response. A kept-alive connection that the app closed
        before answering a byte (an idle timeout) is replaced once: it never saw the request."""
        for fresh in (False, True):
            reader, writer = await self._open()
            try:
                writer.write(request.head + request.body)
                await writer.drain()
                response = await read_response(reader, request.method)
            except ConnectionError:  # reset, or a broken pipe: closed while idle
                response = None
            if response is None:
                self.close()
                if fresh:
                    raise ConnectionResetError("the app closed the connection without answering")
                continue
            if response.closes:
                self.close()
            return response
        raise AssertionError("unreachable: the fresh connection answers or raises")

    def close(self) -> None:
        if self._streams is not None:
            self._streams[1].close()
            self._streams = None
