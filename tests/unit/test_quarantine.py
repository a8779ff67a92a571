"""Rule 7 in the pure core: a quarantined user's accounts are left exactly as they are.

A record the source set aside, or a user whose end date does not parse, gets no desired account,
and any account answering to their Id, username or email is neither changed, deprovisioned nor
reported as an orphan; every other user is planned as usual.
"""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from controller import desired, guard, plan, quarantine
from controller.model import Quarantined, SourceRead, SourceUserId
from controller.operations import OpKind
from controller.sources.base import user_from_fields
from tests.fakes import account, desired_account, desired_app, observed
from tests.unit.test_desired import ENG, NOW, make_policy

MATCH = ["externalId", "userName", "email"]


def user(uid: str, **fields: Any) -> Any:
    base = {"Id": uid, "Username": f"{uid}@x", "Email": f"{uid}@x", "Department": "Engineering"}
    return user_from_fields({**base, "FirstName": "F", "LastName": "L", "Title": None, **fields})


def no_email(uid: str) -> Quarantined:
    return Quarantined("Email", "missing required field(s): Email", SourceUserId(uid), f"{uid}@x")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2027-03-31", datetime.date(2027, 3, 31)),
        (" 2027-03-31 ", datetime.date(2027, 3, 31)),
        ("2026-11-28T10:00:00.000+0000", datetime.date(2026, 11, 28)),
        (datetime.date(2027, 1, 2), datetime.date(2027, 1, 2)),
        (None, None),
        ("", None),
    ],
)
def test_iso_end_dates_parse(value: Any, expected: datetime.date | None) -> None:
    assert desired.as_date(value) == expected


@pytest.mark.parametrize(
    "value", ["31/12/2020", "2020-1-1", "20201231", "2020-W01-1", "2020-02-30", "soon", 20201231]
)
def test_anything_else_is_refused_never_read_as_no_end_date(value: Any) -> None:
    with pytest.raises(ValueError, match="is not an ISO date"):
        desired.as_date(value)


@pytest.mark.parametrize("bad", ["31/12/2020", "2020-1-1"])
def test_a_bad_end_date_quarantines_the_user_never_counts_them_active(bad: str) -> None:
    policy = make_policy([ENG], accessEndsField="End__c")
    read = SourceRead(
        "org", (user("a", End__c=bad), user("b"), user("c", End__c="2026-01-01")), NOW
    )
    result = desired.evaluate(policy, read, now=NOW)
    (held,) = result.quarantined
    assert (held.source_id, held.username, held.field) == ("a", "a@x", "End__c")
    assert held.message == f"End__c {bad!r} is not an ISO date (YYYY-MM-DD)"
    tool = result.apps["tool"]
    assert set(tool.accounts) == {"b", "c"} and not tool.accounts[SourceUserId("c")].active
    assert "a" not in result.users and "a" not in tool.known_source_ids
    assert tool.held_source_ids == {"a"} and tool.held_names == {"a@x"}


def test_a_deactivated_user_with_a_bad_end_date_is_still_deprovisioned() -> None:
    policy = make_policy([ENG], accessEndsField="End__c")
    read = SourceRead("org", (user("a", End__c="31/12/2020", IsActive=False),), NOW)
    result = desired.evaluate(policy, read, now=NOW)
    assert result.quarantined == ()
    assert not result.apps["tool"].accounts[SourceUserId("a")].active


def test_source_quarantine_holds_and_a_user_sharing_its_identity_is_held_too() -> None:
    read = SourceRead(
        "org",
        (user("a"), user("b"), user("c", Email="Q@X")),
        NOW,
        quarantined=(no_email("b"), Quarantined("IsActive", "bad", None, "q@x")),
    )
    result = desired.evaluate(make_policy([ENG]), read, now=NOW)
    tool = result.apps["tool"]
    assert set(tool.accounts) == {"a"}  # b shares the Id of a quarantined row, c its username
    assert tool.held_source_ids == {"b", "c"} and tool.held_names == {"b@x", "q@x"}
    assert set(result.users) == {"a"} and result.active_users == 1
    assert [p.split(" shares")[0] for p in result.problems] == ["user b (b@x)", "user c (c@x)"]


def held_app(**kwargs: Any) -> Any:
    return desired_app(
        desired_account("005A", "ada@x"),
        desired_account("005N", "new@x"),
        known=("005L",),
        held_source_ids=frozenset({SourceUserId("005Q")}),
        held_names=frozenset({"quinn@x", "quinn.mail@x"}),
        **kwargs,
    )


