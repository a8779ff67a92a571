"""A hostile app on 127.0.0.1: one raw asyncio server that misbehaves as its `mode` says.

It answers both SCIM (`/scim/v2/...`) and Zendesk (`/api/v2/...`) paths, so one policy can
point a `scim` app and a `zendesk` app at it and every mode hits both vendors at once. A raw
server, not ASGI, because the misbehaviour lives below HTTP frameworks: a body dripped a byte
at a time, a body that never ends, a Content-Length that is never met.

Modes:
- `drip`: a promised megabyte, one byte every half second.
- `never-ends`: the headers and the start of a chunked body, then silence.
- `gzip-bomb`: ~1 MiB of gzip (Content-Encoding: gzip) that inflates to 1 GiB.
- `endless-paging`: every listing has a next page (SCIM: totalResults of a billion; Zendesk:
  has_more for ever), each page full of new records.
- `deep-json`: `[[[[...]]]]` 100,000 deep.
- `dense-json`: ~100 KB of gzip inflating to just under 32 MiB (the default cap) of
  `{"totalResults":1,"Resources":[{},{},...]}`: 11 million objects.
- `wrong-shape`: SCIM `Resources` an object, not a list; Zendesk a JSON list where an object
  belongs.
- `missing-ids`: SCIM resources that are numbers, not objects; a Zendesk custom role without
  an id (every other Zendesk listing is well formed and empty).
- `shrinking-pages` (SCIM only, not in MODES): a full first page, then one resource a page.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import zlib
from collections.abc import Iterator
from functools import cache
from typing import Any
from urllib.parse import parse_qs, urlsplit

MODES = (
    "drip",
    "never-ends",
    "gzip-bomb",
    "endless-paging",
    "deep-json",
    "dense-json",
    "wrong-shape",
    "missing-ids",
)
LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
DEEP = 100_000


@cache
def gzip_bomb(inflated_mib: int = 1024) -> bytes:
    """A gzip member inflating to `inflated_mib` MiB of JSON whitespace. Built from one
    compressed MiB repeated: a full flush makes each block independent of the ones before."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    start = b'{"Resources": ['
    head = compressor.compress(start) + compressor.flush(zlib.Z_FULL_FLUSH)
    spaces = b" " * (1024 * 1024)
    block = compressor.compress(spaces) + compressor.flush(zlib.Z_FULL_FLUSH)
    end = b"]}"
    tail = compressor.compress(end) + compressor.flush()
    crc = zlib.crc32(start)
    for _ in range(inflated_mib):
        crc = zlib.crc32(spaces, crc)
    crc = zlib.crc32(end, crc)
    size = len(start) + inflated_mib * len(spaces) + len(end)
    trailer = crc.to_bytes(4, "little") + (size % 2**32).to_bytes(4, "little")
    return head + block * inflated_mib + tail[:-8] + trailer


