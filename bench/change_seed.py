"""Accounts written straight into the Slack, Jira and Zendesk stores, as a first sync leaves them.

The emulators' own handles for adding users check uniqueness against every user (O(n) each),
which makes seeding 10,000 quadratic; this writes each store's records directly, in the shape
its API would have stored for the controller's requests (Slack's rules applied to names and
emails, scim2-server's resources for Jira, Zendesk's users, identities and memberships).
`tests/e2e/test_bench_change_world.py` checks the result: the controller's first plan is empty.
Slack and Zendesk are reached through their stores' private fields, so a change to a store may
need a change here; that test says when.
"""

from __future__ import annotations

from collections.abc import Iterable

from scim2_models import Email, EnterpriseUser, Group, GroupMember, Name, User

from bench.change_world import Person
from emulators.atlassian import AtlassianApp
from emulators.slack import SlackApp
from emulators.slack import rules as slack_rules
from emulators.slack import store as slack_store
from emulators.slack.patch import ENTERPRISE, ENTERPRISE_FIELDS
from emulators.zendesk import ZendeskApp
from emulators.zendesk import groups as zendesk_groups
from emulators.zendesk import users as zendesk_users

TEAM_LEAD = 360000001
"""The Zendesk emulator's default custom role "Team Lead" (ZendeskSettings.custom_roles)."""


def _members(people: Iterable[Person], ids: dict[str, str], groups_of: str) -> dict[str, list[str]]:
    """Group name -> member ids, for the groups `getattr(person, groups_of)()` names."""
    members: dict[str, list[str]] = {}
    for one in people:
        for group in getattr(one, groups_of)():
            members.setdefault(group, []).append(ids[one.salesforce_id])
    return members


def seed_slack(app: SlackApp, people: list[Person]) -> None:
    store = app._store
    ids: dict[str, str] = {}
    with store.lock:
        for one in people:
            if not one.slack_groups():
                continue
            stamp = slack_store._now()
            data = {
                "userName": slack_rules.user_name(one.email),
                "externalId": one.salesforce_id,
                "name": {"givenName": one.first, "familyName": one.last},
                "displayName": one.display_name,
                "title": one.title,
                "emails": slack_rules.emails([{"value": one.email, "type": "work"}]),
                "active": True,
                ENTERPRISE: {field: "" for field in ENTERPRISE_FIELDS}
                | {"department": one.department},
            }
            record = slack_store._Record(slack_rules.new_id("U", store._users), data, stamp, stamp)
            store._users[record.id] = record
            ids[one.salesforce_id] = record.id
    for name, members in _members(people, ids, "slack_groups").items():
        store.create_group({"displayName": name, "members": [{"value": m} for m in members]})


def seed_jira(app: AtlassianApp, people: list[Person]) -> None:
    ids: dict[str, str] = {}
    for one in people:
        if not one.jira_groups():
            continue
        user = User[EnterpriseUser](
            user_name=one.email,
            external_id=one.salesforce_id,
            name=Name(given_name=one.first, family_name=one.last),
            display_name=one.display_name,
            title=one.title,
            emails=[Email(value=one.email, type=Email.Type.work, primary=True)],
            active=True,
        )
        user[EnterpriseUser] = EnterpriseUser(department=one.department)
        ids[one.salesforce_id] = str(app.scim.add(user).id)
    for name, members in _members(people, ids, "jira_groups").items():
        app.scim.add(Group(display_name=name, members=[GroupMember(value=m) for m in members]))


def seed_zendesk(app: ZendeskApp, people: list[Person]) -> None:
    store = app._store
    agents = [one for one in people if one.zendesk_groups()]
    names = sorted({group for one in agents for group in one.zendesk_groups()})
    group_ids = {name: int(app.add_group(name)["id"]) for name in names}
    with store.lock:
        book = store.book
        for one in agents:
            stamp = zendesk_users.now()
            user = zendesk_users.User(
                id=store._next_user,
                name=one.display_name,
                role="agent",
                custom_role_id=TEAM_LEAD if one.support_lead else None,
                external_id=one.salesforce_id,
                created_at=stamp,
                updated_at=stamp,
            )
            user.identities.append(store._identity(one.email))
            store._users[user.id] = user
            store._next_user += 1
            for position, group in enumerate(one.zendesk_groups()):
                membership = zendesk_groups.Membership(
                    book._next_membership,
                    user.id,
                    group_ids[group],
                    position == 0,
                    stamp,
                    stamp,
                )
                book.memberships[membership.id] = membership
                book._next_membership += 1
