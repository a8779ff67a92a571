"""The executor: plan order, ids handed from creates to memberships, and failures that skip."""

from __future__ import annotations

from controller import executor, plan
from controller.operations import OpKind
from tests.fakes import FakeReconciler, desired_account, desired_app, observed

MATCH = ["externalId", "userName"]


async def test_created_ids_reach_the_membership_operations() -> None:
    wanted = desired_app(desired_account("005A", "ada@x", groups=frozenset({"eng"})))
    state = observed()
    fake = FakeReconciler(state)
    report = await executor.execute(plan.compute(wanted, state, match=MATCH), fake)
    assert not report.failed
    kinds = [op.kind for op in fake.applied]
    assert kinds == [OpKind.CREATE_GROUP, OpKind.CREATE, OpKind.ADD_MEMBER]
    add = fake.applied[2]
    assert (add.account_id, add.group_id) == ("id-005A", "id-eng")


async def test_failed_create_skips_its_memberships_and_reports_every_operation() -> None:
    wanted = desired_app(
        desired_account("005A", "ada@x", groups=frozenset({"eng"})),
        groups=frozenset({"eng"}),
    )
    state = observed(groups={"eng": set()})
    fake = FakeReconciler(state, fail={OpKind.CREATE})
    the_plan = plan.compute(wanted, state, match=MATCH)
    report = await executor.execute(the_plan, fake)
    assert report.failed
    assert [o.result for o in report.outcomes] == ["error", "skipped"]
    assert report.outcomes[1].detail == "its account was not created"
    assert fake.applied == []
