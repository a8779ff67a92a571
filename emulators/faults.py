"""A fault-injecting HTTP/1.1 proxy: one emulator behind it, a seeded storm in front of it.

The chaos test needs the faults real networks and real vendors produce, at the socket: 429
with Retry-After, 500/502/503, a connection reset before the request reaches the app (the app
never saw it), a reset after the app answered (the app acted, the client never hears: the
real test of "no duplicate on retry" for a POST), and a body cut short after a head that
promised all of it. An ASGI middleware cannot reset a connection, so this is a raw asyncio TCP
proxy: it reads each request whole (Content-Length or chunked), decides with a seeded
`random.Random`, and either answers itself, forwards to the upstream over a kept-alive
connection of its own, or breaks the client connection. Bodies pass through as bytes
(gzip included). `FaultTally` counts what was injected, so a test can show the storm happened.

    python -m emulators.faults --upstream http://127.0.0.1:8001 --rate 0.2 --seed 7
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import enum
import random
import socket
import struct
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

from emulators import http1, serving

STARTUP_TIMEOUT_SECONDS = 10.0


class Fault(enum.StrEnum):
    RATE_LIMITED = "429"
    SERVER_ERROR = "5xx"
    RESET_BEFORE = "reset-before"
    """The connection is reset before the request is forwarded: the app never saw it."""
    RESET_AFTER = "reset-after"
    """The request is forwarded and answered, then the client's connection is reset."""
    TRUNCATED = "truncated"
    """The app's response head, part of its body, then the connection closes."""


@dataclass(frozen=True)
class FaultSettings:
    rate: float = 0.2
    """The share of requests that get a fault."""
    write_rate: float | None = None
    """The share of writes (any method but GET and HEAD) that get one; None: `rate`. Writes
    are few and the interesting ones (a reset after a POST), so a storm may favour them."""
    seed: int = 0
    kinds: tuple[Fault, ...] = tuple(Fault)


