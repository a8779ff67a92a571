"""PURE: who should have what, from source users and policy rules, at a given moment.

`evaluate` turns one source read and the policy into a `DesiredApp` per connected app: which
accounts should exist, active or not, with which attributes and groups. Time is an argument
(contractor end dates depend on it), so `plan` (dry-run), `apply` and the property tests all see
exactly the same desired state. A user whose attributes cannot be computed is marked unresolved,
so that a template bug never reads as a reason to suspend someone.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from controller import templates
from controller.model import (
    USER_NAME,
    AppName,
    DesiredAccount,
    DesiredApp,
    SourceRead,
    SourceUser,
    SourceUserId,
)
from controller.policy import NamedRule, Policy
from controller.policy.schema import ConnectedAppSpec, SourceSpec, When

ROLE = "role"


@dataclass(frozen=True)
class UserState:
    active: bool
    reason: str
    state: str
    """active | inactive | frozen, as the `provisioner_source_users` metric counts them."""


@dataclass(frozen=True)
class Evaluation:
    apps: Mapping[AppName, DesiredApp]
    users: Mapping[SourceUserId, UserState]
    problems: tuple[str, ...]
    """Users left unresolved in some app, each with why; shown to the operator, never fatal."""

    @property
    def active_users(self) -> int:
        """How many source users should have access: what the guard and the journal count."""
        return sum(1 for state in self.users.values() if state.active)


def _as_date(value: Any) -> datetime.date | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    return datetime.date.fromisoformat(str(value)[:10])


def user_state(user: SourceUser, spec: SourceSpec, today: datetime.date) -> UserState:
    """Whether the user should have access today, and in words why not."""
    if not user.is_active:
        return UserState(False, "deactivated in the source", "inactive")
    if user.frozen and spec.frozen_is_inactive:
        return UserState(False, "frozen in the source", "frozen")
    if spec.access_ends_field:
        try:
            ends = _as_date(user.fields.get(spec.access_ends_field))
        except ValueError:
            ends = None
        if ends is not None and today >= ends:
            return UserState(
                False, f"{spec.access_ends_field} {ends.isoformat()} has passed", "inactive"
            )
    return UserState(True, "active in the source", "active")


def access_ended_at(user: SourceUser, spec: SourceSpec) -> datetime.datetime | None:
    """When the source took this user's access away, where it says: the end date's midnight
    (UTC), or for a deactivation the user record's last change (`SystemModstamp`). None when
    the source does not say (a freeze, or a file source without the field)."""
    if user.is_active and spec.access_ends_field:
        try:
            ends = _as_date(user.fields.get(spec.access_ends_field))
        except ValueError:
            return None
        if ends is None:
            return None
        return datetime.datetime.combine(ends, datetime.time(), tzinfo=datetime.UTC)
    if not user.is_active:
        stamp = user.fields.get("SystemModstamp")
        try:
            moment = datetime.datetime.fromisoformat(str(stamp)) if stamp else None
        except ValueError:
            return None
        if moment is not None and moment.tzinfo is None:
            moment = moment.replace(tzinfo=datetime.UTC)
        return moment
    return None


def _any_of(wanted: Sequence[str] | None, have: str | None) -> bool:
    if wanted is None:
        return True
    return have is not None and have.casefold() in {value.casefold() for value in wanted}


def rule_matches(when: When, user: SourceUser) -> bool:
    """Every condition listed must hold; within one condition any listed value matches."""
    if not (
        _any_of(when.profile, user.profile)
        and _any_of(when.role, user.role)
        and _any_of(when.department, user.department)
    ):
        return False
    if when.permission_set is not None:
        wanted = {name.casefold() for name in when.permission_set}
        if not wanted & {name.casefold() for name in user.permission_sets}:
            return False
    for field_name, values in (when.fields or {}).items():
        value = user.fields.get(field_name)
        if not _any_of(values, None if value is None else str(value)):
            return False
    return True


@dataclass
class _Grants:
    groups: set[str]
    role: str | None
    rules: list[str]


def _grants_for(user: SourceUser, rules: Sequence[NamedRule]) -> dict[str, _Grants]:
    grants: dict[str, _Grants] = {}
    for rule in rules:
        if not rule_matches(rule.spec.when, user):
            continue
        for grant in rule.spec.grant:
            entry = grants.setdefault(grant.app, _Grants(set(), None, []))
            entry.groups.update(grant.groups)
            entry.role = grant.role if grant.role is not None else entry.role
            entry.rules.append(rule.name)
    return grants


def renderer(user: SourceUser) -> templates.Renderer:
    """Renders the user's templates. An empty field renders as an empty string, and an empty
    result means "no value": a user without a Title simply has no title in the app."""
    return templates.Renderer(
        {name: ("" if value is None else value) for name, value in user.fields.items()}
    )


def _attributes(
    spec: ConnectedAppSpec, render: templates.Renderer, role: str | None
) -> dict[str, Any]:
    attributes: dict[str, Any] = {}
    for name, text in spec.attributes.items():
        rendered = render.render(text)
        attributes[name] = rendered or None
    if not attributes.get(USER_NAME):
        raise templates.TemplateError("userName rendered empty")
    if role is not None:
        attributes[ROLE] = role
    return attributes


def evaluate(policy: Policy, read: SourceRead, *, now: datetime.datetime) -> Evaluation:
    """The desired state of every app in the policy, for the users of one source read."""
    source_spec = policy.sources[0].spec
    today = now.date()
    states = {user.id: user_state(user, source_spec, today) for user in read.users}
    accounts: dict[str, dict[SourceUserId, DesiredAccount]] = defaultdict(dict)
    unresolved: dict[str, set[SourceUserId]] = defaultdict(set)
    problems: list[str] = []
    for user in read.users:
        state = states[user.id]
        render = renderer(user)  # shared by the user's apps, which mostly use the same templates
        for app, grant in _grants_for(user, policy.rules).items():
            try:
                attributes = _attributes(policy.apps[app], render, grant.role)
            except templates.TemplateError as error:
                unresolved[app].add(user.id)
                problems.append(f"{app}: user {user.id}: {error}; the account is left as it is")
                continue
            reason = f"rules {', '.join(grant.rules)}" if state.active else state.reason
            accounts[app][user.id] = DesiredAccount(
                source_id=user.id,
                user_name=str(attributes[USER_NAME]),
                email=user.email,
                active=state.active,
                attributes=attributes,
                groups=frozenset(grant.groups),
                reason=reason,
            )
    known = frozenset(states)
    apps = {
        AppName(name): DesiredApp(
            app=AppName(name),
            accounts=accounts.get(name, {}),
            managed_groups=frozenset(
                group
                for rule in policy.rules
                for grant in rule.spec.grant
                if grant.app == name
                for group in grant.groups
            ),
            known_source_ids=known,
            unresolved=frozenset(unresolved.get(name, set())),
            exclude=tuple(spec.exclude),
            source_complete=read.ok,
        )
        for name, spec in policy.apps.items()
    }
    return Evaluation(apps=apps, users=states, problems=tuple(problems))
