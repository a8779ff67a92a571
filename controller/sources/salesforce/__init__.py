"""Salesforce as the source of truth: users, permission sets and freezes read over the REST API.

`SalesforceSource` is the Source; the modules below it split the work so each can be tested
alone: `soql` (the exact queries, pure), `records` (query JSON to SourceUsers, pure), `auth`
(the two OAuth flows and the token cache), `client` (all HTTP to the REST API), `errors`.
"""

from __future__ import annotations

from controller.sources.salesforce.errors import (
    BackingOffError,
    IncompleteQueryError,
    InvalidRecordError,
    RequestLimitError,
    SalesforceApiError,
    SalesforceAuthError,
    SalesforceConfigError,
    SalesforceError,
    TransientSalesforceError,
)
from controller.sources.salesforce.source import ChangedUsers, SalesforceSource, Watermark

__all__ = [
    "BackingOffError",
    "ChangedUsers",
    "IncompleteQueryError",
    "InvalidRecordError",
    "RequestLimitError",
    "SalesforceApiError",
    "SalesforceAuthError",
    "SalesforceConfigError",
    "SalesforceError",
    "SalesforceSource",
    "TransientSalesforceError",
    "Watermark",
]