@pytest.mark.parametrize("prune", [False, True])
def test_accounts_of_a_quarantined_user_are_left_exactly_as_they_are(prune: bool) -> None:
    app = observed(
        account("1", "ada@x", external_id="005A", displayName="stale"),
        account("2", "quinn-old@x", external_id="005Q", displayName="anything"),
        account("3", "QUINN@x"),  # never linked, matched by the held username
        account("4", "q4@x", **{"emails.work": "Quinn.Mail@x"}),  # by the held email
        account("5", "l@x", external_id="005L"),  # a leaver no rule grants any more
        account("6", "quinn@x", external_id="005Z"),  # linked to an Id nobody read: held too
        groups={"eng": {"2", "3"}},
    )
    wanted = held_app(groups=frozenset({"eng"}))
    result = plan.compute(wanted, app, match=MATCH, prune=prune)
    touched = {op.account_id for op in result.operations} | {
        op.user_name for op in result.operations
    }
    assert not touched & {"2", "3", "4", "6", "quinn@x", "QUINN@x"}
    assert (OpKind.SUSPEND, "5") in {(op.kind, op.account_id) for op in result.operations}
    assert (OpKind.CREATE, "new@x") in {(op.kind, op.user_name) for op in result.operations}
    assert result.orphans == ()
    assert "4 account(s) left as they are: quarantined source users" in result.notes


def test_an_account_linked_to_a_user_read_whole_is_theirs_whatever_its_name() -> None:
    wanted = held_app()
    app = observed(account("1", "quinn@x", external_id="005A"))
    result = plan.compute(wanted, app, match=MATCH)
    assert [op.kind for op in result.operations if op.account_id == "1"] == [OpKind.UPDATE]


def test_a_held_user_given_a_desired_account_anyway_is_not_planned() -> None:
    wanted = desired_app(
        desired_account("005Q", "quinn@x"),
        held_source_ids=frozenset({SourceUserId("005Q")}),
    )
    assert plan.compute(wanted, observed(), match=MATCH).operations == ()


def test_rule1_too_many_quarantined_records_make_the_read_untrusted() -> None:
    def verdict(quarantined: int, accept: bool = False) -> guard.SourceVerdict:
        return guard.judge_source(
            error=None,
            active=300,
            last_good_active=300,
            max_drop_percent=10,
            accept_drop=accept,
            records=300,
            quarantined=quarantined,
            max_quarantined_percent=5,
        )

    assert verdict(15).trusted  # exactly 5% is within the limit
    held = verdict(16, accept=True)  # not even the operator's override accepts it
    assert not held.trusted
    assert held.reason == (
        "16 of 300 source records (5.3%) are quarantined, more than maxQuarantinedPercent 5%"
    )


def test_a_record_with_no_id_marks_every_app_held_unidentified() -> None:
    nameless = Quarantined("Id", "missing required field(s): Id", None, "grace", None)
    read = SourceRead("org", (user("a"),), NOW, quarantined=(nameless,))
    tool = desired.evaluate(make_policy([ENG]), read, now=NOW).apps["tool"]
    assert tool.held_unidentified and set(tool.accounts) == {"a"}
    whole = SourceRead("org", (user("a"),), NOW, quarantined=(no_email("b"),))
    assert not desired.evaluate(make_policy([ENG]), whole, now=NOW).apps["tool"].held_unidentified


def test_with_a_record_of_no_id_every_account_not_linked_to_a_user_read_whole_is_held() -> None:
    """Slack's userName comes from a template (`grace.hopper`) and the record has no Id nor
    Email: nothing ties her account to her record, so no unlinked account may be pruned."""
    wanted = desired_app(
        desired_account("005A", "ada@x", displayName="Ada"),
        desired_account("005N", "new@x"),
        desired_account("005B", "bob@x"),  # has an unlinked account: not adopted, not doubled
        known=("005L",),
        held_unidentified=True,
    )
    app = observed(
        account("1", "ada@x", external_id="005A", displayName="stale"),
        account("2", "grace.hopper"),  # the quarantined person's, as far as anyone can tell
        account("3", "someone@x", external_id="zzz"),  # linked to an Id nobody read
        account("4", "bob@x"),
        account("5", "l@x", external_id="005L"),  # a leaver no rule grants any more
    )
    result = plan.compute(wanted, app, match=MATCH, prune=True)
    done = {(op.kind, op.account_id or op.user_name) for op in result.operations}
    assert done == {(OpKind.UPDATE, "1"), (OpKind.SUSPEND, "5"), (OpKind.CREATE, "new@x")}
    assert result.orphans == () and result.blocked == ()
    assert (
        "3 account(s) not linked to a user read whole are left as they are: a quarantined "
        "source record has no Id, so any of them may be that person's"
    ) in result.notes
    assert any(note.startswith("1 user(s) given no account this cycle") for note in result.notes)


def test_at_most_twenty_records_a_cycle_are_logged_one_line_each() -> None:
    records = [no_email(f"{i:03d}") for i in range(25)]
    logged, left_out = quarantine.to_log(records)
    assert list(logged) == records[:20] and left_out == 5
    assert quarantine.to_log(records[:20]) == (records[:20], 0)
