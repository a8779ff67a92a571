"""Paging through the query resource: batch sizes, irregular pages, snapshots, locators.

A client must follow nextRecordsUrl until done, take pages of any size, and see the snapshot
taken at query time; these tests check the emulator gives it every reason to.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import httpx
import pytest

from emulators.salesforce import EmulatorSettings, Org
from tests.emulators.conftest import (
    FULL_READ,
    INTEGRATION_USER,
    FakeClock,
    Salesforce,
    jwt_token,
    make_users,
)


@pytest.fixture
def big_org(clock: FakeClock) -> Org:
    return Org.from_users(
        [*make_users(720), {"Username": INTEGRATION_USER, "LastName": "User", "Profile": "Admin"}],
        clock=clock,
    )


@pytest.fixture
def connect(
    serve_org: Callable[[Org, EmulatorSettings], str],
    settings: EmulatorSettings,
    http: httpx.Client,
    rsa_key_pem: bytes,
) -> Callable[..., Salesforce]:
    def connect(org: Org, **changes: object) -> Salesforce:
        url = serve_org(org, replace(settings, **changes))  # type: ignore[arg-type]
        return Salesforce(url, http, jwt_token(http, url, rsa_key_pem, INTEGRATION_USER))

    return connect


def test_every_record_exactly_once_across_irregular_pages(
    big_org: Org, connect: Callable[..., Salesforce]
) -> None:
    salesforce = connect(big_org)

    pages = salesforce.pages(FULL_READ, batch_size=200)

    assert len(pages) >= 4
    assert {page["totalSize"] for page in pages} == {721}
    ids = [record["Id"] for page in pages for record in page["records"]]
    assert len(ids) == 721
    assert ids == sorted({user["Id"] for user in big_org.users()})
    weights = [
        sum(
            1 + (r["PermissionSetAssignments"] or {"totalSize": 0})["totalSize"]
            for r in p["records"]
        )
        for p in pages
    ]
    assert all(weight <= 200 for weight in weights)  # children count toward the batch
    assert any(weight < 150 for weight in weights[:-1])  # and some pages come back short
    for page in pages[:-1]:
        assert page["done"] is False
        assert page["nextRecordsUrl"].startswith("/services/data/v62.0/query/01g")
    assert pages[-1]["done"] is True
    assert "nextRecordsUrl" not in pages[-1]


def test_the_same_seed_gives_the_same_pages(
    big_org: Org, connect: Callable[..., Salesforce]
) -> None:
    first = [len(p["records"]) for p in connect(big_org, seed=7).pages(FULL_READ, batch_size=200)]
    again = [len(p["records"]) for p in connect(big_org, seed=7).pages(FULL_READ, batch_size=200)]
    assert first == again


@pytest.mark.parametrize(("asked", "served"), [(None, 2000), (50, 200), (5000, 2000), (450, 450)])
def test_batch_size_is_clamped_to_200_to_2000(
    clock: FakeClock, connect: Callable[..., Salesforce], asked: int | None, served: int
) -> None:
    users = make_users(2100, permission_sets=0)
    org = Org.from_users([*users, {"Username": INTEGRATION_USER, "LastName": "U", "Profile": "A"}])
    salesforce = connect(org, irregular_batches=False)

    first = salesforce.query("SELECT Id FROM User", batch_size=asked).json()

    assert len(first["records"]) == served
    assert first["nextRecordsUrl"].endswith(f"-{served}")


def test_pages_come_from_the_snapshot_taken_at_query_time(
    big_org: Org, connect: Callable[..., Salesforce]
) -> None:
    salesforce = connect(big_org, irregular_batches=False)
    first = salesforce.query("SELECT Id, Title FROM User ORDER BY Id", batch_size=200).json()
    last_id = sorted(u["Id"] for u in big_org.users())[-1]
    big_org.change_user(last_id, {"Title": "Changed mid-read"})
    big_org.add_user({"Username": "late@gen.example", "LastName": "Late", "Profile": "A"})

    rest = salesforce.more(first["nextRecordsUrl"]).json()
    while not rest["done"]:
        rest = salesforce.more(rest["nextRecordsUrl"]).json()

    assert rest["totalSize"] == 721
    assert rest["records"][-1]["Id"] == last_id
    assert rest["records"][-1]["Title"] is None
    gone = salesforce.more("/services/data/v62.0/query/01gHs0000000000AAA-200")
    assert gone.status_code == 400
    assert gone.json()[0]["errorCode"] == "INVALID_QUERY_LOCATOR"


def test_order_by_and_limit(salesforce: Salesforce) -> None:
    newest = salesforce.records("SELECT Username FROM User ORDER BY Username DESC LIMIT 3")
    assert [r["Username"] for r in newest] == [
        "virginia.henderson@orion.example",
        "tim.berners@orion.example",
        "radia.perlman@orion.example",
    ]
    page = salesforce.query("SELECT Id FROM User LIMIT 2").json()
    assert page["totalSize"] == 2
    assert page["done"] is True
