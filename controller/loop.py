"""The only long-running code: schedule, signals, one reconcile at a time, and a clean exit.

Every reason to reconcile (the schedule, a signal, a change seen at the source, a new policy
revision, startup) is a trigger. Triggers coalesce: one reconcile runs at a time, and any number
of triggers arriving during it cause exactly one more run. SIGHUP fetches and reloads the policy
first (an invalid one keeps the last good one and says so: `policy_keeper`), SIGUSR1 just
reconciles, SIGTERM and SIGINT stop taking work and let the run in flight finish within a
deadline. Each trigger is acknowledged in a log line and a metric the moment it arrives, so
on-call sees their `kill -HUP` was heard. Nor can the policy end it: a controller that started
with no policy that loads (and no last good one to restore) skips its cycles, saying so, until
one does.

No cycle can end the loop. Whatever goes wrong in one (the journal or a legacy state.json
unreadable, the engine not built, a read, a plan, an apply or the record failing, even a
BaseException other than cancellation) is logged with its cause, counted as an error of every
app of the policy in force, and retried on the next trigger with the engine and the journal
built afresh from the files as they are then. /healthz fails when no cycle has run to its end
within `cycle_bound_seconds`, so a controller that keeps failing, or hangs, is restarted."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import itertools
import signal
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from controller import approving, change_latency, change_watch, targeted
from controller.change_watch import ChangeWatch
from controller.cycle_report import CycleReporter
from controller.engine import Engine, utc_now
from controller.executor import Outcome
from controller.http import Health
from controller.journal import SqliteJournal, for_writing, legacy
from controller.metrics import Recorder
from controller.operations import OpKind
from controller.policy_keeper import PolicyKeeper
from controller.settings import LoopSettings
from reconcilers.base import Registry

SCHEDULE, SIGNAL, CHANGE, STARTUP, POLICY = "schedule", "signal", "change", "startup", "policy"


def cycle_bound_seconds(settings: LoopSettings) -> float:
    """How long /healthz waits for a cycle to run to its end (or for an operation of a long
    one to finish) before it fails: two scheduled runs missed, plus one interval for the run
    itself, plus the jitter. At the defaults (--interval 300, --jitter 30): 930 s."""
    return 3 * settings.interval_seconds + settings.jitter_seconds


class Controller:
    def __init__(
        self,
        settings: LoopSettings,
        *,
        keeper: PolicyKeeper,
        registry: Registry,
        environ: Mapping[str, str],
        recorder: Recorder,
        health: Health,
        log: Any,
    ) -> None:
        self.settings = settings
        self.registry = registry
        self.environ = environ
        self.recorder = recorder
        self.health = health
        self.log = log
        self._pending: set[str] = set()
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._running = False
        self._cycles = itertools.count(1)
        self.keeper = keeper
        self._tasks: set[asyncio.Task[None]] = set()
        self._said_listed: set[tuple[str, str]] = set()
        self._retry: targeted.Changes | None = None
        """The targeted cycle in flight's changes: should it fail, a full cycle takes them."""
        self._engine: Engine | None = None
        self._journal: SqliteJournal | None = None
        self.watch = ChangeWatch(settings, recorder=recorder, log=log)
        self._baseline: targeted.Baseline | None = None
        """The last trusted full cycle's view, which targeted cycles plan against."""
        self._stage = "starting"
        """What the cycle in flight is doing, for the log line should it fail."""
        self.report = CycleReporter(recorder, health)

    # --- policy -------------------------------------------------------------------------------

    async def _poll_policy(self) -> None:
        """A new commit (or new files in the directory) that validates: reconcile with it now."""
        if await self.keeper.refresh(force=False):
            self.trigger(POLICY)

    async def _reload_and_reconcile(self) -> None:
        """SIGHUP: fetch and reload the policy (whatever happens to it), then reconcile."""
        try:
            await self.keeper.refresh(force=True)  # never raises; if it ever did, say so
        except Exception as error:
            self.log.error("policy reload failed", error=f"{type(error).__name__}")
        self.trigger(SIGNAL)

    async def _current_engine(self) -> Engine:
        """The engine of the newest good policy; swapped only between runs, never during one."""
        policy = self.keeper.policy
        if policy is None:  # never once valid since startup: `_cycle` waits instead
            raise RuntimeError("no valid policy in force")
        if self._engine is None or self._engine.policy.revision != policy.revision:
            if self._engine is not None:
                await self._engine.__aexit__(None, None, None)
                self._engine = None
            if self._journal is None and self.settings.state_dir is not None:
                self._stage = "opening the journal"
                self._journal = self._open_journal(self.settings.state_dir)
            self._stage = "building the engine"
            self._engine = Engine(
                policy,
                registry=self.registry,
                environ=self.environ,
                http_hooks=self.recorder.http_hooks,
                journal=self._journal,
                journal_retention_days=self.settings.journal_retention_days,
                state_dir=self.settings.state_dir,
            )
            self.watch.forget()
            self._said_listed.clear()  # said once per app and policy
            await self.keeper.release_others(policy)  # no run reads the old one's files
        return self._engine

    def _open_journal(self, state_dir: Path) -> SqliteJournal:
        opened, imported = for_writing(state_dir, at=datetime.datetime.now(datetime.UTC))
        if imported is not None:
            self.log.warning(
                "legacy state imported into the journal",
                file=str(state_dir / legacy.FILE_NAME),
                renamed_to=str(imported),
            )
        return opened

    async def _forget(self) -> None:
        """Close the engine and the journal after a failed cycle, so the next trigger builds
        them afresh from the files as they are then (a fixed or removed file included)."""
        engine, self._engine = self._engine, None
        journal, self._journal = self._journal, None
        self.watch.forget()
        self._baseline = None  # the next change runs a full cycle, which makes a new one
        try:
            if engine is not None:
                await engine.__aexit__(None, None, None)
        except Exception as error:
            self.log.warning("closing the engine failed", error=repr(error))
        try:
            if journal is not None:
                journal.close()
        except Exception as error:
            self.log.warning("closing the journal failed", error=repr(error))

    # --- triggers -----------------------------------------------------------------------------

    def trigger(self, kind: str) -> None:
        if self._stopping.is_set():
            self.log.info("trigger ignored: shutting down", trigger=kind)
            return
        self.recorder.trigger(kind, now=time.time())
        coalesced = self._running or bool(self._pending)
        self.log.info("trigger received", trigger=kind, coalesced=coalesced)
        self._pending.add(kind)
        self._wake.set()

    def _on_signal(self, signum: signal.Signals) -> None:
        self.log.info("signal received", signal=signum.name)
        if signum is signal.SIGHUP:
            task = asyncio.create_task(self._reload_and_reconcile())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        elif signum is signal.SIGUSR1:
            self.trigger(SIGNAL)
        else:
            self.stop()

    def stop(self) -> None:
        if not self._stopping.is_set():
            self.log.info("stopping: no new work; letting the run in flight finish")
        self._stopping.set()
        self._wake.set()

    # --- work ---------------------------------------------------------------------------------

    async def _worker(self) -> None:
        while True:
            await self._wake.wait()
            if self._stopping.is_set():
                return
            self._wake.clear()
            kinds = sorted(self._pending)
            self._pending.clear()
            self._running = True
            try:
                await self._reconcile(kinds)
            finally:
                self._running = False

    async def _reconcile(self, kinds: list[str]) -> None:
        """One cycle; whatever it raises is counted, logged and survived, but the cancellation
        of the worker itself (shutdown). A stray CancelledError from below fails one cycle."""
        log = self.log.bind(cycle=next(self._cycles))
        self._stage = "starting"
        failure: BaseException
        try:
            await self._cycle(kinds, log)
            return
        except asyncio.CancelledError as error:
            task = asyncio.current_task()
            if task is None or task.cancelling():  # the loop itself is stopping: let it
                raise
            failure = error
        except BaseException as error:
            failure = error
        try:
            await self._cycle_failed(failure, log)
        except Exception:  # reporting the failure failed: still, never end the loop
            with contextlib.suppress(Exception):
                log.exception("reporting a failed cycle failed")

    async def _cycle_failed(self, error: BaseException, log: Any) -> None:
        policy = self.keeper.policy
        retry, self._retry = self._retry, None
        try:
            apps = policy.apps if policy is not None else ()
            self.report.failed(error, stage=self._stage, apps=apps, log=log)
        finally:
            await self._forget()
        if retry:  # a failed targeted cycle's users get a full cycle now, not at the schedule
            self.watch.pending = retry.merged(self.watch.pending)
            self.trigger(CHANGE)

    def _targeted(self, kinds: list[str], running: Engine, changes: targeted.Changes) -> bool:
        """Whether a targeted cycle can take `changes` on its own; otherwise a full cycle runs
        (and takes them too: it reads the whole source after they were reported)."""
        baseline = self._baseline
        return (
            kinds == [CHANGE]
            and bool(changes)
            and baseline is not None
            and baseline.revision == running.policy.revision
            and len(changes.ids) <= targeted.MAX_USERS
        )

    async def _cycle(self, kinds: list[str], log: Any) -> None:
        if self.keeper.policy is None:  # startup found none that loads (`PolicyKeeper.start`)
            log.warning("cycle skipped: no valid policy in force", triggers=kinds)
            return
        self._stage = "building the engine"
        running = await self._current_engine()
        self._stage = "asking the source what changed"
        await self.watch.start(running)
        log = log.bind(revision=running.policy.revision)
        changes = self.watch.take()
        baseline = self._baseline if self._targeted(kinds, running, changes) else None
        self._retry = changes if baseline is not None else None
        if baseline is not None:
            log = log.bind(targeted=True)
            log.info("cycle started", triggers=kinds, users=len(changes.ids))
        else:
            log.info("cycle started", triggers=kinds)
        started = time.perf_counter()
        measure: list[change_latency.ChangeLatency] = []

        def on_outcome(outcome: Outcome) -> None:
            self.report.operation(outcome, log)
            if measure and outcome.operation.kind is not OpKind.DELETE:  # after a grace period
                self.report.latency(measure[0].confirmed(outcome, utc_now()))

        self._stage = "reading and planning"
        approved = approving.pending(self._journal, now=utc_now())  # `provisioner approve`
        grants = approving.grants(approved)
        if baseline is not None:
            planned = await running.plan_changed(changes, baseline, approved=grants)
            for app, why in running.listed_whole.items():
                self._listed_whole(app, why, log)
        else:
            planned = await running.plan(approved=grants)
        self.report.progressed()  # read and planned: the apply's own deadline starts afresh
        measure.append(change_watch.latency(planned, changes, running))
        claimed = approving.claim(self._journal, planned, approved, now=utc_now())
        self._stage = "applying and journaling"
        cycle = await running.apply(planned, on_outcome=on_outcome, trigger="+".join(kinds)[:32])
        self._stage = "recording the cycle"
        for taken in approving.settle(self._journal, cycle, approved, claimed):
            log.info("approval consumed", **approving.fields(taken))
        usage = getattr(running.source, "api_usage", None)
        elapsed = time.perf_counter() - started
        self._retry = None
        if baseline is not None:
            self._baseline = baseline.after(cycle, changes)
            self.report.finished_targeted(cycle, elapsed=elapsed, log=log, api_usage=usage)
        else:
            self._baseline = targeted.Baseline.of(cycle)
            self.report.finished(cycle, elapsed=elapsed, log=log, api_usage=usage)

    def _listed_whole(self, app: str, why: str, log: Any) -> None:
        """Say once per app and policy that a targeted cycle listed it whole, and why."""
        if (app, why) not in self._said_listed:
            self._said_listed.add((app, why))
            log.warning("app listed whole for changed users", app=app, reason=why)

    async def _check_changes(self) -> None:
        """Ask the source what changed; when anyone did, a targeted cycle for them runs at
        once, or right after the cycle in flight (checks go on during cycles)."""
        if self._engine is not None and await self.watch.check(self._engine):
            self.trigger(CHANGE)

    # --- lifecycle ----------------------------------------------------------------------------

    async def run(self) -> int:
        """Run until SIGTERM/SIGINT; 0 on a clean stop. A policy that does not load at startup
        never ends it: the last good one, or none until one loads (`PolicyKeeper.start`)."""
        self.report.progressed()  # the bounds (/healthz, alerts) start now, not after a slow fetch
        await self.keeper.start()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGHUP, signal.SIGUSR1, signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self._on_signal, signum)
        scheduler = AsyncIOScheduler(event_loop=loop)
        scheduler.add_job(
            self.trigger,
            "interval",
            args=[SCHEDULE],
            seconds=self.settings.interval_seconds,
            jitter=self.settings.jitter_seconds,
        )
        scheduler.add_job(
            self._poll_policy,
            "interval",
            seconds=self.settings.policy_interval_seconds,
            max_instances=1,
            coalesce=True,
        )
        scheduler.add_job(
            self._check_changes,
            "interval",
            seconds=self.settings.change_interval_seconds,
            max_instances=1,
            coalesce=True,
        )
        scheduler.start()
        worker = asyncio.create_task(self._worker())
        beat = asyncio.create_task(self._heartbeat())
        self.trigger(STARTUP)
        await self._stopping.wait()
        scheduler.shutdown(wait=False)
        try:
            await asyncio.wait_for(worker, timeout=self.settings.shutdown_grace_seconds)
        except TimeoutError:
            self.log.error("shutdown deadline passed; abandoning the run in flight")
        beat.cancel()
        await self._forget()
        self.log.info("stopped")
        return 0

    async def _heartbeat(self) -> None:
        while True:
            self.health.beat(time.time())
            await asyncio.sleep(1.0)
