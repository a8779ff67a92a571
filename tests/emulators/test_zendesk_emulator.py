"""The Zendesk Support Users API emulator over a real socket: auth, users, paging, soft delete.

Every test serves a fresh emulator on 127.0.0.1 and talks to it with httpx, asserting on the
responses and on `ZendeskApp` behind the API's back. Rate limits, groups, memberships,
custom roles and role filters are in test_zendesk_groups_limits.py, which reuses these helpers.
"""

from __future__ import annotations

import base64
import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from emulators import serving
from emulators.zendesk import ZendeskApp, ZendeskSettings, make_zendesk_app

TOKEN = "zendesk-emulator-token"
UNLIMITED = ZendeskSettings(token=TOKEN, plan_limit=None, per_user_limit=None)


@dataclass
class Zendesk:
    app: ZendeskApp
    url: str
    """The API base URL, `{root}/api/v2`."""
    http: httpx.Client

    def create(self, name: str, email: str, **extra: Any) -> dict[str, Any]:
        response = self.http.post("/users", json={"user": {"name": name, "email": email, **extra}})
        assert response.status_code == 201, response.text
        return dict(response.json()["user"])

    def put(self, user_id: int, **fields: Any) -> httpx.Response:
        return self.http.put(f"/users/{user_id}", json={"user": fields})

    def ids(self, body: dict[str, Any], key: str = "users") -> list[int]:
        return [record["id"] for record in body[key]]


@contextlib.contextmanager
def served(settings: ZendeskSettings) -> Iterator[Zendesk]:
    app = make_zendesk_app(settings)
    with serving.serve(app) as root:
        url = f"{root}/api/v2"
        headers = {"Authorization": f"Bearer {TOKEN}"}
        with httpx.Client(base_url=url, headers=headers, timeout=10) as http:
            yield Zendesk(app, url, http)


@pytest.fixture
def zendesk() -> Iterator[Zendesk]:
    with served(UNLIMITED) as emulator:
        yield emulator


