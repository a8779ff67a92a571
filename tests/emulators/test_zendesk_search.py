"""Search Users (`GET /api/v2/users/search`) in the Zendesk emulator, over a real socket.

A targeted cycle finds an unlinked Zendesk account by its email through this endpoint, so it
must find what Zendesk finds: any of a user's email identities, whole and ignoring case, live
users only, every term of the query at once, and offset pages of at most 100.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.emulators.test_zendesk_emulator import (
    UNLIMITED,
    Zendesk,
    add_users,
    assert_error,
    served,
)


@pytest.fixture
def zendesk() -> Iterator[Zendesk]:
    with served(UNLIMITED) as emulator:
        yield emulator


def found(zendesk: Zendesk, **params: str | int) -> list[int]:
    response = zendesk.http.get("/users/search", params=params)
    assert response.status_code == 200, response.text
    return zendesk.ids(response.json())


def test_an_email_finds_its_user_by_any_identity_ignoring_case(zendesk: Zendesk) -> None:
    ada = zendesk.create("Ada Lovelace", "ada@orion.example")
    zendesk.put(ada["id"], email="ada.l@orion.example")  # a secondary identity
    bob = zendesk.create("Bob", "o'brien@orion.example")
    assert found(zendesk, query='email:"ADA@orion.example"') == [ada["id"]]
    assert found(zendesk, query="email:ada.l@orion.example") == [ada["id"]]
    assert found(zendesk, query="email:o'brien@orion.example") == [bob["id"]]
    assert found(zendesk, query='email:"ada@orion"') == []  # whole, not in part
    body = zendesk.http.get("/users/search.json", params={"query": "email:ada@orion.example"})
    page = body.json()
    assert (page["count"], page["next_page"], page["previous_page"]) == (1, None, None)
    assert page["users"][0]["email"] == "ada@orion.example"


def test_external_id_is_an_id_not_a_query(zendesk: Zendesk) -> None:
    ada = zendesk.create("Ada", "ada@orion.example", external_id="005Ab")
    zendesk.create("Bob", "bob@orion.example")
    assert found(zendesk, external_id="005ab") == [ada["id"]]
    assert found(zendesk, external_id="email:ada@orion.example") == []
    assert found(zendesk, query="external_id:005AB") == [ada["id"]]
    assert found(zendesk) == []  # no query, nobody


def test_every_term_must_match_and_an_unknown_keyword_finds_nobody(zendesk: Zendesk) -> None:
    ada = zendesk.create("Ada Lovelace", "ada@orion.example", role="agent")
    bob = zendesk.create("Bob Lovelace", "bob@orion.example")
    assert found(zendesk, query="lovelace") == [ada["id"], bob["id"]]
    assert found(zendesk, query='role:agent name:"ada love"') == [ada["id"]]
    assert found(zendesk, query="role:agent bob") == []
    assert found(zendesk, query="organization:orion") == []


def test_deleted_users_are_not_found(zendesk: Zendesk) -> None:
    ada = zendesk.create("Ada", "ada@orion.example", external_id="005A")
    assert zendesk.http.delete(f"/users/{ada['id']}").status_code == 200
    assert found(zendesk, query="email:ada@orion.example") == []
    assert found(zendesk, external_id="005A") == []


def test_results_page_by_offset_only(zendesk: Zendesk) -> None:
    ids = add_users(zendesk.app, 150)
    first = zendesk.http.get("/users/search", params={"query": "orion.example"}).json()
    assert (first["count"], len(first["users"])) == (150, 100)
    second = zendesk.http.get(first["next_page"]).json()
    assert zendesk.ids(first) + zendesk.ids(second) == ids and second["next_page"] is None
    small = zendesk.http.get("/users/search", params={"query": "orion", "per_page": 7}).json()
    assert zendesk.ids(small) == ids[:7] and "page=2" in small["next_page"]
    cursor = {"query": "orion", "page[size]": 10}  # no cursor pages here
    assert len(zendesk.http.get("/users/search", params=cursor).json()["users"]) == 100
    over = zendesk.http.get("/users/search", params={"query": "orion", "page": 101})
    assert_error(over, 400, "InvalidPaginationParameter")
    del zendesk.http.headers["Authorization"]
    assert zendesk.http.get("/users/search", params={"query": "orion"}).status_code == 401
