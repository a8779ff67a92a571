"""Properties of the planner over random desired and observed states (DESIGN.md section 7).

Applying a plan to the observed state yields a state whose next plan is empty, no plan ever
deprovisions an excluded, unmanaged or unread account, and no plan ever touches an account that
may be a quarantined user's (rule 7).
"""

from __future__ import annotations

import datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from controller import guard, matching, plan
from controller.model import AccountId, DesiredApp, ObservedAccount, ObservedApp, SourceUserId
from controller.operations import OpKind
from controller.policy.schema import DeprovisionSpec, SafetySpec
from tests.fakes import account, apply_plan, desired_account, desired_app, observed

GROUPS = ("a", "b", "c")
NAMES = ("Ada", "Bob", "Cy", None)
MATCH = ["externalId", "userName", "email"]
EXAMPLES = settings(max_examples=500, deadline=None)
NOW = datetime.datetime(2026, 11, 28, tzinfo=datetime.UTC)


@st.composite
def lifecycles(draw: st.DrawFn, app: ObservedApp) -> plan.Lifecycle:
    """A deprovisioning policy and, for some suspended accounts, when they were suspended."""
    spec = draw(
        st.sampled_from(
            [
                DeprovisionSpec(),
                DeprovisionSpec(action="delete"),
                DeprovisionSpec(delete_after="1d"),
            ]
        )
    )
    days = st.sampled_from([0, 1, 2])
    since = {
        a.id: NOW - datetime.timedelta(days=draw(days))
        for a in app.accounts
        if not a.active and draw(st.booleans())
    }
    return plan.Lifecycle(spec, since, NOW)


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[DesiredApp, ObservedApp, bool]:
    count = draw(st.integers(0, 8))
    desired_accounts = []
    known = []
    accounts: list[ObservedAccount] = []
    memberships: dict[str, set[str]] = {g: set() for g in GROUPS if draw(st.booleans())}
    for i in range(count):
        sid, user_name = f"005{i:03d}", f"u{i}@x"
        known.append(sid)
        if draw(st.booleans()):
            desired_accounts.append(
                desired_account(
                    sid,
                    user_name,
                    active=draw(st.booleans()),
                    groups=frozenset(draw(st.sets(st.sampled_from(GROUPS)))),
                    displayName=draw(st.sampled_from(NAMES)),
                )
            )
        if draw(st.booleans()):
            link = draw(st.sampled_from(["linked", "unlinked"]))
            shown = draw(st.sampled_from([user_name, user_name.upper()]))
            account_id = f"acc-{i}"
            accounts.append(
                account(
                    account_id,
                    shown,
                    external_id=sid if link == "linked" else None,
                    active=draw(st.booleans()),
                    displayName=draw(st.sampled_from(NAMES)),
                )
            )
            for group in draw(st.sets(st.sampled_from(tuple(memberships)))) if memberships else ():
                memberships[group].add(account_id)
    for j in range(draw(st.integers(0, 3))):
        foreign = draw(st.sampled_from([None, "zzz"]))
        accounts.append(account(f"orphan-{j}", f"o{j}@x", external_id=foreign))
    exclude = draw(st.sampled_from([(), ("u1@*",), ("o0@x",)]))
    # Quarantined records: some users' Ids (their desired accounts may still be there: the
    # planner must skip them too), some of their names, a record with no Id but a name, and
    # sometimes a record with no Id at all (then nothing unlinked to a user read whole is safe).
    held = draw(st.sets(st.integers(0, 7), max_size=2))
    held_ids = frozenset(SourceUserId(f"005{i:03d}") for i in held)
    held_names = {f"u{i}@x" for i in held if draw(st.booleans())}
    held_names |= set(draw(st.sets(st.sampled_from(["o1@x", "u2@x"]), max_size=1)))
    wanted = desired_app(
        *desired_accounts,
        known=tuple(known),
        groups=frozenset(GROUPS),
        exclude=exclude,
        source_complete=draw(st.booleans()),
        held_source_ids=held_ids,
        held_names=frozenset(held_names),
        held_unidentified=draw(st.booleans()),
    )
    return wanted, observed(*accounts, groups=memberships), draw(st.booleans())


@EXAMPLES
@given(scenarios(), st.data())
def test_after_apply_the_next_plan_is_empty(
    scenario: tuple[DesiredApp, ObservedApp, bool], data: st.DataObject
) -> None:
    wanted, app, prune = scenario
    life = data.draw(lifecycles(app))
    first = plan.compute(wanted, app, match=MATCH, prune=prune, lifecycle=life)
    # What apply records: an account suspended now starts its grace period now.
    after = apply_plan(app, first)
    suspended = {op.account_id for op in first.operations if op.kind is OpKind.SUSPEND}
    since = {k: v for k, v in life.suspended_since.items() if k in {a.id for a in after.accounts}}
    since.update({AccountId(str(i)): NOW for i in suspended if i})
    later = plan.Lifecycle(life.spec, since, NOW)
    second = plan.compute(wanted, after, match=MATCH, prune=prune, lifecycle=later)
    assert second.operations == ()


