"""How the engine reaches each app of a policy: a reconciler built from policy and environment.

Each app gets its connection (endpoint, token from the variable policy names, page size, the
limits that bound what a hostile app may cost, the metrics' httpx hooks) and one rate limiter
shared by every request to it. An app that cannot be built (its token variable is unset) gets a
setup error instead, reported as that app's observation error, so the others still run. Kept
apart from the engine, which only runs cycles over what is built here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from controller import tls
from controller.model import AppName
from controller.policy import Policy, loader
from controller.policy.schema import ConnectedAppSpec
from reconcilers.base import AppConnection, AppReconciler, ReconcilerKind, Registry
from reconcilers.throttle import Throttle, WriteRate

MIB = 1024 * 1024

HttpHooks = Callable[[str], Mapping[str, list[Callable[..., Any]]] | None]
"""httpx event hooks for a target (an app's name, or "salesforce"): how metrics see requests."""


def throttle(spec: ConnectedAppSpec, kind: ReconcilerKind) -> Throttle:
    """The app's one rate limiter: policy's rate where given, else the vendor's documented one."""
    default = kind.write_rate
    per_minute = spec.rate_limit.writes_per_minute or (default.per_minute if default else None)
    if per_minute is None:
        return Throttle(None)
    burst = spec.rate_limit.burst or (default.burst if default else 1)
    return Throttle(WriteRate(per_minute, burst))


def build(
    policy: Policy,
    apps: Sequence[AppName],
    *,
    registry: Registry,
    environ: Mapping[str, str],
    http_hooks: HttpHooks,
) -> tuple[dict[AppName, AppReconciler], dict[AppName, str]]:
    """A reconciler for each of `apps`, and why any could not be built."""
    reconcilers: dict[AppName, AppReconciler] = {}
    setup_errors: dict[AppName, str] = {}
    for name in apps:
        spec = policy.apps[name]
        token = None
        variable = spec.auth.bearer_token_env
        if variable is not None:
            token = environ.get(variable)
            if not token:
                setup_errors[name] = f"environment variable {variable} is not set"
                continue
        if spec.ca_file is not None:
            try:
                tls.context(spec.ca_file)
            except ValueError as error:  # the loader checked it; it may have gone since
                setup_errors[name] = str(error)
                continue
        kind = registry[spec.type]
        connection = AppConnection(
            app=name,
            endpoint=spec.endpoint,
            token=token,
            page_size=min(spec.page_size, kind.max_page_size),
            deadline_seconds=spec.limits.request_seconds,
            max_response_bytes=int(spec.limits.max_response_mib * MIB),
            max_pages=spec.limits.max_pages,
            event_hooks=http_hooks(name),
            throttle=throttle(spec, kind),
            ca_file=spec.ca_file,
        )
        reconcilers[name] = kind.factory(connection)
    return reconcilers, setup_errors


def load_policy(
    directory: Path,
    *,
    registry: Registry,
    environ: Mapping[str, str],
    revision: str | None = None,
) -> Policy:
    """Load and validate a policy against the attributes each registered app type supports."""
    supported = {name: kind.supported_attributes for name, kind in registry.items()}
    required = {name: kind.required_attributes for name, kind in registry.items()}
    return loader.load_policy(
        directory,
        environ=environ,
        supported_attributes=supported,
        required_attributes=required,
        cannot_delete=frozenset(name for name, kind in registry.items() if not kind.can_delete),
        revision=revision,
    )
