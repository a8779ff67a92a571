"""Suspend before delete; delete only after the grace period, never on first sight (rule 5)."""

from __future__ import annotations

import datetime

import pytest

from controller import lifecycle, plan
from controller.operations import OpKind
from controller.policy.schema import DeprovisionSpec
from tests.fakes import account, desired_account, desired_app, observed

NOW = datetime.datetime(2026, 11, 28, 12, tzinfo=datetime.UTC)
DAY = datetime.timedelta(days=1)


@pytest.mark.parametrize(
    ("spec", "active", "since", "expected"),
    [
        ({}, True, None, OpKind.SUSPEND),
        ({}, False, NOW - 400 * DAY, None),  # suspend only: never deleted
        ({"deleteAfter": "30d"}, True, None, OpKind.SUSPEND),  # suspend first, always
        ({"deleteAfter": "30d"}, False, None, None),  # first sight: start the clock
        ({"deleteAfter": "30d"}, False, NOW - 29 * DAY, None),
        ({"deleteAfter": "30d"}, False, NOW - 30 * DAY, OpKind.DELETE),
        ({"action": "delete"}, True, None, OpKind.SUSPEND),
        ({"action": "delete"}, False, None, None),  # never on first sight
        ({"action": "delete"}, False, NOW, None),  # suspended this very moment
        ({"action": "delete"}, False, NOW - datetime.timedelta(minutes=5), OpKind.DELETE),
    ],
)
def test_rule5_next_step(
    spec: dict[str, str], active: bool, since: datetime.datetime | None, expected: OpKind | None
) -> None:
    step = lifecycle.next_step(
        active=active, suspended_since=since, now=NOW, spec=DeprovisionSpec.model_validate(spec)
    )
    assert step is expected


def test_rule5_planner_deletes_a_leaver_only_after_the_grace_period() -> None:
    wanted = desired_app(desired_account("005A", "ada@x", active=False))
    app = observed(account("1", "ada@x", external_id="005A", active=False))
    spec = DeprovisionSpec.model_validate({"deleteAfter": "30d"})

    def kinds(since: datetime.datetime | None) -> list[OpKind]:
        recorded = {} if since is None else {"1": since}
        life = plan.Lifecycle(spec, recorded, NOW)  # type: ignore[arg-type]
        result = plan.compute(wanted, app, match=["externalId"], lifecycle=life)
        return [op.kind for op in result.operations]

    assert kinds(None) == []
    assert kinds(NOW - 10 * DAY) == []
    assert kinds(NOW - 31 * DAY) == [OpKind.DELETE]


def test_rule5_no_deletion_without_a_clock() -> None:
    wanted = desired_app(desired_account("005A", "ada@x", active=False))
    app = observed(account("1", "ada@x", external_id="005A", active=False))
    life = plan.Lifecycle(DeprovisionSpec(action="delete"), {}, None)
    assert plan.compute(wanted, app, match=["externalId"], lifecycle=life).operations == ()
