"""The Slack SCIM emulator over a real socket: auth, users, names, PATCH shapes, errors.

Every test serves a fresh emulator on 127.0.0.1 and talks to it with httpx, asserting on the
responses and on `SlackApp.users()`. Groups, rate limits, the object lock and the scim2-tester
run are in test_slack_groups_limits.py.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from emulators import serving
from emulators.slack import SlackApp, SlackLimits, SlackSettings, make_slack_app

TOKEN = "xoxp-test-token"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"


@dataclass
class Slack:
    app: SlackApp
    url: str
    """The SCIM base URL, `{root}/scim/v2`."""
    http: httpx.Client

    def create(self, user_name: str, email: str, **extra: Any) -> dict[str, Any]:
        body = {"userName": user_name, "emails": [{"value": email}], **extra}
        response = self.http.post("/Users", json=body)
        assert response.status_code == 201, response.text
        return dict(response.json())

    def patch(self, path: str, *operations: dict[str, Any]) -> httpx.Response:
        return self.http.patch(path, json={"schemas": [PATCH_OP], "Operations": list(operations)})


@contextlib.contextmanager
def served(settings: SlackSettings) -> Iterator[Slack]:
    app = make_slack_app(settings)
    with serving.serve(app) as root:
        url = f"{root}/scim/v2"
        headers = {"Authorization": f"Bearer {TOKEN}"}
        with httpx.Client(base_url=url, headers=headers) as http:
            yield Slack(app, url, http)


@pytest.fixture
def slack() -> Iterator[Slack]:
    with served(SlackSettings(token=TOKEN, limits=SlackLimits.unlimited())) as emulator:
        yield emulator


def assert_error(response: httpx.Response, status: int, detail: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == {"schemas": [ERROR], "detail": detail, "status": status}


def test_requests_without_the_token_are_401(slack: Slack) -> None:
    with httpx.Client(base_url=slack.url) as anonymous:
        assert_error(anonymous.get("/Users"), 401, "invalid_authentication")
        wrong = {"Authorization": "Bearer xoxp-wrong"}
        assert_error(
            anonymous.post("/Users", headers=wrong, json={}), 401, "invalid_authentication"
        )
    assert slack.app.users() == []


def test_create_returns_the_slack_resource_with_location(slack: Slack) -> None:
    response = slack.http.post(
        "/Users",
        json={
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
            "userName": "ada",
            "externalId": "005XX1",
            "name": {"givenName": "Ada", "familyName": "Lovelace"},
            "displayName": "Ada L",
            "title": "Engineer",
            "emails": [{"value": "ada@orion.example", "primary": True}],
            ENTERPRISE: {"department": "R&D", "employeeNumber": "42"},
        },
        headers={"Content-Type": "application/scim+json"},
    )
    assert response.status_code == 201
    assert response.headers["content-type"] == "application/json"
    user = response.json()
    assert (
        response.headers["location"]
        == user["meta"]["location"]
        == f"{slack.url}/Users/{user['id']}"
    )
    assert user["id"][0] == "U" and len(user["id"]) == 11 and user["id"][1:].isalnum()
    assert user["id"][1:] == user["id"][1:].upper()
    assert user["schemas"] == ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE]
    assert (user["userName"], user["nickName"], user["externalId"]) == ("ada", "ada", "005XX1")
    assert user["emails"] == [{"value": "ada@orion.example", "type": "work", "primary": True}]
    assert user[ENTERPRISE] == {"department": "R&D", "employeeNumber": "42"}
    assert user["active"] is True and user["groups"] == []
    assert user["meta"]["resourceType"] == "User"
    assert slack.http.get(f"/Users/{user['id']}").json() == user == slack.app.users()[0]
    plain = slack.create("bob", "bob@orion.example")
    assert plain["externalId"] == "" and plain["schemas"] == [
        "urn:ietf:params:scim:schemas:core:2.0:User"
    ]


def test_create_needs_a_username_and_an_email(slack: Slack) -> None:
    no_email = slack.http.post("/Users", json={"userName": "ada"})
    assert_error(no_email, 400, "missing_schema_element")
    no_name = slack.http.post("/Users", json={"emails": [{"value": "a@orion.example"}]})
    assert_error(no_name, 400, "missing_schema_element")
    bad = slack.http.post("/Users", json={"userName": "ada", "emails": [{"value": "nope"}]})
    assert_error(bad, 400, "invalid_email")
    assert slack.app.users() == []


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("Jane.Doe@orion.example", "jane.doe"),
        ("GuestUser", "guestuser"),
        ("Jane Doe!", "jane_doe_"),
        ("a-b_c.d", "a-b_c.d"),
        ("x" * 21, "x" * 21),
    ],
)
def test_usernames_are_normalised(slack: Slack, given: str, stored: str) -> None:
    user = slack.create(given, "someone@orion.example")
    assert (user["userName"], user["nickName"]) == (stored, stored)
    assert slack.app.user_by_name(stored) is not None


def test_usernames_too_long_or_taken_are_refused(slack: Slack) -> None:
    too_long = slack.http.post(
        "/Users", json={"userName": "y" * 22, "emails": [{"value": "y@orion.example"}]}
    )
    assert_error(too_long, 400, "username_too_long")
    channel = slack.http.post(
        "/Users", json={"userName": "General", "emails": [{"value": "g@orion.example"}]}
    )
    assert_error(channel, 409, "username_taken")
    slack.create("ada", "ada@orion.example")
    twin = slack.http.post(
        "/Users", json={"userName": "ADA@elsewhere.example", "emails": [{"value": "a2@x.example"}]}
    )
    assert_error(twin, 409, "username_taken")
    assert [user["userName"] for user in slack.app.users()] == ["ada"]


def test_emails_stay_taken_by_deactivated_users(slack: Slack) -> None:
    ada = slack.create("ada", "ada@orion.example")
    assert slack.http.delete(f"/Users/{ada['id']}").status_code == 204
    again = slack.http.post(
        "/Users", json={"userName": "ada2", "emails": [{"value": "ADA@orion.example"}]}
    )
    assert_error(again, 409, "email_taken")
    renamed = slack.patch(
        f"/Users/{ada['id']}", {"op": "replace", "path": "userName", "value": "general"}
    )
    assert_error(renamed, 409, "username_taken")


def test_list_pages_default_10_cap_1000_and_lists_deactivated_users(slack: Slack) -> None:
    for i in range(12):
        slack.app.add_user(f"user{i:02d}", f"user{i:02d}@orion.example", active=i % 2 == 0)
    first = slack.http.get("/Users").json()
    assert first["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:ListResponse"]
    assert (first["totalResults"], first["itemsPerPage"], first["startIndex"]) == (12, 10, 1)
    names = [user["userName"] for user in first["Resources"]]
    assert names == [f"user{i:02d}" for i in range(10)]
    assert [user["active"] for user in first["Resources"]][:2] == [True, False]
    rest = slack.http.get("/Users", params={"startIndex": 11, "count": 10}).json()
    assert [user["userName"] for user in rest["Resources"]] == ["user10", "user11"]
    assert rest["startIndex"] == 11
    everyone = slack.http.get("/Users", params={"startIndex": 0, "count": 5000}).json()
    assert (everyone["startIndex"], everyone["itemsPerPage"]) == (1, 12)


def test_count_above_1000_is_1000(slack: Slack) -> None:
    for i in range(1001):
        slack.app.add_user(f"u{i}", f"u{i}@orion.example")
    page = slack.http.get("/Users", params={"count": 1001}).json()
    assert (page["totalResults"], page["itemsPerPage"]) == (1001, 1000)


def test_filters_eq_on_username_external_id_and_email(slack: Slack) -> None:
    slack.app.add_user("ada", "Ada@orion.example", external_id="005A")
    slack.app.add_user("bob", "bob@orion.example", active=False)
    for text, expected in [
        ('userName eq "ada"', ["ada"]),
        ('USERNAME Eq "Ada"', ["ada"]),
        ('externalId eq "005A"', ["ada"]),
        ('emails eq "ada@orion.example"', ["ada"]),
        ('emails.value eq "bob@orion.example"', ["bob"]),
        ('userName eq "nobody"', []),
    ]:
        page = slack.http.get("/Users", params={"filter": text}).json()
        assert [user["userName"] for user in page["Resources"]] == expected, text
        assert page["totalResults"] == len(expected)
    for text in ['title eq "x"', 'userName co "a"', "userName eq ada", 'userName eq "a" or x']:
        assert_error(slack.http.get("/Users", params={"filter": text}), 400, "invalid_filter")


def test_patch_shapes(slack: Slack) -> None:
    ada = slack.create("ada", "ada@orion.example")
    response = slack.patch(
        f"/Users/{ada['id']}",
        {"op": "Replace", "path": "title", "value": "CTO"},
        {"op": "add", "path": "name.givenName", "value": "Ada"},
        {"op": "replace", "path": f"{ENTERPRISE}:department", "value": "R&D"},
        {"op": "replace", "path": 'emails[type eq "work"].value', "value": "ada@new.example"},
        {"op": "replace", "path": "externalId", "value": "005B"},
        {
            "op": "replace",
            "value": {
                "displayName": "Ada L",
                "name": {"familyName": "Lovelace"},
                ENTERPRISE: {"costCenter": "C1"},
            },
        },
        {"op": "replace", "path": "nickName", "value": "Ada.L"},
    )
    assert response.status_code == 200, response.text
    user = response.json()
    assert user["title"] == "CTO" and user["displayName"] == "Ada L"
    assert user["name"] == {"givenName": "Ada", "familyName": "Lovelace"}
    assert user[ENTERPRISE] == {"department": "R&D", "costCenter": "C1"}
    assert user["emails"][0]["value"] == "ada@new.example"
    assert (user["userName"], user["nickName"], user["externalId"]) == ("ada.l", "ada.l", "005B")
    assert slack.app.users() == [user]
    removed = slack.patch(
        f"/Users/{ada['id']}",
        {"op": "remove", "path": "title"},
        {"op": "remove", "path": f"{ENTERPRISE}:department"},
    ).json()
    assert removed["title"] == "" and removed[ENTERPRISE] == {"costCenter": "C1"}


def test_patch_is_atomic_and_refuses_bad_operations(slack: Slack) -> None:
    ada = slack.create("ada", "ada@orion.example")
    path = f"/Users/{ada['id']}"
    before = slack.app.users()
    for operations, status, detail in [
        (
            [{"op": "replace", "path": "title", "value": "x"}, {"op": "remove"}],
            400,
            "no_path_for_remove",
        ),
        ([{"op": "remove", "path": "emails"}], 400, "missing_primary_email"),
        (
            [{"op": "remove", "path": 'emails[value eq "ada@orion.example"]'}],
            400,
            "missing_primary_email",
        ),
        (
            [
                {"op": "replace", "path": "title", "value": "x"},
                {"op": "replace", "path": "userName", "value": "z" * 30},
            ],
            400,
            "username_too_long",
        ),
        ([{"op": "replace", "path": "shoeSize", "value": "9"}], 400, "invalid_path"),
    ]:
        assert_error(slack.patch(path, *operations), status, detail)
    assert_error(
        slack.patch("/Users/UNOSUCHUSER1", {"op": "remove", "path": "title"}), 404, "no_such_user"
    )
    assert slack.app.users() == before


def test_put_overwrites_everything_but_external_id(slack: Slack) -> None:
    ada = slack.create("ada", "ada@orion.example", title="CTO", externalId="005A")
    response = slack.http.put(
        f"/Users/{ada['id']}",
        json={"userName": "ada", "emails": [{"value": "ada@orion.example"}], "externalId": "other"},
    )
    assert response.status_code == 200
    user = response.json()
    assert (user["title"], user["externalId"], user["active"]) == ("", "005A", True)


def test_delete_deactivates_and_patch_reactivates(slack: Slack) -> None:
    ada = slack.create("ada", "ada@orion.example")
    deleted = slack.http.delete(f"/Users/{ada['id']}")
    assert deleted.status_code == 204 and deleted.content == b""
    assert slack.http.get(f"/Users/{ada['id']}").json()["active"] is False
    assert slack.app.users()[0]["active"] is False
    back = slack.patch(f"/Users/{ada['id']}", {"op": "replace", "path": "active", "value": True})
    assert back.json()["active"] is True
    assert slack.app.writes == 3


def test_behind_the_api_edits_show_up(slack: Slack) -> None:
    made = slack.app.add_user("Hand.Made", "hand@orion.example", display_name="Hand")
    slack.app.edit_user(made["id"], title="Boss", active=False, department="Ops")
    user = slack.http.get(f"/Users/{made['id']}").json()
    assert (user["userName"], user["title"], user["active"]) == ("hand.made", "Boss", False)
    assert user[ENTERPRISE] == {"department": "Ops"}
    assert slack.app.writes == 0
