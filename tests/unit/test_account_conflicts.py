"""Two accounts carrying one user's externalId are a conflict, never an update retried forever.

Issue 17: the app held two accounts with one externalId; the planner linked the first, took the
second for an orphan (which `prune` would suspend), and planned an update that failed every
cycle. Which account is the real one is a person's call: nothing is done for the user, nor to
either account, and the plan says which app, how many accounts and their ids, and what to do.
"""

from __future__ import annotations

from controller import plan
from controller.model import AppName, ObservedApp, ObservedGroup
from controller.operations import OpKind
from tests.fakes import account, desired_account, desired_app

MATCH = ["externalId", "userName", "email"]


def doubled_app(*extra: ObservedGroup) -> ObservedApp:
    first = account("a1", "ada@x", external_id="005A", title="old")
    second = account("a2", "ada.l@x", external_id="005A", active=False, title="old")
    other = account("b1", "bob@x", external_id="005B", title="old")
    return ObservedApp(AppName("app"), (first, second, other), extra)


def test_two_accounts_with_one_external_id_are_a_conflict_and_nothing_is_planned_for_the_user() -> (
    None
):
    wanted = desired_app(
        desired_account("005A", "ada@x", title="new", groups=frozenset({"staff"})),
        desired_account("005B", "bob@x", title="new"),
    )
    result = plan.compute(wanted, doubled_app(), match=MATCH, prune=True)
    assert [op.source_id for op in result.operations] == ["005B"]  # bob is still reconciled
    assert [op.kind for op in result.operations] == [OpKind.UPDATE]
    assert not [op for op in result.operations if op.account_id in ("a1", "a2")]
    assert not result.in_sync
    (conflict,) = result.conflicts
    assert conflict.startswith("user 005A: 2 accounts in app carry this externalId")
    assert "account ids a1, a2" in conflict
    assert "deletes the duplicate account in the app or clears its externalId" in conflict
    assert "ada" not in conflict  # account ids, never names or emails
    assert result.orphans == ()  # the second copy is no orphan for `prune` to suspend


def test_a_doubled_user_no_rule_grants_is_not_deprovisioned_on_either_account() -> None:
    wanted = desired_app(desired_account("005B", "bob@x"), known=("005A",))
    result = plan.compute(wanted, doubled_app(), match=MATCH, prune=True)
    assert not [op for op in result.operations if op.account_id in ("a1", "a2")]
    assert not [op for op in result.blocked if op.account_id in ("a1", "a2")]
    assert len(result.conflicts) == 1


def test_a_doubled_user_adopts_no_third_account_and_is_given_none() -> None:
    unlinked = account("c1", "ada@x.other", title="new")
    seen = doubled_app()
    seen = ObservedApp(seen.app, (*seen.accounts, unlinked), ())
    wanted = desired_app(desired_account("005A", "ada@x.other", title="new"))
    result = plan.compute(wanted, seen, match=MATCH)
    assert result.operations == ()  # no LINK of c1, no CREATE
    assert len(result.conflicts) == 1


def test_a_doubled_users_group_memberships_are_left_as_they_are() -> None:
    staff = ObservedGroup("g1", "staff", frozenset({"a1", "a2"}))  # type: ignore[arg-type]
    wanted = desired_app(desired_account("005A", "ada@x"), groups=frozenset({"staff"}))
    result = plan.compute(wanted, doubled_app(staff), match=MATCH)
    assert not [op for op in result.operations if op.group == "staff"]


def test_one_account_per_external_id_is_no_conflict() -> None:
    wanted = desired_app(desired_account("005B", "bob@x", title="old"))
    seen = ObservedApp(
        AppName("app"), (account("b1", "bob@x", external_id="005B", title="old"),), ()
    )
    result = plan.compute(wanted, seen, match=MATCH)
    assert result.conflicts == () and result.in_sync


def test_accounts_sharing_an_unknown_external_id_are_orphans_not_a_conflict() -> None:
    wanted = desired_app(desired_account("005B", "bob@x", title="old"))
    seen = ObservedApp(
        AppName("app"),
        (
            account("b1", "bob@x", external_id="005B", title="old"),
            account("z1", "z1@x", external_id="005Z"),
            account("z2", "z2@x", external_id="005Z"),
        ),
        (),
    )
    result = plan.compute(wanted, seen, match=MATCH)
    assert result.conflicts == ()
    assert {orphan.account_id for orphan in result.orphans} == {"z1", "z2"}
