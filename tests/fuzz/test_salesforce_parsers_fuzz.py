"""Fuzzing the Salesforce response parsers: any body, status or header is a result or a clear
error (a `SalesforceError`, or the `ValueError` the caller turns into one), never another
exception, and each case within `bounded`'s time and memory ceilings.

Covered: a query page (`records.query_result`, from JSON values and from raw bytes as the
client reads them), the token endpoint's answer (`auth.token_from`), a failed response's
error (`client.error_for` and the error array under it), network failures with any cause
chain (`retries.network_error`), and the `Sforce-Limit-Info` header (`parse_limit_info`).
"""

from __future__ import annotations

import json
import ssl
from typing import Any

import httpx
from hypothesis import given
from hypothesis import strategies as st

from controller import http_bodies
from controller.sources.salesforce.auth import Token, token_from
from controller.sources.salesforce.client import _error_array, error_for, parse_limit_info
from controller.sources.salesforce.errors import SalesforceError
from controller.sources.salesforce.records import QueryResult, query_result
from controller.sources.salesforce.retries import network_error
from tests.fuzz.bounds import PARSER_CASES, bounded, fuzz

WHERE = "reading users: GET /services/data/v62.0/query"
scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=12), inner, max_size=5)
    ),
    max_leaves=12,
)
record = st.dictionaries(st.sampled_from(["Id", "Username", "attributes", "Email"]), json_values)
pages = st.fixed_dictionaries(
    {},
    optional={
        "totalSize": st.integers(-5, 10**12) | json_values,
        "done": st.booleans() | json_values,
        "records": st.lists(record | json_values, max_size=6) | json_values,
        "nextRecordsUrl": st.just("/services/data/v62.0/query/01g-2000") | json_values,
    },
)
oauth_bodies = st.fixed_dictionaries(
    {},
    optional={
        "access_token": st.text(max_size=30) | json_values,
        "instance_url": st.sampled_from(["https://x.my.salesforce.com/", "ftp://x", ""])
        | json_values,
        "error": st.sampled_from(["invalid_grant", "invalid_client_id"]) | json_values,
        "error_description": st.text(max_size=30) | json_values,
    },
)
error_arrays = st.lists(
    st.fixed_dictionaries(
        {},
        optional={
            "errorCode": st.sampled_from(["REQUEST_LIMIT_EXCEEDED", "INVALID_SESSION_ID"])
            | json_values,
            "message": st.text(max_size=30) | json_values,
        },
    )
    | json_values,
    max_size=4,
)
statuses = st.integers(100, 599)


def _bytes(values: st.SearchStrategy[Any]) -> st.SearchStrategy[bytes]:
    """JSON text of `values`, sometimes cut short, or any bytes at all."""
    encoded = values.map(lambda value: json.dumps(value, allow_nan=True).encode())
    cut = st.tuples(encoded, st.integers(0, 200)).map(lambda pair: pair[0][: pair[1]])
    return encoded | cut | st.binary(max_size=200)


@fuzz(PARSER_CASES)
@given(body=pages | json_values)
def test_a_query_page_of_any_shape_is_a_page_or_a_value_error(body: Any) -> None:
    with bounded("query_result"):
        try:
            assert isinstance(query_result(body, what="reading users"), QueryResult)
        except ValueError as error:
            assert str(error).startswith("reading users: ")


@fuzz(PARSER_CASES)
@given(content=_bytes(pages))
def test_a_query_page_from_any_bytes_is_a_page_or_a_value_error(content: bytes) -> None:
    with bounded("parse_json + query_result"):
        try:
            page = query_result(http_bodies.parse_json(content), what="reading users")
        except ValueError:
            return
        assert page.total_size >= 0


@fuzz(PARSER_CASES)
@given(status=statuses | st.sampled_from([200, 400, 500]), content=_bytes(oauth_bodies))
def test_any_token_answer_is_a_token_or_a_salesforce_error(status: int, content: bytes) -> None:
    with bounded("token_from"):
        try:
            token = token_from("OAuth token request", status, content)
        except SalesforceError as error:
            assert str(error).startswith("OAuth token request: ")
            return
        assert isinstance(token, Token) and status == 200
        assert token.access_token and token.instance_url.startswith(("https://", "http://"))


@fuzz(PARSER_CASES)
@given(status=statuses, content=_bytes(error_arrays), header=st.binary(max_size=60))
def test_any_failed_response_is_a_salesforce_error(
    status: int, content: bytes, header: bytes
) -> None:
    response = httpx.Response(status, content=content, headers={"Sforce-Limit-Info": header})
    with bounded("error_for"):
        said = _error_array(response)
        error = error_for(WHERE, response)
        usage = parse_limit_info(response.headers.get("Sforce-Limit-Info"))
    assert said is None or all(isinstance(part, str) for part in said)
    assert usage is None or len(usage) == 2
    assert isinstance(error, SalesforceError)
    assert str(error).startswith(f"{WHERE}: ")


@fuzz(PARSER_CASES)
@given(
    message=st.text(max_size=60),
    cause=st.sampled_from(["none", "verify", "ssl", "os"]),
    code=st.integers(0, 100),
)
def test_any_network_failure_is_a_salesforce_error(message: str, cause: str, code: int) -> None:
    failure = httpx.ConnectError(message)
    if cause == "verify":
        verify = ssl.SSLCertVerificationError(1, message)
        verify.verify_code, verify.verify_message = code, message
        failure.__cause__ = verify
    elif cause == "ssl":
        failure.__context__ = ssl.SSLError(1, message)
    elif cause == "os":
        failure.__cause__ = OSError(code, message)
        failure.__cause__.__context__ = failure  # a cycle must not loop
    with bounded("network_error"):
        error = network_error(WHERE, failure)
    assert isinstance(error, SalesforceError)
    assert ("TLS" in str(error)) == (cause in ("verify", "ssl"))


@fuzz(PARSER_CASES)
@given(header=st.none() | st.text(max_size=80) | st.from_regex(r"api-usage=\d{1,30}/\d{1,30}"))
def test_any_limit_header_is_a_usage_or_none(header: str | None) -> None:
    with bounded("parse_limit_info"):
        usage = parse_limit_info(header)
    assert usage is None or all(isinstance(n, int) and n >= 0 for n in usage)
