"""The facts later runs need (the last trusted source size, suspension times): what a cycle
teaches, how the journal keeps them, and the one-time import of an earlier version's state.json."""

from __future__ import annotations

import contextlib
import datetime
import json
import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa

from controller import desired, facts, guard
from controller.cycle import AppCycle, Cycle
from controller.journal import AppResult, Facts, SqliteJournal, legacy
from controller.model import AccountId, AppName, ObservedAccount, SourceRead, SourceUserId
from controller.operations import Plan
from tests.fakes import account, observed

NOW = datetime.datetime(2026, 11, 28, 12, tzinfo=datetime.UTC)
LATER = NOW + datetime.timedelta(days=1)


@pytest.fixture
def journal(tmp_path: Path) -> SqliteJournal:
    return SqliteJournal(tmp_path / "journal.db")


def test_the_journal_keeps_facts_and_a_write_replaces_only_what_it_names(
    journal: SqliteJournal,
) -> None:
    assert journal.facts() == Facts()
    journal.save_facts(
        Facts({"salesforce": 120}, {"slack": {"U1": NOW, "U2": NOW}, "jira": {"J1": NOW}}), at=NOW
    )
    journal.save_facts(Facts({}, {"slack": {"U2": NOW, "U3": LATER}}), at=LATER)
    assert journal.facts() == Facts(
        {"salesforce": 120}, {"slack": {"U2": NOW, "U3": LATER}, "jira": {"J1": NOW}}
    )
    journal.save_facts(Facts({"salesforce": 118}, {"jira": {}}), at=LATER)
    assert journal.facts() == Facts({"salesforce": 118}, {"slack": {"U2": NOW, "U3": LATER}})


def test_the_cycles_end_and_its_facts_are_one_transaction(
    tmp_path: Path, journal: SqliteJournal
) -> None:
    cycle = journal.start_cycle(trigger="schedule", revision="r1", at=NOW)

    def end(known: Facts) -> None:
        journal.end_cycle(
            cycle,
            at=NOW,
            source_users=1,
            source_active=1,
            source_error=None,
            apps={"slack": AppResult("success", planned=0)},
            facts=known,
        )

    def ended() -> object:
        with contextlib.closing(sqlite3.connect(tmp_path / "journal.db")) as database:
            return database.execute("SELECT ended_at FROM cycles").fetchone()[0]

    unwritable = Facts({"salesforce": None})  # type: ignore[dict-item]
    with pytest.raises(sa.exc.IntegrityError):  # the facts cannot be written...
        end(unwritable)
    assert ended() is None  # ...so the cycle's end is not written either
    assert journal.facts() == Facts()
    end(Facts({"salesforce": 1}))
    assert ended() is not None
    assert journal.facts() == Facts({"salesforce": 1})


def _cycle(app: AppCycle, *, trusted: bool, active: int = 10) -> Cycle:
    users = {
        SourceUserId(f"005{n}"): desired.UserState(active=True, reason="", state="active")
        for n in range(active)
    }
    evaluation = desired.Evaluation(apps={}, users=users, problems=())
    verdict = guard.SourceVerdict(trusted=trusted, reason=None if trusted else "read failed")
    return Cycle("r1", SourceRead("org", (), NOW), evaluation, verdict, (app,))


def _app(*accounts: ObservedAccount, managed: set[str]) -> AppCycle:
    seen = observed(*accounts)
    return AppCycle(
        AppName("app"),
        Plan(AppName("app"), (), {}),
        seen,
        frozenset(AccountId(a) for a in managed),
    )


def test_suspensions_start_on_first_sight_and_end_on_reactivation() -> None:
    first = _app(
        account("1", "a@x", external_id="005A", active=False),
        account("2", "b@x", external_id="005B", active=False),
        account("3", "orphan@x", active=False),
        managed={"1", "2"},
    )
    known = facts.learned(Facts(), _cycle(first, trusted=True), [first], source="org", now=NOW)
    assert known == Facts({"org": 10}, {"app": {"1": NOW, "2": NOW}})  # never the orphan

    again = _app(
        account("1", "a@x", external_id="005A", active=False),
        account("2", "b@x", external_id="005B", active=True),
        managed={"1", "2"},
    )
    news = facts.learned(known, _cycle(again, trusted=False), [again], source="org", now=LATER)
    assert news == Facts({}, {"app": {"1": NOW}})  # the first sight stands; b is back
    assert known.merged(news) == Facts({"org": 10}, {"app": {"1": NOW}})  # untrusted: size kept


def test_an_app_that_could_not_be_planned_or_a_held_account_keeps_its_grace_period() -> None:
    """A plan error (nothing is managed then) or a quarantined user's account (not managed
    this cycle) must not restart a grace period: only seeing the account active or gone does."""
    known = Facts({}, {"app": {"1": NOW, "2": NOW}})
    accounts = (
        account("1", "a@x", external_id="005A", active=False),
        account("2", "b@x", external_id="005B", active=False),
    )
    unplanned = AppCycle(
        AppName("app"),
        Plan(AppName("app"), (), {}, error="could not be planned"),
        observed(*accounts),
    )
    news = facts.learned(
        known, _cycle(unplanned, trusted=True), [unplanned], source="org", now=LATER
    )
    assert news.suspended_since == {"app": {"1": NOW, "2": NOW}}

    held = _app(*accounts, managed={"1"})  # 2's user is quarantined: not managed this cycle
    news = facts.learned(known, _cycle(held, trusted=True), [held], source="org", now=LATER)
    assert news.suspended_since == {"app": {"1": NOW, "2": NOW}}


def test_a_legacy_state_file_is_imported_once_and_renamed_aside(
    tmp_path: Path, journal: SqliteJournal
) -> None:
    document = {
        "version": 1,
        "lastGoodActive": {"salesforce": 120},
        "suspendedSince": {"slack": {"U1": NOW.isoformat()}},
    }
    (tmp_path / "state.json").write_text(json.dumps(document))
    expected = Facts({"salesforce": 120}, {"slack": {"U1": NOW}})
    assert legacy.found(tmp_path) == expected  # what plan reads in place

    aside = legacy.import_into(journal, tmp_path, at=NOW)
    assert aside == tmp_path / "state.json.imported" and aside.exists()
    assert not (tmp_path / "state.json").exists()
    assert journal.facts() == expected
    assert legacy.import_into(journal, tmp_path, at=NOW) is None
    assert legacy.found(tmp_path) is None


@pytest.mark.parametrize(
    "text",
    ["{not json", "", '{"version": 2}', '{"version": 1, "lastGoodActive": []}'],
    ids=["not json", "empty", "other version", "wrong shape"],
)
def test_a_corrupt_legacy_state_file_names_the_file_and_what_to_do(
    tmp_path: Path, journal: SqliteJournal, text: str
) -> None:
    path = tmp_path / "state.json"
    path.write_text(text)
    with pytest.raises(legacy.LegacyStateError, match=r"state\.json: .* fix it, or move it aside"):
        legacy.import_into(journal, tmp_path, at=NOW)
    assert path.read_text() == text
    assert journal.facts() == Facts()
