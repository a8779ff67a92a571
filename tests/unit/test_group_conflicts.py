"""Groups are tracked by id: two managed groups of one name are a conflict, never half-managed.

Issue 15: two `ward-admins` groups in the care app; the planner, keyed by name, saw one copy,
removed a demoted nurse from it and kept her in the other, while `plan` said in sync.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from controller import plan
from controller.model import AccountId, AppName, ObservedApp, ObservedGroup
from controller.operations import OpKind
from tests.fakes import account, desired_account, desired_app

MATCH = ["externalId", "userName", "email"]


def app_with(*groups: ObservedGroup) -> ObservedApp:
    nurse = account("1", "nurse@x", external_id="005A")
    other = account("2", "other@x", external_id="005B")
    return ObservedApp(AppName("app"), (nurse, other), groups)


def group(group_id: str, name: str, *members: str) -> ObservedGroup:
    return ObservedGroup(group_id, name, frozenset(AccountId(m) for m in members))


def test_a_demoted_member_of_a_doubled_group_is_removed_from_neither_copy() -> None:
    wanted = desired_app(
        desired_account("005A", "nurse@x", groups=frozenset({"ward-staff"})),
        desired_account("005B", "other@x", groups=frozenset({"ward-staff", "ward-admins"})),
    )
    seen = app_with(
        group("g1", "ward-admins", "1"),
        group("g2", "ward-admins", "1"),
        group("g3", "ward-staff", "1", "2"),
    )
    result = plan.compute(wanted, seen, match=MATCH)
    touching = [op for op in result.operations if op.group == "ward-admins"]
    assert touching == []  # neither removes the nurse nor adds the other user to one copy
    assert not result.in_sync
    (conflict,) = result.conflicts
    assert conflict.startswith("group ward-admins: 2 groups in the app have this name")
    assert "id g1: 1 members" in conflict and "id g2: 1 members" in conflict


def test_a_doubled_group_is_never_created_a_third_time() -> None:
    wanted = desired_app(desired_account("005C", "new@x", groups=frozenset({"ward-admins"})))
    seen = app_with(group("g1", "ward-admins"), group("g2", "ward-admins"))
    result = plan.compute(wanted, seen, match=MATCH)
    assert [op.kind for op in result.operations] == [OpKind.CREATE]
    assert len(result.conflicts) == 1


def test_an_unmanaged_doubled_group_is_not_ours_and_no_conflict() -> None:
    wanted = desired_app(desired_account("005A", "nurse@x", groups=frozenset({"ward-staff"})))
    seen = app_with(
        group("g1", "lunch-club", "1"), group("g2", "lunch-club"), group("g3", "ward-staff", "1")
    )
    result = plan.compute(wanted, seen, match=MATCH)
    assert result.conflicts == ()
    assert result.in_sync


def test_a_single_group_is_changed_by_its_own_id() -> None:
    seen = app_with(group("g7", "ward-admins", "1"))
    wanted = desired_app(desired_account("005A", "nurse@x"), groups=frozenset({"ward-admins"}))
    (removal,) = plan.compute(wanted, seen, match=MATCH).operations
    assert (removal.kind, removal.group, removal.group_id) == (
        OpKind.REMOVE_MEMBER,
        "ward-admins",
        "g7",
    )


NAMES = ("ward-staff", "ward-admins", "pharmacy")


@settings(max_examples=200, deadline=None)
@given(
    copies=st.fixed_dictionaries({name: st.integers(0, 3) for name in NAMES}),
    memberships=st.lists(st.sets(st.sampled_from(NAMES)), min_size=2, max_size=2),
    granted=st.lists(st.sets(st.sampled_from(NAMES)), min_size=3, max_size=3),
    seed=st.randoms(use_true_random=False),
)
def test_no_plan_touches_a_name_held_twice(
    copies: dict[str, int],
    memberships: list[set[str]],
    granted: list[set[str]],
    seed: Any,
) -> None:
    groups = []
    for name, count in copies.items():
        for copy in range(count):
            members = [m for m, held in zip("12", memberships, strict=True) if name in held]
            kept = [m for m in members if seed.random() < 0.7]  # copies can differ
            groups.append(group(f"{name}-{copy}", name, *kept))
    wanted = desired_app(
        desired_account("005A", "nurse@x", groups=frozenset(granted[0])),
        desired_account("005B", "other@x", groups=frozenset(granted[1])),
        desired_account("005C", "new@x", groups=frozenset(granted[2])),
        groups=frozenset(NAMES),
    )
    result = plan.compute(wanted, app_with(*groups), match=MATCH)
    doubled = {name for name, count in copies.items() if count > 1}
    assert not [op for op in result.operations if op.group in doubled]
    assert {c.split(":")[0].removeprefix("group ") for c in result.conflicts} == doubled
    assert not (doubled and result.in_sync)
    created = [op.group for op in result.operations if op.kind is OpKind.CREATE_GROUP]
    assert all(copies[name] == 0 for name in created)
