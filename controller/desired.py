"""PURE: who should have what, from source users and policy rules, at a given moment.

`evaluate` turns one source read and the policy into a `DesiredApp` per connected app: which
accounts should exist, active or not, with which attributes and groups. Time is an argument
(contractor end dates depend on it), so `plan` (dry-run), `apply` and the property tests all see
exactly the same desired state. A user whose attributes cannot be computed is marked unresolved,
so that a template bug never reads as a reason to suspend someone. A user whose end date does not
parse is quarantined like a record the source refused: nothing of theirs is touched, never
treated as active (an unreadable end date must not fail open).
"""

from __future__ import annotations

import datetime
import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from controller import quarantine, templates
from controller.model import (
    USER_NAME,
    AppName,
    DesiredAccount,
    DesiredApp,
    Quarantined,
    SourceRead,
    SourceUser,
    SourceUserId,
)
from controller.policy import NamedRule, Policy
from controller.policy.schema import ConnectedAppSpec, SourceSpec, When

ROLE = "role"
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
ISO_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}T")
_END_DATE_PASSED = re.compile(r"\S+ \d{4}-\d{2}-\d{2} has passed")
"""How `user_state` says an access end date passed; the journal keeps it as the reason."""


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
    quarantined: tuple[Quarantined, ...] = ()
    """Records the source set aside and users whose end date does not parse: nothing of
    theirs is touched in any app."""

    @property
    def active_users(self) -> int:
        """How many source users should have access: what the guard and the journal count."""
        return sum(1 for state in self.users.values() if state.active)


def as_date(value: Any) -> datetime.date | None:
    """An ISO date (`2027-03-31`) or datetime (`2027-03-31T00:00:00.000+0000`, its date as
    written); None when empty. ValueError for anything else (`31/12/2020`, `2020-1-1`): a
    date read wrongly could keep someone's access forever, so nothing is guessed."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    text = value.strip() if isinstance(value, str) else None
    try:
        if text is not None and ISO_DATE.fullmatch(text):
            return datetime.date.fromisoformat(text)
        if text is not None and ISO_DATETIME.match(text):
            return datetime.datetime.fromisoformat(text).date()
    except ValueError:
        pass
    raise ValueError(f"{value!r} is not an ISO date (YYYY-MM-DD)")


def end_date_passed(reason: str) -> bool:
    """Whether a reason (a user state's, or a deprovision's made from it) is that the user's
    access end date passed, rather than a deactivation or a freeze."""
    return _END_DATE_PASSED.match(reason) is not None


def user_state(user: SourceUser, spec: SourceSpec, today: datetime.date) -> UserState:
    """Whether the user should have access today, and in words why not. ValueError when the
    end date does not parse: the caller must then hold the user, never count them active."""
    if not user.is_active:
        return UserState(False, "deactivated in the source", "inactive")
    if user.frozen and spec.frozen_is_inactive:
        return UserState(False, "frozen in the source", "frozen")
    if spec.access_ends_field:
        try:
            ends = as_date(user.fields.get(spec.access_ends_field))
        except ValueError as error:
            raise ValueError(f"{spec.access_ends_field} {error}") from None
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
            ends = as_date(user.fields.get(spec.access_ends_field))
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
    states: dict[SourceUserId, UserState] = {}
    quarantined = list(read.quarantined)
    for user in read.users:
        try:
            states[user.id] = user_state(user, source_spec, today)
        except ValueError as error:
            quarantined.append(quarantine.of_user(user, source_spec.access_ends_field or "", error))
    hold, problems = _hold(read.users, states, quarantined)
    accounts: dict[str, dict[SourceUserId, DesiredAccount]] = defaultdict(dict)
    unresolved: dict[str, set[SourceUserId]] = defaultdict(set)
    for user in read.users:
        state = states.get(user.id)
        if state is None or user.id in hold.source_ids:
            continue
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
    known = frozenset(states) - hold.source_ids
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
            held_source_ids=hold.source_ids,
            held_names=hold.names,
            held_unidentified=hold.unidentified,
        )
        for name, spec in policy.apps.items()
    }
    counted = {user_id: state for user_id, state in states.items() if user_id in known}
    return Evaluation(apps, counted, tuple(problems), tuple(quarantined))


def _hold(
    users: Sequence[SourceUser],
    states: Mapping[SourceUserId, UserState],
    quarantined: Sequence[Quarantined],
) -> tuple[quarantine.Hold, list[str]]:
    """Who is held: every quarantined record, and any user read whole who shares an Id,
    username or email with one (it may be the same person, or their account)."""
    hold = quarantine.Hold.of(quarantined)
    sharing = [
        user
        for user in users
        if user.id in states and hold.covers(user.id, user.username, user.email)
    ]
    problems = [
        f"user {user.id} ({user.username}) shares its Id, Username or Email with a quarantined"
        " record; their accounts are left as they are"
        for user in sharing
    ]
    return hold.with_ids(user.id for user in sharing), problems
