"""PURE: whose accounts are held because a source record of theirs was quarantined (rule 7).

A record the source could not turn into a valid user (no Email, a bad boolean, an end date that
does not parse) says nothing reliable about that person, so neither their presence nor their
absence may change anything of theirs. A `Hold` gathers what identifies them: the Id where the
record has one, and the username and email (casefolded). `desired.evaluate` gives no held user a
desired account, and `matching.link` sets aside every account that answers to a held Id or name
before anything is linked: no plan then creates, changes or deprovisions it, and it is never
counted as an orphan. Holding too much only delays a change; holding too little could suspend
someone because their record was unreadable, so a name shared with a quarantined record holds,
and a record with no Id holds every account not linked by externalId to a user read whole: its
person's account may answer to a name the record does not give (a template's `grace.hopper`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from controller.model import DesiredApp, ObservedAccount, Quarantined, SourceUser, SourceUserId


@dataclass(frozen=True)
class Hold:
    source_ids: frozenset[SourceUserId] = frozenset()
    names: frozenset[str] = frozenset()
    """Casefolded usernames and emails."""
    unidentified: bool = False
    """Some record has no Id: its person's account cannot be told from anyone else's."""

    @classmethod
    def of(cls, records: Iterable[Quarantined]) -> Hold:
        records = tuple(records)
        return cls(
            frozenset(record.source_id for record in records if record.source_id),
            frozenset(
                name.casefold()
                for record in records
                for name in (record.username, record.email)
                if name
            ),
            any(not record.source_id for record in records),
        )

    def covers(self, source_id: str | None, *names: str | None) -> bool:
        """Whether a user or account with this Id or any of these names may be a held one's."""
        if source_id and source_id in self.source_ids:
            return True
        return any(name and name.casefold() in self.names for name in names)

    def with_ids(self, source_ids: Iterable[SourceUserId]) -> Hold:
        return dataclasses.replace(self, source_ids=self.source_ids | frozenset(source_ids))


LOGGED_PER_CYCLE = 20
"""At most this many quarantined records get a log line each per cycle: 5% of 100,000 users
every 15 s would be 5,000 lines a cycle. `provisioner plan` lists every one."""


def to_log(
    records: Sequence[Quarantined], limit: int = LOGGED_PER_CYCLE
) -> tuple[Sequence[Quarantined], int]:
    """The records to log one line each this cycle, and how many are left out of the log."""
    return records[:limit], max(0, len(records) - limit)


def of_user(user: SourceUser, field: str, error: ValueError) -> Quarantined:
    """A user the source read whole but whose `field` the policy cannot use (an end date)."""
    return Quarantined(
        field=field,
        message=str(error),
        source_id=user.id,
        username=user.username,
        email=user.email,
    )


def hold_of(app: DesiredApp) -> Hold:
    return Hold(app.held_source_ids, app.held_names, app.held_unidentified)


def holds_account(app: DesiredApp, account: ObservedAccount, email: str | None) -> bool:
    """Whether `account` may belong to a quarantined user, and must be left exactly as it is.

    An account linked by externalId to a user read whole is that user's, whatever its name;
    any other account answering to a held Id, username or email is held, and every other
    account at all when a quarantined record has no Id.
    """
    if not app.held_source_ids and not app.held_names and not app.held_unidentified:
        return False
    hold = hold_of(app)
    external = account.external_id or None
    if external and external in hold.source_ids:
        return True
    if external and external in app.known_source_ids:
        return False
    return hold.unidentified or hold.covers(None, account.user_name, email)


def held_note(held: int, app: DesiredApp) -> str:
    """The plan note for the accounts `holds_account` set apart, saying why they are held."""
    if app.held_unidentified:
        return (
            f"{held} account(s) not linked to a user read whole are left as they are: a "
            "quarantined source record has no Id, so any of them may be that person's"
        )
    return f"{held} account(s) left as they are: quarantined source users"


def without_held_accounts(app: DesiredApp) -> DesiredApp:
    """`app` with no desired account for a held user: nothing is created or changed for one."""
    hold = hold_of(app)
    if not hold.source_ids and not hold.names:
        return app
    accounts = {
        source_id: wanted
        for source_id, wanted in app.accounts.items()
        if not hold.covers(source_id, wanted.user_name, wanted.email)
    }
    return dataclasses.replace(app, accounts=accounts)
