"""Membership changes to a plain SCIM app go in few PATCHes: the executor hands them all to the
reconciler at once and it batches each group's (reconcilers/members.py). Against scim2-server."""

from __future__ import annotations

from controller import executor
from controller.model import AccountId
from controller.operations import Operation, OpKind, Plan
from reconcilers.scim import ScimReconciler
from tests.adapters.test_scim_reconciler import create
from tests.conftest import SCIM_APP


async def test_sixty_memberships_take_a_few_patches_and_all_land(
    scim_reconciler: ScimReconciler,
) -> None:
    accounts = [
        await create(scim_reconciler, f"005{n:015d}", userName=f"u{n}@x.example") for n in range(60)
    ]
    group = await scim_reconciler.apply(Operation(OpKind.CREATE_GROUP, SCIM_APP, group="eng"))
    adds = tuple(
        Operation(
            OpKind.ADD_MEMBER,
            SCIM_APP,
            user_name=f"u{n}",
            account_id=AccountId(account),
            group="eng",
            group_id=group.resource_id,
        )
        for n, account in enumerate(accounts)
    )

    report = await executor.execute(Plan(SCIM_APP, adds, {}), scim_reconciler, batched_members=True)

    assert report.count("success") == 60
    assert scim_reconciler.members.patches <= 10  # one per member would be 60
    observed = await scim_reconciler.observe()
    (eng,) = observed.groups
    assert eng.members == frozenset(accounts)
