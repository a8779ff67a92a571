"""The Zendesk emulator's rate limits, groups, agent-only memberships, roles and role filters.

Served over a real socket like test_zendesk_emulator.py (whose helpers this reuses). Rate
limits are provoked with small `Limit`s and counted, never timed.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from emulators.limits import Limit
from emulators.zendesk import ZendeskSettings
from tests.emulators.test_zendesk_emulator import TOKEN, UNLIMITED, Zendesk, assert_error, served


@pytest.fixture
def zendesk() -> Iterator[Zendesk]:
    with served(UNLIMITED) as emulator:
        yield emulator


def _member(zendesk: Zendesk, user_id: int, group_id: int, path: str = "/group_memberships") -> Any:
    body = {"group_membership": {"user_id": user_id, "group_id": group_id}}
    return zendesk.http.post(path, json=body)


def test_the_sixth_update_of_a_user_in_a_minute_is_refused_and_changes_nothing() -> None:
    with served(ZendeskSettings(token=TOKEN, plan_limit=None)) as zendesk:
        ada = zendesk.create("Ada", "ada@orion.example", external_id="005A")
        bob = zendesk.create("Bob", "bob@orion.example")
        for n in range(4):
            assert zendesk.put(ada["id"], name=f"Ada {n}").status_code == 200
        upsert = {"user": {"name": "Ada 4", "email": "x@orion.example", "external_id": "005a"}}
        assert zendesk.http.post("/users/create_or_update", json=upsert).status_code == 200
        refused = zendesk.put(ada["id"], name="Ada 5", suspended=True)
        assert_error(refused, 429, "APIRateLimitExceeded")
        assert int(refused.headers["Retry-After"]) >= 1
        assert refused.json()["description"] == (
            "Number of allowed API requests per minute exceeded"
        )
        again = zendesk.http.post("/users/create_or_update", json=upsert)
        assert again.status_code == 429 and int(again.headers["Retry-After"]) >= 1
        user = zendesk.app.user_by_email("ada@orion.example")
        assert user is not None and (user["name"], user["suspended"]) == ("Ada 4", False)
        assert zendesk.put(bob["id"], name="Bob B").status_code == 200  # a bucket per user
        assert zendesk.app.limiter.refused == 2
        assert zendesk.app.writes == 2 + 5 + 1


def test_the_plan_limit_answers_429_with_rate_limit_headers_and_changes_nothing() -> None:
    with served(ZendeskSettings(token=TOKEN, plan_limit=Limit(3, 3))) as zendesk:
        remaining = []
        for n in range(3):
            response = zendesk.http.post(
                "/users", json={"user": {"name": f"U{n}", "email": f"u{n}@orion.example"}}
            )
            assert response.status_code == 201
            assert response.headers["X-Rate-Limit"] == "3"
            remaining.append(int(response.headers["X-Rate-Limit-Remaining"]))
        assert remaining == [2, 1, 0]
        refused = zendesk.http.post(
            "/users", json={"user": {"name": "U3", "email": "u3@orion.example"}}
        )
        assert_error(refused, 429, "APIRateLimitExceeded")
        assert int(refused.headers["Retry-After"]) >= 1
        assert refused.headers["X-Rate-Limit"] == "3"
        assert refused.headers["X-Rate-Limit-Remaining"] == "0"
        assert zendesk.http.get("/users").status_code == 429
        assert len(zendesk.app.users()) == 3 and zendesk.app.writes == 3
        assert zendesk.app.limiter.refused == 2


def test_groups_are_created_listed_and_deleted(zendesk: Zendesk) -> None:
    created = zendesk.http.post("/groups", json={"group": {"name": "Tier 1"}})
    assert created.status_code == 201
    tier = created.json()["group"]
    assert (tier["name"], tier["deleted"], tier["default"]) == ("Tier 1", False, False)
    assert {"id", "description", "created_at", "updated_at"} <= tier.keys()
    assert_error(
        zendesk.http.post("/groups", json={"group": {"name": "tier 1"}}),
        422,
        "RecordInvalid",
        "name",
        "DuplicateValue",
    )
    blank = zendesk.http.post("/groups", json={"group": {"name": ""}})
    assert_error(blank, 422, "RecordInvalid", "name", "BlankValue")
    other = zendesk.app.add_group("Escalations")
    listed = zendesk.http.get("/groups", params={"page[size]": 1}).json()
    assert zendesk.ids(listed, "groups") == [tier["id"]] and listed["meta"]["has_more"] is True
    agent = zendesk.create("Agent", "agent@orion.example", role="agent")
    assert _member(zendesk, agent["id"], tier["id"]).status_code == 201
    assert zendesk.http.delete(f"/groups/{tier['id']}").status_code == 204
    assert zendesk.ids(zendesk.http.get("/groups").json(), "groups") == [other["id"]]
    assert zendesk.app.groups() == [other] and zendesk.app.memberships() == []
    assert_error(zendesk.http.delete(f"/groups/{tier['id']}"), 404, "RecordNotFound")


def test_memberships_are_for_agents_and_go_when_the_user_becomes_an_end_user(
    zendesk: Zendesk,
) -> None:
    tier = zendesk.app.add_group("Tier 1")
    escalations = zendesk.app.add_group("Escalations")
    end_user = zendesk.create("End", "end@orion.example")
    agent = zendesk.create("Agent", "agent@orion.example", role="agent")
    refused = _member(zendesk, end_user["id"], tier["id"])
    body = assert_error(refused, 422, "RecordInvalid", "user_id", "InvalidValue")
    assert "not an agent" in body["details"]["user_id"][0]["description"]
    created = _member(zendesk, agent["id"], tier["id"])
    assert created.status_code == 201
    first = created.json()["group_membership"]
    assert (first["user_id"], first["group_id"], first["default"]) == (
        agent["id"],
        tier["id"],
        True,
    )
    nested = _member(
        zendesk, agent["id"], escalations["id"], f"/users/{agent['id']}/group_memberships"
    )
    assert nested.status_code == 201 and nested.json()["group_membership"]["default"] is False
    duplicate = _member(zendesk, agent["id"], tier["id"])
    assert_error(duplicate, 422, "RecordInvalid", "user_id", "DuplicateValue")
    assert_error(_member(zendesk, agent["id"], 42), 404, "RecordNotFound")
    assert_error(_member(zendesk, 42, tier["id"]), 404, "RecordNotFound")
    assert zendesk.app.group_names_of(agent["id"]) == {"Tier 1", "Escalations"}
    everyone = zendesk.http.get("/group_memberships", params={"page[size]": 100}).json()
    assert len(everyone["group_memberships"]) == 2 and everyone["meta"]["has_more"] is False
    mine = zendesk.http.get(f"/users/{agent['id']}/group_memberships").json()
    assert len(mine["group_memberships"]) == 2
    in_tier = zendesk.http.get(f"/groups/{tier['id']}/memberships").json()["group_memberships"]
    assert [m["id"] for m in in_tier] == [first["id"]]
    removed = zendesk.http.delete(f"/users/{agent['id']}/group_memberships/{first['id']}")
    assert removed.status_code == 204
    assert zendesk.app.group_names_of(agent["id"]) == {"Escalations"}
    assert zendesk.app.memberships()[0]["default"] is True  # the remaining one takes over
    assert _member(zendesk, agent["id"], tier["id"]).status_code == 201
    demoted = zendesk.put(agent["id"], role="end-user")
    assert demoted.status_code == 200 and demoted.json()["user"]["role"] == "end-user"
    assert zendesk.app.group_names_of(agent["id"]) == set()
    assert zendesk.http.get("/group_memberships").json()["group_memberships"] == []
    assert_error(zendesk.http.delete(f"/group_memberships/{first['id']}"), 404, "RecordNotFound")


def test_custom_roles_are_for_agents(zendesk: Zendesk) -> None:
    roles = zendesk.http.get("/custom_roles").json()["custom_roles"]
    assert [(r["id"], r["name"], r["role_type"]) for r in roles] == [
        (360000001, "Team Lead", 0),
        (360000002, "Billing Agent", 0),
    ]
    lead = zendesk.create("Lead", "lead@orion.example", role="agent", custom_role_id=360000001)
    assert (lead["role"], lead["custom_role_id"], lead["role_type"]) == ("agent", 360000001, 0)
    implied = zendesk.create("Billing", "billing@orion.example", custom_role_id=360000002)
    assert (implied["role"], implied["role_type"]) == ("agent", 0)

    def refused(**user: Any) -> None:
        response = zendesk.http.post("/users", json={"user": {"name": "X", **user}})
        assert_error(response, 422, "RecordInvalid", "custom_role_id", "InvalidValue")

    refused(email="x@orion.example", role="agent", custom_role_id=1)
    refused(email="x@orion.example", role="end-user", custom_role_id=360000001)
    assert zendesk.put(lead["id"], custom_role_id=360000002).json()["user"]["custom_role_id"] == (
        360000002
    )
    cleared = zendesk.put(lead["id"], custom_role_id=None).json()["user"]
    assert (cleared["role"], cleared["custom_role_id"], cleared["role_type"]) == (
        "agent",
        None,
        None,
    )
    admin = zendesk.put(implied["id"], role="admin").json()["user"]
    assert (admin["role"], admin["custom_role_id"]) == ("admin", None)
    zendesk.app.edit_user(lead["id"], role="end-user", email="lead.new@orion.example")
    edited = zendesk.app.user_by_email("lead.new@orion.example")
    assert edited is not None and edited["email"] == "lead.new@orion.example"
    assert edited["role"] == "end-user"


def test_users_filter_by_role_and_external_id(zendesk: Zendesk) -> None:
    end = zendesk.create("End", "end@orion.example", external_id="E-1")
    agent = zendesk.create("Agent", "agent@orion.example", role="agent")
    admin = zendesk.create("Admin", "admin@orion.example", role="admin")

    def listed(params: Any) -> list[int]:
        return zendesk.ids(zendesk.http.get("/users", params=params).json())

    assert listed({"role": "agent"}) == [agent["id"]]
    assert listed([("role[]", "agent"), ("role[]", "admin")]) == [agent["id"], admin["id"]]
    assert listed({"external_id": "e-1"}) == [end["id"]]
    assert listed({"external_id": "none"}) == []
