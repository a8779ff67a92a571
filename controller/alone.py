"""Each app, and the source, inside its own deadline and error boundary (DESIGN.md rule 7).

One app that is slow, hostile or buggy must cost at most its own deadline and never fail
another app's cycle; a source that never finishes must make a failed read (which removes
nobody), not hold every app. The engine runs observations and the source read through here, so
the one place that turns "whatever went wrong" into that party's own error is this module.
"""

from __future__ import annotations

import asyncio
import datetime

from controller.model import AppName, ObservedApp, SourceRead
from controller.sources import Source
from reconcilers.base import AppReconciler


def unexpected(error: BaseException) -> str:
    """An exception no adapter mapped, in one line: an ExceptionGroup by its first cause."""
    while isinstance(error, BaseExceptionGroup) and error.exceptions:
        error = error.exceptions[0]
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


async def observe(name: AppName, reconciler: AppReconciler, *, seconds: float) -> ObservedApp:
    """The app's observation within `seconds` (limits.observeSeconds); else its error."""
    deadline = asyncio.timeout(seconds)
    try:
        async with deadline:
            return await reconciler.observe()
    except Exception as error:  # one app's fault stays that app's
        why = (
            f"not observed within {seconds:g} s (limits.observeSeconds)"
            if deadline.expired()
            else f"observing failed: {unexpected(error)}"
        )
        return ObservedApp(name, (), (), error=why)


async def read(source: Source, *, seconds: float) -> SourceRead:
    """The source's read within `seconds` (readSeconds); past it, or on a surprise, a failed
    read, which rule 1 then lets remove nobody."""
    deadline = asyncio.timeout(seconds)
    try:
        async with deadline:
            return await source.read()
    except Exception as error:
        why = (
            f"not read within {seconds:g} s (readSeconds)"
            if deadline.expired()
            else f"reading failed: {unexpected(error)}"
        )
        return SourceRead(source.name, (), datetime.datetime.now(datetime.UTC), error=why)