def assert_error(
    response: httpx.Response, status: int, error: str, field: str = "", code: str = ""
) -> dict[str, Any]:
    """The response is Zendesk's JSON error; with `field`, a 422 naming that field and code."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    assert body["error"] == error
    if field:
        assert body["description"] == "Record validation errors"
        problems = body["details"][field]
        assert any(problem["error"] == code for problem in problems), body
        assert all(isinstance(problem["description"], str) for problem in problems)
    return body


def add_users(app: ZendeskApp, count: int) -> list[int]:
    return [app.add_user(f"User {n}", f"user{n:03d}@orion.example")["id"] for n in range(count)]


def test_requests_need_the_token_as_bearer_or_basic(zendesk: Zendesk) -> None:
    with httpx.Client(base_url=zendesk.url) as anonymous:
        denied = anonymous.get("/users")
        assert denied.status_code == 401
        assert denied.json() == {"error": "Couldn't authenticate you"}
        assert anonymous.get("/users", headers={"Authorization": "Bearer nope"}).status_code == 401

        def basic(user: str, password: str) -> dict[str, str]:
            raw = base64.b64encode(f"{user}:{password}".encode()).decode()
            return {"Authorization": f"Basic {raw}"}

        ok = anonymous.get("/users.json", headers=basic("admin@orion.example/token", TOKEN))
        assert ok.status_code == 200 and ok.json()["users"] == []
        for user, password in [("admin@orion.example", TOKEN), ("a@o.example/token", "x")]:
            refused = anonymous.post(
                "/users", headers=basic(user, password), json={"user": {"name": "X"}}
            )
            assert refused.status_code == 401
    assert zendesk.app.users() == [] and zendesk.app.writes == 0


def test_create_returns_the_zendesk_user(zendesk: Zendesk) -> None:
    response = zendesk.http.post(
        "/users",
        json={"user": {"name": " Ada ", "email": "Ada@Orion.example", "skip_verify_email": True}},
    )
    assert response.status_code == 201
    assert response.headers["content-type"].startswith("application/json")
    user = response.json()["user"]
    assert user["id"] >= 3750000000001
    assert user["url"] == f"{zendesk.url}/users/{user['id']}.json"
    assert (user["name"], user["email"], user["external_id"]) == ("Ada", "ada@orion.example", None)
    assert (user["role"], user["custom_role_id"], user["role_type"]) == ("end-user", None, None)
    assert (user["active"], user["suspended"], user["verified"]) == (True, False, False)
    assert user["created_at"].endswith("Z") and user["created_at"] == user["updated_at"]
    assert zendesk.http.get(f"/users/{user['id']}").json() == {"user": user}
    assert zendesk.app.users() == [user] and zendesk.app.writes == 1
    assert zendesk.app.user_by_email("ADA@orion.example") == user


def test_create_refuses_duplicates_blank_names_and_bad_values(zendesk: Zendesk) -> None:
    ada = zendesk.create("Ada", "ada@orion.example", external_id="005A")
    duplicate = zendesk.http.post(
        "/users", json={"user": {"name": "Other", "email": "ADA@orion.example"}}
    )
    body = assert_error(duplicate, 422, "RecordInvalid", "email", "DuplicateValue")
    assert "ada@orion.example" in body["details"]["email"][0]["description"]
    same_id = {"name": "Bob", "email": "bob@orion.example", "external_id": "005a"}
    taken = zendesk.http.post("/users", json={"user": same_id})
    assert_error(taken, 422, "RecordInvalid", "external_id", "DuplicateValue")
    blank = zendesk.http.post("/users", json={"user": {"name": " ", "email": "c@orion.example"}})
    assert_error(blank, 422, "RecordInvalid", "name", "BlankValue")
    nameless = zendesk.http.post("/users", json={"user": {"email": "c@orion.example"}})
    assert_error(nameless, 422, "RecordInvalid", "name", "BlankValue")
    role = {"name": "C", "email": "c@orion.example", "role": "owner"}
    assert_error(
        zendesk.http.post("/users", json={"user": role}),
        422,
        "RecordInvalid",
        "role",
        "InvalidValue",
    )
    bad_email = zendesk.http.post("/users", json={"user": {"name": "C", "email": "nope"}})
    assert_error(bad_email, 422, "RecordInvalid", "email", "InvalidValue")
    assert_error(zendesk.http.post("/users", json={"name": "C"}), 400, "ParameterMissing")
    text = zendesk.http.post(
        "/users", content=b"name=C", headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert_error(text, 415, "UnsupportedMediaType")
    broken = zendesk.http.post("/users", content=b"{", headers={"Content-Type": "application/json"})
    assert_error(broken, 400, "InvalidJSON")
    assert zendesk.app.users() == [ada] and zendesk.app.writes == 1


def test_create_or_update_matches_external_id_case_insensitively_then_email(
    zendesk: Zendesk,
) -> None:
    def upsert(**user: Any) -> httpx.Response:
        return zendesk.http.post("/users/create_or_update", json={"user": user})

    made = upsert(name="Ada", email="ada@orion.example", external_id="005abc", role="agent")
    assert made.status_code == 201
    ada = made.json()["user"]
    assert (ada["external_id"], ada["role"]) == ("005abc", "agent")
    again = upsert(name="Ada L", email="ada@orion.example", external_id="005ABC")
    assert again.status_code == 200
    updated = again.json()["user"]
    assert updated["id"] == ada["id"]
    assert (updated["name"], updated["external_id"], updated["role"]) == (
        "Ada L",
        "005ABC",
        "agent",
    )
    assert zendesk.app.user_by_external_id("005abc") == updated
    by_email = upsert(name="Ada", email="ADA@orion.example", external_id="005XYZ")
    assert by_email.status_code == 200 and by_email.json()["user"]["id"] == ada["id"]
    assert by_email.json()["user"]["external_id"] == "005XYZ"
    other = upsert(name="Bob", email="bob@orion.example")
    assert other.status_code == 201
    assert len(zendesk.app.users()) == 2
    assert_error(upsert(email="cy@orion.example"), 422, "RecordInvalid", "name", "BlankValue")


def test_put_email_adds_a_secondary_identity_and_keeps_the_primary(zendesk: Zendesk) -> None:
    ada = zendesk.create("Ada", "ada@orion.example")
    bob = zendesk.create("Bob", "bob@orion.example")
    response = zendesk.put(ada["id"], email="ada.lovelace@orion.example", name="Ada L")
    assert response.status_code == 200
    user = response.json()["user"]
    assert (user["email"], user["name"]) == ("ada@orion.example", "Ada L")
    identities = zendesk.http.get(f"/users/{ada['id']}/identities").json()["identities"]
    assert [(i["value"], i["primary"], i["type"]) for i in identities] == [
        ("ada@orion.example", True, "email"),
        ("ada.lovelace@orion.example", False, "email"),
    ]
    assert zendesk.app.identities_of(ada["id"]) == [
        "ada@orion.example",
        "ada.lovelace@orion.example",
    ]
    taken = zendesk.put(ada["id"], email="bob@orion.example")
    assert_error(taken, 422, "RecordInvalid", "email", "DuplicateValue")
    steal = zendesk.http.post(
        "/users", json={"user": {"name": "X", "email": "ada.lovelace@orion.example"}}
    )
    assert_error(steal, 422, "RecordInvalid", "email", "DuplicateValue")
    assert zendesk.app.identities_of(bob["id"]) == ["bob@orion.example"]
    assert_error(zendesk.put(999, name="X"), 404, "RecordNotFound")
    assert zendesk.http.get("/users/999").json() == {
        "error": "RecordNotFound",
        "description": "Not found",
    }
    assert_error(zendesk.http.get("/tickets"), 404, "InvalidEndpoint")


def test_a_suspended_user_is_listed_as_suspended_and_active(zendesk: Zendesk) -> None:
    ada = zendesk.create("Ada", "ada@orion.example")
    response = zendesk.put(ada["id"], suspended=True)
    assert response.status_code == 200
    (listed,) = zendesk.http.get("/users").json()["users"]
    assert listed["id"] == ada["id"] and listed["suspended"] is True and listed["active"] is True
    assert zendesk.put(ada["id"], suspended=False).json()["user"]["suspended"] is False
    assert_error(
        zendesk.put(ada["id"], suspended="yes"), 422, "RecordInvalid", "suspended", "InvalidValue"
    )


def test_delete_is_a_soft_delete(zendesk: Zendesk) -> None:
    ada = zendesk.create("Ada", "ada@orion.example", external_id="005A")
    bob = zendesk.create("Bob", "bob@orion.example")
    deleted = zendesk.http.delete(f"/users/{ada['id']}")
    assert deleted.status_code == 200
    assert deleted.json()["user"]["active"] is False
    assert zendesk.ids(zendesk.http.get("/users").json()) == [bob["id"]]
    gone = zendesk.http.get("/deleted_users", params={"page[size]": 10}).json()
    assert zendesk.ids(gone, "deleted_users") == [ada["id"]]
    assert gone["meta"]["has_more"] is False
    shown = zendesk.http.get(f"/users/{ada['id']}").json()["user"]
    assert shown["active"] is False and shown["email"] == "ada@orion.example"
    assert_error(zendesk.put(ada["id"], name="Back"), 404, "RecordNotFound")
    assert_error(zendesk.http.delete(f"/users/{ada['id']}"), 404, "RecordNotFound")
    assert len(zendesk.app.users()) == 2
    assert zendesk.app.users(include_deleted=False) == [zendesk.app.users()[1]]
    again = zendesk.create("Ada", "ada@orion.example", external_id="005A")  # freed on delete
    assert again["id"] != ada["id"]


def test_cursor_paging_follows_links_next_to_the_end(zendesk: Zendesk) -> None:
    ids = add_users(zendesk.app, 250)
    response = zendesk.http.get("/users", params={"page[size]": 100})
    pages = [response.json()]
    while pages[-1]["links"]["next"]:
        response = zendesk.http.get(pages[-1]["links"]["next"])
        assert response.status_code == 200
        pages.append(response.json())
    assert [len(page["users"]) for page in pages] == [100, 100, 50]
    assert [page["meta"]["has_more"] for page in pages] == [True, True, False]
    assert [user["id"] for page in pages for user in page["users"]] == ids
    assert pages[0]["links"]["prev"] is None and pages[-1]["meta"]["after_cursor"]
    assert pages[0]["links"]["next"].startswith(zendesk.url + "/users")
    back = zendesk.http.get(pages[1]["links"]["prev"]).json()
    assert zendesk.ids(back) == ids[:100]
    by_cursor = zendesk.http.get(
        "/users", params={"page[size]": 100, "page[after]": pages[0]["meta"]["after_cursor"]}
    )
    assert zendesk.ids(by_cursor.json()) == ids[100:200]
    bad_params: list[dict[str, str | int]] = [
        {"page[size]": 101},
        {"page[size]": 0},
        {"page[after]": "not-a-cursor"},
        {"page[size]": "ten"},
    ]
    for bad in bad_params:
        assert_error(zendesk.http.get("/users", params=bad), 400, "InvalidPaginationParameter")


def test_a_user_created_between_pages_is_neither_lost_nor_doubled(zendesk: Zendesk) -> None:
    ids = add_users(zendesk.app, 5)
    first = zendesk.http.get("/users", params={"page[size]": 2}).json()
    late = zendesk.create("Late", "late@orion.example")
    zendesk.http.delete(f"/users/{ids[0]}")  # already seen: must not shift the rest
    seen = zendesk.ids(first)
    body = first
    while body["meta"]["has_more"]:
        after = body["meta"]["after_cursor"]
        body = zendesk.http.get("/users", params={"page[size]": 2, "page[after]": after}).json()
        seen += zendesk.ids(body)
    assert seen == [*ids, late["id"]]


def test_offset_paging_counts_and_stops_at_page_100(zendesk: Zendesk) -> None:
    ids = add_users(zendesk.app, 250)
    first = zendesk.http.get("/users", params={"per_page": 100}).json()
    assert (first["count"], first["previous_page"], len(first["users"])) == (250, None, 100)
    third = zendesk.http.get(first["next_page"].replace("page=2", "page=3")).json()
    assert zendesk.ids(third) == ids[200:] and third["next_page"] is None
    assert third["previous_page"] and "page=2" in third["previous_page"]
    assert len(zendesk.http.get("/users", params={"per_page": 500}).json()["users"]) == 100
    default = zendesk.http.get("/users", params={"page": 2}).json()
    assert zendesk.ids(default) == ids[100:200]
    assert zendesk.http.get("/users", params={"page": 100, "per_page": 1}).status_code == 200
    over = zendesk.http.get("/users", params={"page": 101, "per_page": 1})
    assert_error(over, 400, "InvalidPaginationParameter")