class FaultTally:
    """Requests seen and faults injected (by kind and method); read from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests = 0
        self.methods: Counter[str] = Counter()
        """Requests seen, by method."""
        self.injected: Counter[tuple[Fault, str]] = Counter()

    def count(self, method: str, fault: Fault | None) -> None:
        with self._lock:
            self.requests += 1
            self.methods[method] += 1
            if fault is not None:
                self.injected[fault, method] += 1

    def by_kind(self) -> dict[Fault, int]:
        with self._lock:
            kinds = {kind: 0 for kind in Fault}
            for (kind, _), count in self.injected.items():
                kinds[kind] += count
            return kinds

    def total(self) -> int:
        with self._lock:
            return sum(self.injected.values())

    def of(self, kind: Fault, method: str) -> int:
        with self._lock:
            return self.injected[kind, method]


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with an RST, not a FIN: SO_LINGER on with a zero timeout, then an abort."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


class FaultProxy:
    """Forwards to `upstream` (http://host:port), injecting faults per `settings`.

    `injecting` can be turned off (and on) at any time from another thread.
    """

    def __init__(self, upstream: str, settings: FaultSettings) -> None:
        parts = urlsplit(upstream)
        if parts.scheme != "http" or not parts.hostname or not parts.port:
            raise ValueError(f"upstream {upstream!r}: the proxy needs http://host:port")
        rates = (
            settings.rate,
            settings.rate if settings.write_rate is None else settings.write_rate,
        )
        if not all(0.0 <= rate <= 1.0 for rate in rates) or not settings.kinds:
            raise ValueError("rates must be within 0..1 and at least one kind of fault given")
        self._rate, self._write_rate = rates
        self.upstream = (parts.hostname, parts.port)
        self.settings = settings
        self.tally = FaultTally()
        self.injecting = True
        self.url = ""
        """http://127.0.0.1:port, once serving."""
        self._random = random.Random(settings.seed)  # noqa: S311 (reproducible, not secret)

    def _decide(self, method: str) -> tuple[Fault | None, bytes]:
        """The fault for the next request (None: forward it untouched), and the response the
        proxy makes up for it, if any."""
        rate = self._rate if method in ("GET", "HEAD") else self._write_rate
        if not self.injecting or self._random.random() >= rate:
            return None, b""
        fault = self._random.choice(self.settings.kinds)
        if fault is Fault.RATE_LIMITED:
            return fault, http1.local_response(429, self._random.choice(("0", "1")))
        if fault is Fault.SERVER_ERROR:
            return fault, http1.local_response(self._random.choice((500, 502, 503)))
        return fault, b""

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Serve one client connection, request after request, until either side closes."""
        upstream = http1.Upstream(*self.upstream)
        try:
            while True:
                request = await http1.read_request(reader)
                if request is None:
                    return
                fault, made_up = self._decide(request.method)
                if fault is Fault.RESET_BEFORE or made_up:
                    self.tally.count(request.method, fault)
                    if made_up:
                        writer.write(made_up)
                        await writer.drain()
                        continue
                    _reset(writer)
                    return
                response = await upstream.exchange(request)
                if fault is Fault.TRUNCATED and len(response.body) < 2:
                    fault = Fault.RESET_AFTER  # nothing to cut short: break it another way
                self.tally.count(request.method, fault)
                if fault is Fault.RESET_AFTER:
                    _reset(writer)
                    return
                if fault is Fault.TRUNCATED:
                    writer.write(response.head + response.body[: len(response.body) // 2])
                    await writer.drain()
                    return
                writer.write(response.head + response.body)
                await writer.drain()
                if request.closes or response.closes:
                    return
        except (OSError, asyncio.IncompleteReadError, http1.MalformedError):
            return  # either side broke the conversation: so does the proxy
        finally:
            upstream.close()
            writer.close()


async def _serve(proxy: FaultProxy, port: int, ready: threading.Event, stop: asyncio.Event) -> None:
    clients: set[asyncio.Task[None]] = set()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        clients.add(task)
        try:
            await proxy.handle(reader, writer)
        except asyncio.CancelledError:
            pass  # the proxy is stopping; asyncio would log a cancelled handler as an error
        finally:
            clients.discard(task)

    server = await asyncio.start_server(handle, "127.0.0.1", port)
    proxy.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    ready.set()
    async with server:
        await stop.wait()
        server.close()
        for task in list(clients):
            task.cancel()
        await asyncio.gather(*clients, return_exceptions=True)


@contextlib.contextmanager
def serve_faults(upstream: str, settings: FaultSettings, *, port: int = 0) -> Iterator[FaultProxy]:
    """A proxy to `upstream` in a background thread for the `with` block; yields it serving."""
    proxy = FaultProxy(upstream, settings)
    ready = threading.Event()
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()

    def run() -> None:
        try:
            loop.run_until_complete(_serve(proxy, port, ready, stop))
        finally:
            ready.set()
            loop.close()

    thread = threading.Thread(target=run, daemon=True, name="fault-proxy")
    thread.start()
    try:
        if not ready.wait(STARTUP_TIMEOUT_SECONDS) or not proxy.url:
            raise RuntimeError(f"the fault proxy to {upstream} did not start")
        yield proxy
    finally:
        with contextlib.suppress(RuntimeError):  # the loop already ended
            loop.call_soon_threadsafe(stop.set)
        thread.join()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve a fault-injecting proxy to one app.")
    parser.add_argument("--upstream", required=True, help="http://host:port of the app")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--rate", type=float, default=0.2, help="share of requests faulted")
    parser.add_argument("--write-rate", type=float, help="share of writes faulted (--rate)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    settings = FaultSettings(rate=args.rate, write_rate=args.write_rate, seed=args.seed)
    with serve_faults(args.upstream, settings, port=args.port) as proxy:
        print(f"Proxying {proxy.url} -> {args.upstream}; Ctrl+C or SIGTERM stops it.", flush=True)
        serving.wait_for_stop()
        faults = ", ".join(f"{kind.value}: {n}" for kind, n in proxy.tally.by_kind().items())
        print(f"{proxy.tally.requests} requests; faults: {faults}", flush=True)


if __name__ == "__main__":
    main()
