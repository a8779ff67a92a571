"""PURE: Slack's userName rules applied to desired accounts, so plans compare like with like.

Slack stores a userName of at most 21 characters, lower-cased, with every character other than
letters, digits, `.`, `_` and `-` turned into `_`, and an email given as userName becomes its
local part. A policy template that yields `Grace.Hopper@orion.example` would otherwise show as
drift forever, or be refused. Two people can also end up with the same Slack name (`j.smith`
from two companies' domains, or two long names cut at 21 characters); Slack refuses the second
with `username_taken`. So the names are derived here, before planning: valid by construction,
unique among the people the policy provisions (the later Salesforce user, by Id, gets a short
suffix derived from their Id, which stays the same from cycle to cycle), and each collision is
reported as a plan note. A clash with a name this policy does not manage (a channel, an account
made by hand) only Slack can see; that create fails with a conflict and is reported.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import re

from controller.model import USER_NAME, DesiredAccount, DesiredApp, SourceUserId

MAX_LENGTH = 21
_NOT_ALLOWED = re.compile(r"[^a-z0-9._-]")


def _normalised(raw: str) -> str:
    local = raw.split("@", 1)[0] if "@" in raw else raw
    return _NOT_ALLOWED.sub("_", local.strip().lower())


def slack_user_name(raw: str) -> str:
    """The name Slack would store for `raw`, cut to 21 characters rather than refused."""
    return _normalised(raw)[:MAX_LENGTH] or "_"


def _suffixed(name: str, source_id: SourceUserId, length: int) -> str:
    digest = hashlib.sha256(source_id.encode()).digest()
    tag = base64.b32encode(digest).decode().lower()[:length]
    return f"{name[: MAX_LENGTH - length - 1]}_{tag}"


def shape(app: DesiredApp) -> tuple[DesiredApp, tuple[str, ...]]:
    """`app` with every userName made valid and unique for Slack, and notes on what changed."""
    wanted: dict[str, list[DesiredAccount]] = {}
    for account in sorted(app.accounts.values(), key=lambda a: a.source_id):
        wanted.setdefault(slack_user_name(account.user_name), []).append(account)
    taken = set(wanted)
    names: dict[SourceUserId, str] = {}
    notes: list[str] = []
    for name, claimants in wanted.items():
        names[claimants[0].source_id] = name
        for account in claimants[1:]:
            length = 4
            while (unique := _suffixed(name, account.source_id, length)) in taken:
                length += 1
            taken.add(unique)
            names[account.source_id] = unique
            notes.append(
                f"userName collision: {len(claimants)} users derive {name!r};"
                f" {account.source_id} gets {unique!r}"
            )
    shortened = sum(1 for a in app.accounts.values() if len(_normalised(a.user_name)) > MAX_LENGTH)
    if shortened:
        notes.append(f"{shortened} userName(s) cut to Slack's {MAX_LENGTH} characters")
    accounts = {
        source_id: _renamed(account, names[source_id])
        for source_id, account in app.accounts.items()
    }
    return dataclasses.replace(app, accounts=accounts), tuple(notes)


def _renamed(account: DesiredAccount, name: str) -> DesiredAccount:
    if account.user_name == name:
        return account
    attributes = {**account.attributes, USER_NAME: name}
    return dataclasses.replace(account, user_name=name, attributes=attributes)
