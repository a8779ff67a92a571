"""`provisioner run`: wires logging, metrics, the HTTP endpoints and the loop into one process.

The composition root of the long-running controller, kept apart from the CLI's argument parsing
and from the loop's own logic, so each stays small and testable.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping

from controller import http, loop
from controller import logging as logs
from controller.metrics import Recorder
from controller.settings import LoopSettings
from reconcilers import REGISTRY


async def _main(
    settings: LoopSettings, *, json_logs: bool | None, environ: Mapping[str, str]
) -> int:
    logs.configure(json=json_logs)
    log = logs.get_logger()
    recorder = Recorder()
    health = http.Health(max_age_seconds=3 * settings.interval_seconds + 60)
    controller = loop.Controller(
        settings,
        registry=REGISTRY,
        environ=environ,
        recorder=recorder,
        health=health,
        log=log,
    )
    server = await http.start(
        http.make_app(recorder, health), host=settings.host, port=settings.port
    )
    log.info("serving", metrics=f"http://{settings.host}:{settings.port}/metrics", pid=os.getpid())
    try:
        return await controller.run()
    finally:
        await http.stop(server)


def run(
    settings: LoopSettings, *, json_logs: bool | None, environ: Mapping[str, str] | None = None
) -> int:
    environment = os.environ if environ is None else environ
    return asyncio.run(_main(settings, json_logs=json_logs, environ=environment))
