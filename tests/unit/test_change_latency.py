"""Which change a confirmed operation completes, how long after the source changed, and once."""

from __future__ import annotations

import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from controller import executor
from controller.change_latency import END_DATE, JOINER, LEAVER, MOVER, ChangeLatency
from controller.executor import Outcome
from controller.model import AppName, SourceUserId
from controller.operations import Operation, OpKind

T0 = datetime.datetime(2026, 11, 2, 9, 0, tzinfo=datetime.UTC)
MIDNIGHT = datetime.datetime(2026, 11, 2, tzinfo=datetime.UTC)
ADA, BOB, CY = SourceUserId("005A"), SourceUserId("005B"), SourceUserId("005C")


def _done(
    kind: OpKind, user: SourceUserId | None, app: str = "slack", result: str = "success"
) -> Outcome:
    return Outcome(Operation(kind, AppName(app), source_id=user, group="g"), result)


def _at(seconds: float) -> datetime.datetime:
    return T0 + datetime.timedelta(seconds=seconds)


@pytest.mark.parametrize(
    ("operation", "kind"),
    [
        (OpKind.CREATE, JOINER),
        (OpKind.ACTIVATE, JOINER),
        (OpKind.SUSPEND, LEAVER),
        (OpKind.DELETE, LEAVER),
        (OpKind.UPDATE, MOVER),
        (OpKind.LINK, MOVER),
        (OpKind.ADD_MEMBER, MOVER),
        (OpKind.REMOVE_MEMBER, MOVER),
    ],
)
def test_each_operation_completes_one_kind_of_change(operation: OpKind, kind: str) -> None:
    latency = ChangeLatency({ADA: T0}, {})
    assert latency.confirmed(_done(operation, ADA), _at(3.5)) == ("slack", kind, 3.5)


def test_a_deprovision_after_an_end_date_is_measured_from_its_midnight() -> None:
    latency = ChangeLatency({ADA: T0}, {ADA: MIDNIGHT, BOB: MIDNIGHT})
    assert latency.confirmed(_done(OpKind.SUSPEND, ADA), _at(60)) == (
        "slack",
        END_DATE,
        9 * 3600 + 60,
    )
    assert latency.confirmed(_done(OpKind.DELETE, BOB, "jira"), _at(0)) == (
        "jira",
        END_DATE,
        9 * 3600,
    )
    # Anything else of such a user is not the end date's doing: measured from the change, if any.
    assert latency.confirmed(_done(OpKind.REMOVE_MEMBER, ADA), _at(2)) == ("slack", MOVER, 2.0)
    assert latency.confirmed(_done(OpKind.REMOVE_MEMBER, BOB), _at(2)) is None


def test_only_successes_of_known_users_count() -> None:
    latency = ChangeLatency({ADA: T0}, {})
    assert latency.confirmed(_done(OpKind.CREATE, CY), _at(1)) is None  # in neither map
    assert latency.confirmed(_done(OpKind.CREATE, None), _at(1)) is None
    assert latency.confirmed(_done(OpKind.CREATE_GROUP, ADA), _at(1)) is None
    assert latency.confirmed(_done(OpKind.CREATE, ADA, result=executor.ERROR), _at(1)) is None
    assert latency.confirmed(_done(OpKind.CREATE, ADA, result=executor.SKIPPED), _at(1)) is None
    # A failure measures nothing, so the success that follows is still the first.
    assert latency.confirmed(_done(OpKind.CREATE, ADA), _at(4)) == ("slack", JOINER, 4.0)


def test_each_user_app_and_kind_is_measured_once() -> None:
    latency = ChangeLatency({ADA: T0, BOB: T0}, {})
    assert latency.confirmed(_done(OpKind.UPDATE, ADA), _at(1)) == ("slack", MOVER, 1.0)
    assert latency.confirmed(_done(OpKind.ADD_MEMBER, ADA), _at(2)) is None
    assert latency.confirmed(_done(OpKind.UPDATE, ADA, "jira"), _at(3)) == ("jira", MOVER, 3.0)
    assert latency.confirmed(_done(OpKind.UPDATE, BOB), _at(4)) == ("slack", MOVER, 4.0)
    assert latency.confirmed(_done(OpKind.SUSPEND, ADA), _at(5)) == ("slack", LEAVER, 5.0)
    # Another instance (the next cycle) measures afresh.
    again = ChangeLatency({ADA: T0}, {})
    assert again.confirmed(_done(OpKind.UPDATE, ADA), _at(6)) == ("slack", MOVER, 6.0)


def test_a_clock_behind_the_source_gives_zero_not_a_negative_latency() -> None:
    latency = ChangeLatency({ADA: _at(10)}, {})
    assert latency.confirmed(_done(OpKind.SUSPEND, ADA), T0) == ("slack", LEAVER, 0.0)


USERS = st.sampled_from([ADA, BOB, CY, None])
OUTCOMES = st.lists(
    st.builds(
        _done,
        st.sampled_from(list(OpKind)),
        USERS,
        st.sampled_from(["slack", "jira"]),
        st.sampled_from([executor.SUCCESS, executor.ERROR, executor.SKIPPED]),
    ),
    max_size=30,
)
TIMES = st.dictionaries(
    st.sampled_from([ADA, BOB, CY]), st.integers(-100, 100_000).map(lambda s: _at(-s))
)


KIND = {
    "create": JOINER, "activate": JOINER, "suspend": LEAVER, "delete": LEAVER,
    "update": MOVER, "link": MOVER, "add_member": MOVER, "remove_member": MOVER,
}  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(OUTCOMES, TIMES, TIMES)
def test_every_confirmed_change_is_measured_exactly_once_from_its_own_time(
    outcomes: list[Outcome],
    changed_at: dict[SourceUserId, datetime.datetime],
    ends: dict[SourceUserId, datetime.datetime],
) -> None:
    latency = ChangeLatency(changed_at, ends)
    now = _at(50)
    measured: list[tuple[SourceUserId | None, str, str]] = []
    expected: set[tuple[SourceUserId | None, str, str]] = set()
    for outcome in outcomes:
        operation, user = outcome.operation, outcome.operation.source_id
        ended = user in ends and operation.kind.destructive
        kind = END_DATE if ended else KIND.get(operation.kind.value)
        since = ends.get(user) if ended else changed_at.get(user)  # type: ignore[arg-type]
        if outcome.result == executor.SUCCESS and kind is not None and since is not None:
            expected.add((user, operation.app, kind))
        found = latency.confirmed(outcome, now)
        if found is not None:
            app, kind_found, seconds = found
            assert (app, kind_found) == (operation.app, kind)
            assert since is not None and seconds == max(0.0, (now - since).total_seconds())
            measured.append((user, app, kind_found))
    assert len(measured) == len(set(measured))  # once each
    assert set(measured) == expected  # and none missed
