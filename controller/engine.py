"""One pass of the pipeline: read the source, evaluate policy, observe each app, plan, apply.

This is where the pure core meets I/O. `Engine.plan` reads and observes but writes nothing (the
dry-run the CLI's `plan` shows and the loop reuses), and `Engine.apply` carries out the plans that
`plan` produced, so what a person reviewed is exactly what runs. Apps are observed concurrently
and fail alone: one app that cannot be reached gets a plan with an error, the others go on.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from controller import (
    alone,
    connections,
    desired,
    executor,
    facts,
    guard,
    journaling,
    lookups,
    plan,
    sources,
    targeted,
)
from controller.cycle import AppCycle, Cycle
from controller.journal import Facts, Journal
from controller.model import AccountId, AppName, DesiredApp, ObservedApp, SourceRead, SourceUserId
from controller.operations import Plan
from controller.policy import Policy
from controller.sources import Source
from reconcilers.base import Registry

Clock = Callable[[], datetime.datetime]
HttpHooks = connections.HttpHooks


def utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


async def _ready(read: SourceRead) -> SourceRead:
    return read


class Engine:
    """Holds the reconcilers of one policy for as long as the policy is in force."""

    def __init__(
        self,
        policy: Policy,
        *,
        registry: Registry,
        environ: Mapping[str, str],
        clock: Clock = utc_now,
        only: Sequence[str] | None = None,
        remembered: Facts | None = None,
        allow_deprovisions: bool = False,
        http_hooks: HttpHooks | None = None,
        journal: Journal | None = None,
        journal_retention_days: int = journaling.RETENTION_DAYS,
        state_dir: Path | None = None,
    ) -> None:
        self.policy = policy
        self.journal = journal
        self.journal_retention_days = journal_retention_days
        """Where apply records every operation before and after it is sent; None: nowhere."""
        self.remembered = remembered or Facts()
        """The facts later runs need, where there is no journal: kept for the process. With a
        journal, what it does not know yet (a legacy state.json that `plan` reads in place)."""
        self.known = self.remembered
        """The facts as the last plan read them."""
        self.allow_deprovisions = allow_deprovisions
        """The operator's one-time override of the deprovision thresholds (never of rules 1-3)."""
        self.clock = clock
        """The time policy is evaluated at (end dates); the source keeps the wall clock, since
        tokens and back-offs live in real time even when a demo or test moves `now`."""
        hooks = http_hooks or (lambda _target: None)
        self.source: Source = sources.build_source(
            policy.sources[0],
            environ=environ,
            clock=utc_now,
            event_hooks=hooks("salesforce"),
            state_dir=state_dir,  # where the source keeps what every process must honour
        )
        self.apps = [AppName(name) for name in policy.apps if not only or name in only]
        self.kinds = {name: registry[policy.apps[name].type] for name in self.apps}
        self.listed_whole: dict[AppName, str] = {}
        """Apps the last targeted cycle listed whole instead of looking up, and why."""
        self.reconcilers, self.setup_errors = connections.build(
            policy, self.apps, registry=registry, environ=environ, http_hooks=hooks
        )

    async def __aenter__(self) -> Engine:
        return self

    async def __aexit__(self, *_: object) -> None:
        closing = [reconciler.aclose() for reconciler in self.reconcilers.values()]
        await asyncio.gather(self.source.aclose(), *closing)

    async def _observe(self, name: AppName) -> ObservedApp:
        """One app's observation within its deadline; whatever goes wrong is that app's error."""
        if name in self.setup_errors:
            return ObservedApp(name, (), (), error=self.setup_errors[name])
        seconds = self.policy.apps[name].limits.observe_seconds
        return await alone.observe(name, self.reconcilers[name], seconds=seconds)

    def _verdict(self, read: SourceRead, evaluation: desired.Evaluation) -> guard.SourceVerdict:
        source = self.policy.sources[0]
        return guard.judge_source(
            error=read.error,
            active=evaluation.active_users,
            last_good_active=self.known.trusted_active.get(source.name),
            max_drop_percent=source.spec.max_active_drop_percent,
            accept_drop=self.allow_deprovisions,
            records=read.records,
            quarantined=len(evaluation.quarantined),
            max_quarantined_percent=source.spec.max_quarantined_percent,
        )

    def _plan_app(
        self,
        want: DesiredApp,
        seen: ObservedApp,
        *,
        trusted: bool,
        now: datetime.datetime,
        release: guard.Release | None = None,
        scoped: targeted.Scoped | None = None,
    ) -> AppCycle:
        """One app's plan, guarded; `scoped` limits it to a targeted cycle's users."""
        spec = self.policy.apps[want.app]
        want = dataclasses.replace(want, source_complete=want.source_complete and trusted)
        want, shaped = self._shaped(want, scoped)
        life = plan.Lifecycle(spec.deprovision, self._suspensions(want.app), now)
        planned = plan.compute(
            want,
            seen,
            match=spec.match,
            prune=spec.prune,
            lifecycle=life,
            prune_unlinked=scoped is None,
        )
        if shaped:
            planned = dataclasses.replace(planned, notes=(*shaped, *planned.notes))
        if planned.error is None:
            planned = guard.hold_deprovisions(
                planned,
                accounts=len(seen.accounts) if scoped is None else scoped.accounts,
                safety=spec.safety,
                release=guard.FLAG_RELEASE if self.allow_deprovisions else release,
                already=0 if scoped is None else scoped.already,
            )
        managed = frozenset(
            a.id for a in seen.accounts if spec.prune or a.external_id in want.known_source_ids
        )
        return AppCycle(want.app, planned, seen, managed, observe_only=spec.mode == "observe")

    def _shaped(
        self, want: DesiredApp, scoped: targeted.Scoped | None
    ) -> tuple[DesiredApp, tuple[str, ...]]:
        """`want` as the app's rules shape it (Slack's unique names), with its notes. A
        targeted cycle's users are shaped beside everyone else's, as a full cycle would."""
        shape = self.kinds[want.app].shape
        if shape is None:
            return want, ()
        if scoped is None:
            return shape(want)
        shaped, notes = shape(targeted.in_context(want, scoped.context, scoped.users))
        return targeted.only(shaped, scoped.users), notes

    def _plan_app_alone(self, want: DesiredApp, seen: ObservedApp, **options: Any) -> AppCycle:
        """`_plan_app`, where an exception is this app's plan error and no other app's."""
        try:
            return self._plan_app(want, seen, **options)
        except Exception as error:  # one app's fault stays that app's
            failed = Plan(
                want.app, (), {}, error=f"could not be planned: {alone.unexpected(error)}"
            )
            return AppCycle(want.app, failed, seen)

    def _suspensions(self, app: AppName) -> dict[AccountId, datetime.datetime]:
        """When each suspended account's grace period began. Apps keep no such time, so it
        is the journal's time of our own last suspend, or when we first saw the account
        suspended (the journal's facts), whichever is later: a grace period never ends early."""
        since = {AccountId(a): t for a, t in self.known.suspended_since.get(app, {}).items()}
        journaled = self.journal.suspended_since(app) if self.journal is not None else {}
        for account, moment in journaled.items():
            seen = since.get(AccountId(account))
            since[AccountId(account)] = moment if seen is None else max(seen, moment)
        return since

    async def observe(
        self,
        *,
        read: SourceRead | None = None,
        seen: Mapping[AppName, ObservedApp] | None = None,
    ) -> tuple[SourceRead, dict[AppName, ObservedApp]]:
        """Read the source and observe every app concurrently; what is given is not read again
        (`provisioner diff` plans two policies over one look at the same apps)."""
        known = dict(seen or {})
        missing = [name for name in self.apps if name not in known]
        reading = (
            alone.read(self.source, seconds=self.policy.sources[0].spec.read_seconds)
            if read is None
            else _ready(read)
        )
        got, found = await asyncio.gather(
            reading, asyncio.gather(*(self._observe(name) for name in missing))
        )
        known.update(zip(missing, found, strict=True))
        return got, {name: known[name] for name in self.apps}

    def plan_observed(
        self,
        read: SourceRead,
        observed: Mapping[AppName, ObservedApp],
        *,
        approved: Mapping[AppName, guard.Release] | None = None,
    ) -> Cycle:
        """Evaluate, plan and guard every app over what `observe` saw; pure but for the clock.

        `approved` holds, by app, an operator's one-time approval (`provisioner approve`): the
        per-run deprovision limits do not hold that app's reviewed batch this once. Rules 1-3
        still do."""
        approved = approved or {}
        self.known = self._facts()
        now = self.clock()
        evaluation = desired.evaluate(self.policy, read, now=now)
        verdict = self._verdict(read, evaluation)
        cycles = tuple(
            self._plan_app_alone(
                evaluation.apps[name],
                observed[name],
                trusted=verdict.trusted,
                now=now,
                release=approved.get(name),
            )
            for name in self.apps
        )
        return Cycle(self.policy.revision, read, evaluation, verdict, cycles)

    async def plan_changed(
        self,
        changes: targeted.Changes,
        baseline: targeted.Baseline,
        *,
        approved: Mapping[AppName, guard.Release] | None = None,
    ) -> Cycle:
        """A targeted cycle's plan: only the changed users, read by the change check, looked
        up in each app and planned against `baseline` (see `controller.targeted`)."""
        approved = approved or {}
        self.known = self._facts()
        now = self.clock()
        source = self.policy.sources[0]
        read = targeted.scoped_read(source.name, changes, baseline, now)
        evaluation = desired.evaluate(self.policy, read, now=now)
        verdict = targeted.judge(
            baseline, changes, evaluation, source.spec, accept_drop=self.allow_deprovisions
        )
        scope = changes.ids
        found = await asyncio.gather(
            *(self._look_up(evaluation.apps[name], baseline, scope) for name in self.apps)
        )
        self.listed_whole = {
            name: each.why_listed
            for name, each in zip(self.apps, found, strict=True)
            if each.why_listed is not None
        }
        apps = []
        for name, each in zip(self.apps, found, strict=True):
            remembered = baseline.apps.get(name)
            scoped = targeted.Scoped(
                scope,
                context=remembered.desired if remembered else {},
                accounts=each.listed or (remembered.accounts if remembered else 0),
                already=remembered.deprovisioned if remembered else 0,
            )
            apps.append(
                self._plan_app_alone(
                    evaluation.apps[name],
                    each.observed,
                    trusted=verdict.trusted,
                    now=now,
                    release=approved.get(name),
                    scoped=scoped,
                )
            )
        return Cycle(self.policy.revision, read, evaluation, verdict, tuple(apps), scope=scope)

    async def _look_up(
        self, want: DesiredApp, baseline: targeted.Baseline, scope: frozenset[SourceUserId]
    ) -> lookups.Found:
        name = want.app
        if name in self.setup_errors:
            return lookups.Found(ObservedApp(name, (), (), error=self.setup_errors[name]))
        remembered = baseline.apps.get(name)
        context = remembered.desired if remembered else {}
        shaped, _ = self._shaped(want, targeted.Scoped(scope, context, 0, 0))
        spec = self.policy.apps[name]
        return await lookups.look_up(
            name,
            self.reconcilers[name],
            shaped,
            match=spec.match,
            scope=scope,
            remembered=remembered,
            seconds=spec.limits.observe_seconds,
        )

    async def plan(self, *, approved: Mapping[AppName, guard.Release] | None = None) -> Cycle:
        """Read, evaluate, observe, plan and guard every app; writes nothing anywhere."""
        # The facts are read afresh (in plan_observed): a long-lived engine must not act on
        # what an earlier writer of the state directory left behind.
        return self.plan_observed(*await self.observe(), approved=approved)

    async def apply(
        self,
        cycle: Cycle,
        *,
        on_outcome: Callable[[executor.Outcome], None] | None = None,
        trigger: str = "cli",
    ) -> Cycle:
        """Carry out the plans of `cycle`; apps converge concurrently and fail alone.

        Every operation is journaled before it is sent and after (when there is a journal).
        Then remember what later runs need: the active users of a trusted read, and when each
        managed account was first seen or made suspended.
        """
        record = None
        if self.journal is not None:
            record = journaling.CycleRecord.of(
                self.journal,
                cycle,
                trigger=trigger,
                spec=self.policy.sources[0].spec,
                clock=utc_now,
                retention_days=self.journal_retention_days,
            )

        async def one(app: AppCycle) -> AppCycle:
            if app.plan.error is not None or not app.plan.operations or app.observe_only:
                return app
            try:
                report = await executor.execute(
                    app.plan,
                    self.reconcilers[app.app],
                    batched_members=self.kinds[app.app].batches_members,
                    on_outcome=on_outcome,
                    witness=record,
                    deadline_seconds=self.policy.apps[app.app].limits.apply_seconds,
                )
            except Exception as error:  # one app's fault stays that app's
                why = f"apply stopped: {alone.unexpected(error)}"
                failed = (executor.Outcome(op, executor.ERROR, why) for op in app.plan.operations)
                report = executor.ApplyReport(app.app, tuple(failed))
            return dataclasses.replace(app, report=report)

        applied = await asyncio.gather(*(one(app) for app in cycle.apps))
        source = self.policy.sources[0].name
        news = facts.learned(self._facts(), cycle, applied, source=source, now=self.clock())
        if record is not None:
            record.close_cycle(cycle, applied, facts=news)
        else:
            self.remembered = self.remembered.merged(news)
        journaled = record.cycle_id if record is not None else None
        return dataclasses.replace(cycle, apps=tuple(applied), journal_cycle_id=journaled)

    def _facts(self) -> Facts:
        """What later runs need, as known now: the journal's, over what this engine was given."""
        if self.journal is None:
            return self.remembered
        return self.remembered.merged(self.journal.facts())
