"""Structured logs: JSON lines for machines, readable text on a terminal, never a secret.

One place configures structlog for the whole process (STYLE.md section 6 rule 5): the loop logs
one event per trigger, operation and cycle, bound with `cycle` and `app`. A last-line-of-defence
processor masks any field whose name says it holds a credential, so a careless
`log.info("...", token=...)` cannot leak one. Records from the standard library's `logging`
(uvicorn, httpx) go through the same renderer, at warning and above only.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from typing import Any

import structlog
from structlog.typing import EventDict, FilteringBoundLogger, Processor

SECRET_WORDS = ("token", "secret", "password", "assertion", "authorization", "private_key")
REDACTED = "***"
LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING}
LEVELS |= {"error": logging.ERROR, "critical": logging.CRITICAL}
LIBRARY_LEVEL = logging.WARNING
"""uvicorn and httpx speak at info about every request; only their problems are news."""


_PROCESS_FIELDS: dict[str, Any] = {}
"""Fields on every line the process logs from now on (the policy revision in force)."""


def bind_process(**fields: Any) -> None:
    """Add `fields` to every later log line of the process, including other libraries' lines.

    Unlike structlog's context variables, this reaches tasks that were started earlier.
    """
    _PROCESS_FIELDS.update(fields)


def _add_process_fields(_: Any, __: str, event: EventDict) -> EventDict:
    for key, value in _PROCESS_FIELDS.items():
        event.setdefault(key, value)  # a field bound closer to the event wins
    return event


def _is_secret(key: object) -> bool:
    return isinstance(key, str) and any(word in key.lower() for word in SECRET_WORDS)


def _masked(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: REDACTED if _is_secret(k) else _masked(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_masked(item) for item in value)
    return value


def redact(_: Any, __: str, event: EventDict) -> EventDict:
    """Mask the value of every field (nested too) named like a credential."""
    for key in list(event):
        event[key] = REDACTED if _is_secret(key) else _masked(event[key])
    return event


def configure(*, json: bool | None = None, level: str = "info") -> None:
    """Configure structlog and stdlib logging for the process.

    JSON lines when `json` is True, or when it is None and stderr is not a terminal; coloured
    console text otherwise. Timestamps are ISO 8601 in UTC.
    """
    try:
        threshold = LEVELS[level.lower()]
    except KeyError:
        raise ValueError(f"unknown log level {level!r}; one of {', '.join(LEVELS)}") from None
    as_json = json if json is not None else not sys.stderr.isatty()
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        _add_process_fields,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        redact,
    ]
    renderer: Processor
    if as_json:
        # Tracebacks as one string field; the console renderer pretty-prints them itself.
        shared.append(structlog.processors.format_exc_info)
        renderer = structlog.processors.JSONRenderer()
    else:
        # No locals in tracebacks: a frame's locals may hold a token the redactor never sees.
        tty = sys.stderr.isatty()
        pretty = structlog.dev.RichTracebackFormatter(show_locals=False)
        renderer = structlog.dev.ConsoleRenderer(
            colors=tty, exception_formatter=pretty if tty else structlog.dev.plain_traceback
        )
    structlog.configure(
        processors=[*shared, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(threshold),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
    _route_stdlib(shared, renderer)


def _route_stdlib(shared: list[Processor], renderer: Processor) -> None:
    """Records of stdlib loggers (uvicorn's, httpx's) rendered like ours, warnings and up."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[structlog.stdlib.add_logger_name, *shared],
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(LIBRARY_LEVEL)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "httpx", "httpcore"):
        library = logging.getLogger(name)
        library.handlers = []
        library.propagate = True
        library.setLevel(LIBRARY_LEVEL)


def get_logger(**bound: Any) -> FilteringBoundLogger:
    """A logger with `bound` fields on every event it logs (e.g. app=..., cycle=...)."""
    logger: FilteringBoundLogger = structlog.get_logger().bind(**bound)
    return logger
