"""The planner, case by case: one desired and observed state in, the exact operations out."""

from __future__ import annotations

import pytest

from controller import plan
from controller.model import ObservedApp
from controller.operations import DriftKind, OpKind
from tests.fakes import account, apply_plan, desired_account, desired_app, observed

MATCH = ["externalId", "userName", "email"]


def kinds(result: plan.Plan) -> list[tuple[OpKind, str | None]]:
    return [(op.kind, op.user_name if op.group is None else op.group) for op in result.operations]


def test_new_user_is_created_with_groups_after_the_groups_exist() -> None:
    wanted = desired_app(desired_account("005A", "ada@x", groups=frozenset({"eng", "all"})))
    result = plan.compute(wanted, observed(groups={"all": set()}), match=MATCH)
    assert kinds(result) == [
        (OpKind.CREATE_GROUP, "eng"),
        (OpKind.CREATE, "ada@x"),
        (OpKind.ADD_MEMBER, "all"),
        (OpKind.ADD_MEMBER, "eng"),
    ]
    assert result.drift[DriftKind.MISSING] == 1


def test_in_sync_app_gives_an_empty_plan() -> None:
    wanted = desired_app(
        desired_account("005A", "ada@x", displayName="Ada", groups=frozenset({"eng"}))
    )
    app = observed(
        account("1", "ada@x", external_id="005A", displayName="Ada"), groups={"eng": {"1"}}
    )
    result = plan.compute(wanted, app, match=MATCH)
    assert result.operations == ()
    assert result.in_sync
    assert all(count == 0 for count in result.drift.values())


def test_changed_attribute_gives_one_update_with_the_difference() -> None:
    wanted = desired_app(desired_account("005A", "ada@x", displayName="Ada King"))
    app = observed(account("1", "ada@x", external_id="005A", displayName="Ada"))
    result = plan.compute(wanted, app, match=MATCH)
    assert kinds(result) == [(OpKind.UPDATE, "ada@x")]
    (change,) = result.operations[0].changes
    assert (change.attribute, change.before, change.after) == ("displayName", "Ada", "Ada King")
    assert result.operations[0].attributes == {"displayName": "Ada King"}


def test_user_name_differing_only_in_case_is_no_change() -> None:
    wanted = desired_app(desired_account("005A", "ada@x.com"))
    app = observed(account("1", "Ada@X.com", external_id="005A"))
    assert plan.compute(wanted, app, match=MATCH).operations == ()


def test_unlinked_account_with_same_user_name_in_other_case_is_linked_not_duplicated() -> None:
    wanted = desired_app(desired_account("005A", "ada@x.com"))
    app = observed(account("1", "ADA@x.com"))
    result = plan.compute(wanted, app, match=MATCH)
    assert kinds(result) == [(OpKind.LINK, "ada@x.com")]
    assert result.operations[0].account_id == "1"


def test_match_by_email_when_user_names_differ() -> None:
    wanted = desired_app(desired_account("005A", "ada", email="Ada@X.com"))
    app = observed(account("1", "a.lovelace", **{"emails.work": "ada@x.com"}))
    result = plan.compute(wanted, app, match=["externalId", "email"])
    assert [op.kind for op in result.operations] == [OpKind.LINK, OpKind.UPDATE]


def test_match_list_is_honoured_no_email_matching_when_not_listed() -> None:
    wanted = desired_app(desired_account("005A", "ada", email="ada@x.com"))
    app = observed(account("1", "a.lovelace", **{"emails.work": "ada@x.com"}))
    result = plan.compute(wanted, app, match=["externalId", "userName"])
    assert kinds(result) == [(OpKind.CREATE, "ada")]


def test_deactivated_user_gives_exactly_one_suspend() -> None:
    wanted = desired_app(desired_account("005A", "ada@x", active=False, groups=frozenset({"eng"})))
    app = observed(account("1", "ada@x", external_id="005A"), groups={"eng": {"1"}})
    result = plan.compute(wanted, app, match=MATCH)
    assert kinds(result) == [(OpKind.SUSPEND, "ada@x")]
    assert result.drift[DriftKind.UNEXPECTED] == 1


def test_inactive_user_without_account_gets_nothing() -> None:
    wanted = desired_app(desired_account("005A", "ada@x", active=False))
    assert plan.compute(wanted, observed(), match=MATCH).operations == ()


def test_reactivated_user_gets_the_same_account_back() -> None:
    wanted = desired_app(desired_account("005A", "ada@x"))
    app = observed(account("1", "ada@x", external_id="005A", active=False))
    result = plan.compute(wanted, app, match=MATCH)
    assert kinds(result) == [(OpKind.ACTIVATE, "ada@x")]
    assert result.operations[0].account_id == "1"


