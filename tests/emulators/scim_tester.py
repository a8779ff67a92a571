"""scim2-tester's client for our emulators: scim2-client over a plain httpx.Client.

scim2-client's bundled httpx engine imports the `httpx2` package, which is not installed; this
subclass sends through the httpx.Client a test already has (base URL and token set).
"""

from __future__ import annotations

from typing import Any

import httpx
from scim2_client import BaseSyncSCIMClient
from scim2_tester import Status, check_server


class SyncClient(BaseSyncSCIMClient):
    def __init__(self, http: httpx.Client) -> None:
        super().__init__()
        self.http = http

    def _parse_json(self, response: Any) -> Any:
        return response.json()

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        return self.http.request(method, url, **kwargs)


def failing_checks(http: httpx.Client) -> tuple[set[str], list[Any]]:
    """Run every scim2-tester check; the failing ones as "<resource type> <title>", and all."""
    results = check_server(SyncClient(http))
    failing = {
        f"{result.resource_type} {result.title}".removeprefix("None ")
        for result in results
        if result.status in (Status.ERROR, Status.CRITICAL)
    }
    return failing, results