@cache
def dense_json(inflated_mib: int = 32) -> bytes:
    """Gzip of a listing whose `Resources` are empty objects, inflating to under `inflated_mib`
    MiB: the size cap passes it, and each 3 bytes are a Python dict once parsed."""
    start, end = b'{"totalResults": 1, "Resources": [', b"{}]}"
    items = (inflated_mib * 1024 * 1024 - len(start) - len(end) - 1024) // 3
    compressor = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    parts = [compressor.compress(start)]
    chunk = b"{}," * 100_000
    for _ in range(items // 100_000):
        parts.append(compressor.compress(chunk))
    parts.append(compressor.compress(b"{}," * (items % 100_000) + end))
    parts.append(compressor.flush())
    return b"".join(parts)


def _head(status: int, headers: dict[str, str]) -> bytes:
    lines = [f"HTTP/1.1 {status} X"] + [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


class HostileApp:
    """Serves in a background thread; `mode` may be changed between cycles."""

    def __init__(self, mode: str = "drip") -> None:
        self.mode = mode
        self.requests = 0
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[None]] = set()
        self.port = 0
        self.url = ""

    @contextlib.contextmanager
    def serving(self) -> Iterator[str]:
        """Yield the server's root URL; leaving the block stops it and its thread."""
        started = threading.Event()
        thread = threading.Thread(target=self._run, args=(started,), daemon=True)
        thread.start()
        if not started.wait(10):
            raise RuntimeError("the hostile app did not start")
        self.url = f"http://127.0.0.1:{self.port}"
        try:
            yield self.url
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            thread.join(10)

    def _run(self, started: threading.Event) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(
            asyncio.start_server(self._connection, "127.0.0.1", 0)
        )
        self.port = self._server.sockets[0].getsockname()[1]
        started.set()
        try:
            self._loop.run_forever()
        finally:
            for task in self._handlers:
                task.cancel()
            self._server.close()
            self._loop.run_until_complete(asyncio.sleep(0))
            self._loop.close()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            while True:  # keep-alive: one request after another on the connection
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                method, target = head.decode("latin-1").split(" ")[:2]
                length = 0
                for line in head.decode("latin-1").split("\r\n")[1:]:
                    name, _, value = line.partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value)
                if length:
                    await reader.readexactly(length)
                self.requests += 1
                await self._answer(writer, method, target)
        except (ConnectionError, asyncio.CancelledError):
            return
        finally:
            self._handlers.discard(task)
            writer.close()

    async def _json(self, writer: asyncio.StreamWriter, body: Any, status: int = 200) -> None:
        data = json.dumps(body).encode()
        headers = {"Content-Type": "application/json", "Content-Length": str(len(data))}
        writer.write(_head(status, headers) + data)
        await writer.drain()

    async def _answer(self, writer: asyncio.StreamWriter, method: str, target: str) -> None:
        url = urlsplit(target)
        query = {key: values[0] for key, values in parse_qs(url.query).items()}
        zendesk = url.path.startswith("/api/v2")
        resource = url.path.rstrip("/").rsplit("/", 1)[-1]
        mode = self.mode
        if mode == "drip":
            writer.write(
                _head(200, {"Content-Type": "application/json", "Content-Length": "1000000"})
            )
            while True:
                writer.write(b" ")
                await writer.drain()
                await asyncio.sleep(0.5)
        if mode == "never-ends":
            chunked = {"Content-Type": "application/json", "Transfer-Encoding": "chunked"}
            writer.write(_head(200, chunked) + b"1\r\n[\r\n")
            await writer.drain()
            await asyncio.Event().wait()
        if mode in ("gzip-bomb", "dense-json"):
            bomb = gzip_bomb() if mode == "gzip-bomb" else dense_json()
            headers = {
                "Content-Type": "application/json",
                "Content-Encoding": "gzip",
                "Content-Length": str(len(bomb)),
            }
            writer.write(_head(200, headers) + bomb)
            await writer.drain()
            return
        if mode == "deep-json":
            writer.write(
                _head(200, {"Content-Type": "application/json", "Content-Length": str(2 * DEEP)})
            )
            writer.write(b"[" * DEEP + b"]" * DEEP)
            await writer.drain()
            return
        if zendesk:
            await self._json(writer, self._zendesk(mode, resource, query))
        elif resource == "ServiceProviderConfig":
            await self._json(writer, {"detail": "not here", "status": "404"}, status=404)
        else:
            await self._json(writer, self._scim(mode, resource, query))

    @staticmethod
    def _scim(mode: str, resource: str, query: dict[str, str]) -> Any:
        start, count = int(query.get("startIndex", 1)), int(query.get("count", 100))
        if mode == "wrong-shape":
            return {"schemas": [LIST_RESPONSE], "totalResults": 1, "Resources": {"id": "a"}}
        if mode == "missing-ids":
            return {"schemas": [LIST_RESPONSE], "totalResults": 2, "Resources": [1, 2]}
        total = 10**9
        if mode == "shrinking-pages":  # a full first page of 1,000, then one resource a page
            total, count = 1000, count if start == 1 else 1
        # endless-paging: a page full of new resources, of a total that is never reached
        if resource == "Users":
            found = [
                {"schemas": [USER_SCHEMA], "id": f"u{i}", "userName": f"endless{i}@hostile.example"}
                for i in range(start, start + count)
            ]
        else:
            found = [
                {"schemas": [GROUP_SCHEMA], "id": f"g{i}", "displayName": f"endless-{i}"}
                for i in range(start, start + count)
            ]
        return {
            "schemas": [LIST_RESPONSE],
            "totalResults": total,
            "startIndex": start,
            "itemsPerPage": count,
            "Resources": found,
        }

    @staticmethod
    def _zendesk(mode: str, resource: str, query: dict[str, str]) -> Any:
        if mode == "wrong-shape":
            return [1, 2, 3]
        if resource == "custom_roles":
            roles = [{"name": "Staff"}] if mode == "missing-ids" else []
            return {"custom_roles": roles}
        if mode == "missing-ids":
            return {resource: [], "meta": {"has_more": False}}
        after = int(query.get("page[after]", 0))
        size = int(query.get("page[size]", 100))
        records: list[dict[str, Any]] = [
            {"id": i, "email": f"endless{i}@hostile.example", "name": f"Endless {i}"}
            for i in range(after + 1, after + size + 1)
        ]
        if resource == "group_memberships":
            records = [{"id": r["id"], "user_id": r["id"], "group_id": 1} for r in records]
        return {resource: records, "meta": {"has_more": True, "after_cursor": str(after + size)}}