def test_user_who_lost_every_grant_is_suspended_and_leaves_managed_groups_only() -> None:
    wanted = desired_app(known=("005A",), groups=frozenset({"eng", "ops"}))
    app = observed(
        account("1", "ada@x", external_id="005A"),
        groups={"eng": {"1"}, "ops": {"1"}, "hand-made": {"1"}},
    )
    result = plan.compute(wanted, app, match=MATCH)
    assert kinds(result) == [
        (OpKind.REMOVE_MEMBER, "eng"),
        (OpKind.REMOVE_MEMBER, "ops"),
        (OpKind.SUSPEND, "ada@x"),
    ]
    assert result.drift[DriftKind.GROUPS] == 1  # one account, however many groups
    assert result.drift[DriftKind.UNEXPECTED] == 1


def test_changed_grant_moves_memberships() -> None:
    wanted = desired_app(
        desired_account("005A", "ada@x", groups=frozenset({"support"})),
        groups=frozenset({"eng", "support"}),
    )
    app = observed(
        account("1", "ada@x", external_id="005A"), groups={"eng": {"1"}, "support": set()}
    )
    result = plan.compute(wanted, app, match=MATCH)
    assert kinds(result) == [(OpKind.ADD_MEMBER, "support"), (OpKind.REMOVE_MEMBER, "eng")]
    assert result.drift[DriftKind.GROUPS] == 1


def test_orphan_is_reported_and_not_touched() -> None:
    wanted = desired_app(desired_account("005A", "ada@x"))
    app = observed(account("1", "ada@x", external_id="005A"), account("2", "stranger@x"))
    result = plan.compute(wanted, app, match=MATCH)
    assert result.operations == ()
    assert [o.user_name for o in result.orphans] == ["stranger@x"]
    assert result.drift[DriftKind.ORPHANED] == 1


def test_orphan_is_suspended_only_when_the_app_prunes() -> None:
    app = observed(account("2", "stranger@x"))
    result = plan.compute(desired_app(), app, match=MATCH, prune=True)
    assert kinds(result) == [(OpKind.SUSPEND, "stranger@x")]


def test_excluded_account_is_never_touched_even_when_its_user_left() -> None:
    wanted = desired_app(
        desired_account("005A", "break-glass@x", active=False), exclude=("break-glass*",)
    )
    app = observed(account("1", "break-glass@x", external_id="005A"))
    result = plan.compute(wanted, app, match=MATCH)
    assert result.operations == ()


def test_failed_source_read_holds_every_removal_but_not_creates() -> None:
    wanted = desired_app(desired_account("005B", "new@x"), known=("005A",), source_complete=False)
    app = observed(account("1", "ada@x", external_id="005A"))
    result = plan.compute(wanted, app, match=MATCH)
    assert kinds(result) == [(OpKind.CREATE, "new@x")]
    assert [op.kind for op in result.blocked] == [OpKind.SUSPEND]
    assert result.blocked_reason is not None and "cannot be trusted" in result.blocked_reason


def test_failed_observation_plans_nothing() -> None:
    wanted = desired_app(desired_account("005A", "ada@x"))
    broken = ObservedApp(wanted.app, (), (), error="listing cut short")
    result = plan.compute(wanted, broken, match=MATCH)
    assert result.operations == ()
    assert result.error is not None and "listing cut short" in result.error


def test_unresolved_user_account_is_left_alone() -> None:
    wanted = desired_app(known=("005A",), unresolved=frozenset({"005A"}))  # type: ignore[arg-type]
    app = observed(account("1", "ada@x", external_id="005A"))
    result = plan.compute(wanted, app, match=MATCH)
    assert result.operations == ()


@pytest.mark.parametrize("removed_value", [None, ""])
def test_attribute_emptied_in_source_is_removed(removed_value: str | None) -> None:
    wanted = desired_app(desired_account("005A", "ada@x", title=removed_value))
    app = observed(account("1", "ada@x", external_id="005A", title="Engineer"))
    result = plan.compute(wanted, app, match=MATCH)
    assert kinds(result) == [(OpKind.UPDATE, "ada@x")]


def test_applying_a_plan_converges() -> None:
    wanted = desired_app(
        desired_account("005A", "ada@x", displayName="Ada", groups=frozenset({"eng"})),
        desired_account("005B", "bob@x", displayName="Bob", active=False),
        desired_account("005C", "cy@x", displayName="Cy", groups=frozenset({"ops"})),
        known=("005D",),
    )
    app = observed(
        account("1", "BOB@x", external_id="005B"),
        account("2", "cy@x", displayName="C"),
        account("4", "dee@x", external_id="005D"),
        groups={"eng": {"4"}},
    )
    first = plan.compute(wanted, app, match=MATCH)
    after = apply_plan(app, first)
    assert plan.compute(wanted, after, match=MATCH).operations == ()
