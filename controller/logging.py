"""Structured logs: JSON lines for machines, readable text on a terminal, never a secret.

One place configures structlog for the whole process. A last-line-of-defence processor masks any
field whose name says it holds a credential, so a careless `log.info(token=...)` cannot leak.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

SECRET_WORDS = ("token", "secret", "password", "assertion", "authorization", "private_key")


def _redact(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in list(event):
        if any(word in key.lower() for word in SECRET_WORDS):
            event[key] = "***"
    return event


def configure(*, json: bool | None = None, level: str = "info") -> None:
    """JSON lines when asked, or when stderr is not a terminal; console text otherwise."""
    as_json = json if json is not None else not sys.stderr.isatty()
    renderer: Any = (
        structlog.processors.JSONRenderer() if as_json else structlog.dev.ConsoleRenderer()
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _redact,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)


def get_logger(**bound: Any) -> Any:
    return structlog.get_logger().bind(**bound)
