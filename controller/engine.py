"""One pass of the pipeline: read the source, evaluate policy, observe each app, plan, apply.

This is where the pure core meets I/O. `Engine.plan` reads and observes but writes nothing (the
dry-run the CLI's `plan` shows and the loop reuses), and `Engine.apply` carries out the plans that
`plan` produced, so what a person reviewed is exactly what runs. Apps are observed concurrently
and fail alone: one app that cannot be reached gets a plan with an error, the others go on.
"""

from __future__ import annotations

import asyncio
import datetime
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from controller import desired, executor, plan, sources
from controller.model import AppName, ObservedApp, SourceRead
from controller.operations import Plan
from controller.policy import Policy, loader
from controller.sources import Source
from reconcilers.base import AppConnection, AppReconciler, Registry

Clock = Callable[[], datetime.datetime]


def utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


@dataclass(frozen=True)
class AppCycle:
    app: AppName
    plan: Plan
    report: executor.ApplyReport | None = None


@dataclass(frozen=True)
class Cycle:
    revision: str
    source: SourceRead
    evaluation: desired.Evaluation
    apps: tuple[AppCycle, ...]

    @property
    def in_sync(self) -> bool:
        return all(app.plan.in_sync for app in self.apps)

    @property
    def failed(self) -> bool:
        return not self.source.ok or any(
            app.plan.error is not None or (app.report is not None and app.report.failed)
            for app in self.apps
        )


def load_policy(directory: Path, *, registry: Registry, environ: Mapping[str, str]) -> Policy:
    """Load and validate a policy against the attributes each registered app type supports."""
    supported = {name: kind.supported_attributes for name, kind in registry.items()}
    return loader.load_policy(directory, environ=environ, supported_attributes=supported)


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
    ) -> None:
        self.policy = policy
        self.clock = clock
        """The time policy is evaluated at (end dates); the source keeps the wall clock, since
        tokens and back-offs live in real time even when a demo or test moves `now`."""
        self.source: Source = sources.build_source(
            policy.sources[0], environ=environ, clock=utc_now
        )
        self.apps = [AppName(name) for name in policy.apps if not only or name in only]
        self.reconcilers: dict[AppName, AppReconciler] = {}
        self.setup_errors: dict[AppName, str] = {}
        for name in self.apps:
            spec = policy.apps[name]
            token = None
            variable = spec.auth.bearer_token_env
            if variable is not None:
                token = environ.get(variable)
                if not token:
                    self.setup_errors[name] = f"environment variable {variable} is not set"
                    continue
            connection = AppConnection(
                app=name, endpoint=spec.endpoint, token=token, page_size=spec.page_size
            )
            self.reconcilers[name] = registry[spec.type].factory(connection)

    async def __aenter__(self) -> Engine:
        return self

    async def __aexit__(self, *_: object) -> None:
        closing = [reconciler.aclose() for reconciler in self.reconcilers.values()]
        await asyncio.gather(self.source.aclose(), *closing)

    async def _observe(self, name: AppName) -> ObservedApp:
        if name in self.setup_errors:
            return ObservedApp(name, (), (), error=self.setup_errors[name])
        return await self.reconcilers[name].observe()

    async def plan(self) -> Cycle:
        """Read, evaluate, observe and plan every app; writes nothing."""
        read, observed = await asyncio.gather(
            self.source.read(), asyncio.gather(*(self._observe(name) for name in self.apps))
        )
        evaluation = desired.evaluate(self.policy, read, now=self.clock())
        cycles = tuple(
            AppCycle(
                name,
                plan.compute(
                    evaluation.apps[name],
                    seen,
                    match=self.policy.apps[name].match,
                    prune=self.policy.apps[name].prune,
                ),
            )
            for name, seen in zip(self.apps, observed, strict=True)
        )
        return Cycle(self.policy.revision, read, evaluation, cycles)

    async def apply(
        self, cycle: Cycle, *, on_outcome: Callable[[executor.Outcome], None] | None = None
    ) -> Cycle:
        """Carry out the plans of `cycle`; apps converge concurrently and fail alone."""

        async def one(app: AppCycle) -> AppCycle:
            if app.plan.error is not None or not app.plan.operations:
                return app
            report = await executor.execute(
                app.plan, self.reconcilers[app.app], on_outcome=on_outcome
            )
            return AppCycle(app.app, app.plan, report)

        applied = await asyncio.gather(*(one(app) for app in cycle.apps))
        return Cycle(cycle.revision, cycle.source, cycle.evaluation, tuple(applied))
