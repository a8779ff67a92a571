"""Slack userNames derived from policy: valid by Slack's rules, unique, collisions noted."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from controller.model import AppName, DesiredAccount, DesiredApp, SourceUserId
from reconcilers.slack.naming import shape, slack_user_name


def _app(*names: tuple[str, str]) -> DesiredApp:
    accounts = {
        SourceUserId(sid): DesiredAccount(
            source_id=SourceUserId(sid),
            user_name=name,
            email=f"{sid}@orion.example",
            active=True,
            attributes={"userName": name, "displayName": sid},
            groups=frozenset(),
            reason="rule",
        )
        for sid, name in names
    }
    return DesiredApp(AppName("slack"), accounts, frozenset(), frozenset(accounts))


def test_a_name_follows_slacks_rules() -> None:
    assert slack_user_name("Grace.Hopper@orion.example") == "grace.hopper"
    assert slack_user_name("Jane Doe!") == "jane_doe_"
    assert slack_user_name("a" * 30) == "a" * 21


@given(st.text(min_size=1, max_size=60))
def test_every_derived_name_is_one_slack_accepts(raw: str) -> None:
    name = slack_user_name(raw)
    assert 1 <= len(name) <= 21
    assert all(c.isascii() and (c.isalnum() or c in "._-") for c in name)
    assert name == name.lower()


def test_colliding_names_are_made_unique_and_noted() -> None:
    app = _app(("005B", "j.smith@orion.example"), ("005A", "J.Smith@stratos.example"))
    shaped, notes = shape(app)
    names = {sid: account.user_name for sid, account in shaped.accounts.items()}
    assert names["005A"] == "j.smith"  # the earlier Salesforce Id keeps the plain name
    assert names["005B"].startswith("j.smith_") and len(names["005B"]) <= 21
    assert shaped.accounts[SourceUserId("005B")].attributes["userName"] == names["005B"]
    assert len(notes) == 1 and "005B" in notes[0] and names["005B"] in notes[0]


def test_the_suffix_is_the_same_every_cycle() -> None:
    app = _app(("005A", "sam@x.example"), ("005B", "Sam@y.example"))
    first, _ = shape(app)
    second, _ = shape(app)
    assert first.accounts == second.accounts


def test_cut_names_are_noted_and_distinct_ones_untouched() -> None:
    app = _app(("005A", "maximilian.wolfeschlegel@orion.example"), ("005B", "ada"))
    shaped, notes = shape(app)
    assert shaped.accounts[SourceUserId("005A")].user_name == "maximilian.wolfeschle"
    assert shaped.accounts[SourceUserId("005B")] == app.accounts[SourceUserId("005B")]
    assert notes == ("1 userName(s) cut to Slack's 21 characters",)