@EXAMPLES
@given(scenarios(), st.data())
def test_never_deprovisions_excluded_unmanaged_or_when_the_source_is_incomplete(
    scenario: tuple[DesiredApp, ObservedApp, bool], data: st.DataObject
) -> None:
    wanted, app, prune = scenario
    life = data.draw(lifecycles(app))
    result = plan.compute(wanted, app, match=MATCH, prune=prune, lifecycle=life)
    by_id = {a.id: a for a in app.accounts}
    adopted = {op.account_id for op in result.operations if op.kind is OpKind.LINK}
    for op in result.operations:
        if op.kind not in (OpKind.SUSPEND, OpKind.DELETE, OpKind.REMOVE_MEMBER):
            continue
        assert wanted.source_complete, "a removal was planned from an incomplete source read"
        target = by_id[op.account_id] if op.account_id else None
        assert target is not None, "a removal must name an existing account"
        email = target.attributes.get("emails.work")
        assert not matching.is_excluded(wanted.exclude, target.user_name, email)
        managed = target.external_id in wanted.known_source_ids or target.id in adopted
        assert managed or prune, "unmanaged account touched"
        if op.kind is OpKind.DELETE:
            assert not target.active, "deleted without being suspended first"
            since = life.suspended_since.get(target.id)
            assert since is not None and since < NOW, "deleted on first sight"


@EXAMPLES
@given(scenarios())
def test_an_unread_app_gets_no_operations(scenario: tuple[DesiredApp, ObservedApp, bool]) -> None:
    wanted, app, prune = scenario
    broken = ObservedApp(app.app, app.accounts[:1], app.groups, error="page 2 failed")
    assert plan.compute(wanted, broken, match=MATCH, prune=prune).operations == ()


@EXAMPLES
@given(scenarios(), st.integers(0, 4), st.floats(0, 100), st.booleans())
def test_deprovision_thresholds_always_hold(
    scenario: tuple[DesiredApp, ObservedApp, bool], per_run: int, percent: float, allow: bool
) -> None:
    wanted, app, prune = scenario
    safety = SafetySpec(max_deprovisions_per_run=per_run, max_deprovisions_percent=percent)
    planned = plan.compute(wanted, app, match=MATCH, prune=prune)
    held = guard.hold_deprovisions(
        planned,
        accounts=len(app.accounts),
        safety=safety,
        release=guard.FLAG_RELEASE if allow else None,
    )
    destructive = [op for op in held.operations if op.kind.destructive]
    others = [op for op in held.operations if not op.kind.destructive]
    assert others == [op for op in planned.operations if not op.kind.destructive]
    if not allow:
        within = guard.deprovision_limit_exceeded(len(destructive), len(app.accounts), safety)
        assert within is None, "more deprovisions than the limits allow"
        assert len(destructive) + len(held.blocked) >= len(
            [op for op in planned.operations if op.kind.destructive]
        )


def may_be_held(wanted: DesiredApp, account: ObservedAccount) -> bool:
    """The spec: an account answering to a held Id, or to a held name unless it is linked by
    externalId to a user read whole; any account not so linked when a held record has no Id."""
    if account.external_id in wanted.held_source_ids:
        return True
    if account.external_id in wanted.known_source_ids:
        return False
    if wanted.held_unidentified:
        return True
    names = {account.user_name, account.attributes.get("emails.work") or ""}
    return any(name.casefold() in wanted.held_names for name in names if name)


@EXAMPLES
@given(scenarios(), st.data())
def test_no_plan_touches_an_account_of_a_quarantined_user(
    scenario: tuple[DesiredApp, ObservedApp, bool], data: st.DataObject
) -> None:
    wanted, app, prune = scenario
    life = data.draw(lifecycles(app))
    result = plan.compute(wanted, app, match=MATCH, prune=prune, lifecycle=life)
    by_id = {a.id: a for a in app.accounts}
    for op in (*result.operations, *result.blocked):
        assert op.source_id not in wanted.held_source_ids, f"{op} acts for a held user"
        if op.kind is OpKind.CREATE_GROUP:
            continue
        assert op.user_name is not None
        if op.account_id is None:  # a create, or a membership of an account it creates
            assert op.user_name.casefold() not in wanted.held_names, f"{op} creates a held name"
        else:
            assert not may_be_held(wanted, by_id[op.account_id]), f"{op} touches a held account"
    for orphan in result.orphans:
        assert not may_be_held(wanted, by_id[orphan.account_id]), "a held account as an orphan"
