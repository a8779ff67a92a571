"""Errors as Salesforce sends them: SOQL outside the subset, unknown fields and objects, limits.

Each is a JSON array of `{message, errorCode}`; every response under /services/data/ carries
`Sforce-Limit-Info`, and the daily budget runs out with 403 REQUEST_LIMIT_EXCEEDED.
"""

from __future__ import annotations

import pytest

from tests.emulators.conftest import API, Salesforce


@pytest.mark.parametrize(
    ("soql", "code", "where", "what"),
    [
        (
            "SELECT Id FROM User WHERE Name LIKE 'a%'",
            "MALFORMED_QUERY",
            32,
            "unexpected token: 'LIKE'",
        ),
        (
            "SELECT Department FROM User GROUP BY Department",
            "MALFORMED_QUERY",
            29,
            "unexpected token: 'GROUP'",
        ),
        (
            "SELECT Id FROM User WHERE IsActive = true AND Title = 'a' OR Title = 'b'",
            "MALFORMED_QUERY",
            59,
            "unexpected token: 'OR'",
        ),
        ("SELECT Id FROM User WHERE", "MALFORMED_QUERY", 26, "unexpected token: '<EOF>'"),
        (
            "SELECT Id, Nickname FROM User",
            "INVALID_FIELD",
            12,
            "No such column 'Nickname' on entity 'User'.",
        ),
        ("SELECT Id FROM Account", "INVALID_TYPE", 16, "sObject type 'Account' is not supported."),
        (
            "SELECT Id FROM User WHERE IsActive = 'true'",
            "INVALID_FIELD",
            38,
            "must be of type boolean",
        ),
        (
            "SELECT Id FROM User WHERE SystemModstamp > '2026-01-01'",
            "INVALID_FIELD",
            44,
            "must be of type dateTime",
        ),
        (
            "SELECT Id FROM User WHERE Id = 'nope'",
            "INVALID_QUERY_FILTER_OPERATOR",
            32,
            "invalid ID field: nope",
        ),
        ("SELECT Id, Id FROM User", "MALFORMED_QUERY", 12, "duplicate field selected: Id"),
    ],
)
def test_queries_salesforce_refuses(
    salesforce: Salesforce, soql: str, code: str, where: int, what: str
) -> None:
    response = salesforce.query(soql)

    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json;charset=UTF-8"
    (error,) = response.json()
    assert error["errorCode"] == code
    assert f"\nERROR at Row:1:Column:{where}\n" in error["message"]
    assert what in error["message"]
    assert error["message"].startswith(f"\n{soql}\n{' ' * (where - 1)}^\n")


def test_the_supported_subset_answers(salesforce: Salesforce) -> None:
    soql = (
        "select id from USER"
        " where (Department in ('nursing', 'Support') or Title = 'Staff Engineer')"
        " and IsActive != false and Title != null and Profile.Name = 'Standard User'"
        " and SystemModstamp >= 2020-01-01T00:00:00+01:00 and Username <= 'z\\'z'"
    )
    response = salesforce.query(soql)
    assert response.status_code == 200, response.text
    assert response.json()["totalSize"] == 4  # Ada (by title) and Frances, Alan, Radia (support)


def test_every_data_response_carries_the_limit_header_until_the_budget_is_spent(
    salesforce: Salesforce,
) -> None:
    assert salesforce.admin("limits", {"max": 3, "used": 0}).json()["apiUsage"] == {
        "used": 0,
        "max": 3,
    }
    ok = salesforce.query("SELECT Id FROM User")
    bad = salesforce.query("SELECT Nope FROM User")
    missing = salesforce.http.get(f"{salesforce.url}{API}/sobjects/User", headers=salesforce.auth())
    assert [r.headers["sforce-limit-info"] for r in (ok, bad, missing)] == [
        "api-usage=1/3",
        "api-usage=2/3",
        "api-usage=3/3",
    ]
    assert missing.status_code == 404
    assert missing.json()[0]["errorCode"] == "NOT_FOUND"

    over = salesforce.query("SELECT Id FROM User")

    assert over.status_code == 403
    assert over.headers["sforce-limit-info"] == "api-usage=3/3"
    assert over.json() == [
        {"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}
    ]
    assert salesforce.admin("limits", {"max": 4}).is_success
    assert salesforce.query("SELECT Id FROM User").status_code == 200
