"""The metrics port's connection bounds (controller.http_limits), over real sockets."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging

import httpx
import pytest

from controller import http, http_limits
from controller.http import Health, make_app
from controller.metrics import Recorder

BOUND_SECONDS = 30.0


async def closed_by_server(reader: asyncio.StreamReader) -> bool:
    """Whether the server ends the connection (EOF or reset) within the bound."""
    try:
        await asyncio.wait_for(reader.read(), BOUND_SECONDS)  # all it sends, then EOF
    except ConnectionError:
        pass
    except TimeoutError:
        return False
    return True


async def close(*connections: tuple[asyncio.StreamReader, asyncio.StreamWriter]) -> None:
    for _, writer in connections:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


async def test_a_connection_that_never_finishes_its_request_is_closed() -> None:
    running = await http.start(
        make_app(Recorder(), Health()), host="127.0.0.1", port=0, header_timeout=0.5
    )
    try:
        silent = await asyncio.open_connection("127.0.0.1", running.port)
        half = await asyncio.open_connection("127.0.0.1", running.port)
        half[1].write(b"GET /metr")
        assert await closed_by_server(silent[0])
        assert await closed_by_server(half[0])
        await close(silent, half)
    finally:
        await http.stop(running)


async def test_after_a_response_the_next_request_head_is_due_in_time_too() -> None:
    running = await http.start(
        make_app(Recorder(), Health()), host="127.0.0.1", port=0, header_timeout=0.5
    )
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", running.port)
        writer.write(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\nGET /heal")  # a whole one, a half
        assert (await reader.readline()).startswith(b"HTTP/1.1 200")
        assert await closed_by_server(reader)
        await close((reader, writer))
    finally:
        await http.stop(running)


async def test_past_the_limit_the_oldest_idle_connection_makes_room_for_a_scrape(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="provisioner.http")
    running = await http.start(
        make_app(Recorder(), Health()), host="127.0.0.1", port=0, max_connections=8
    )
    try:
        idle = [await asyncio.open_connection("127.0.0.1", running.port) for _ in range(20)]
        async with httpx.AsyncClient() as client:  # the newest connection: it is served
            scrape = await client.get(f"http://127.0.0.1:{running.port}/metrics", timeout=10)
        assert scrape.status_code == 200
        dropped = [await closed_by_server(reader) for reader, _ in idle[:12]]
        assert all(dropped)  # the twelve oldest, long before the header deadline
        warned = [r.getMessage() for r in caplog.records if "more than 8" in r.getMessage()]
        assert warned == [
            "metrics port: more than 8 connections; closing the oldest idle ones (0 more not "
            "logged)"
        ]
        await close(*idle)
    finally:
        await http.stop(running)


def test_accept_errors_are_logged_once_a_minute_not_once_each(
    caplog: pytest.LogCaptureFixture,
) -> None:
    loop = asyncio.new_event_loop()
    try:
        http_limits.quiet_accept_errors(loop)
        error = OSError(errno.EMFILE, "Too many open files")
        with caplog.at_level(logging.ERROR):
            for _ in range(1000):
                loop.call_exception_handler(
                    {"message": http_limits.ACCEPT_ERROR, "exception": error}
                )
        accept_lines = [r for r in caplog.records if "accept() failed" in r.getMessage()]
        assert len(accept_lines) == 1
        assert "Too many open files" in accept_lines[0].getMessage()
        caplog.clear()
        with caplog.at_level(logging.ERROR):
            loop.call_exception_handler({"message": "something else broke"})
        assert [r.getMessage() for r in caplog.records] == ["something else broke"]
    finally:
        loop.close()
