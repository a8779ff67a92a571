"""The few raw-ASGI moves the Atlassian layer makes in front of scim2-server.

The layer reads a request body once to judge it, then hands the same body to scim2-server;
it answers refusals itself in the SCIM error shape (status as a string, RFC 7644 section
3.12). These helpers keep that plumbing out of the rules.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from emulators.atlassian.rules import Refusal

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"


async def refuse(send: Send, refusal: Refusal, headers: dict[str, str] | None = None) -> None:
    """Answer with a SCIM Error: `{"schemas", "status": "<string>", "scimType"?, "detail"}`."""
    body: dict[str, Any] = {"schemas": [ERROR], "status": str(refusal.status)}
    if refusal.scim_type:
        body["scimType"] = refusal.scim_type
    body["detail"] = refusal.detail
    raw = [(b"content-type", b"application/scim+json")]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": refusal.status, "headers": raw})
    await send({"type": "http.response.body", "body": json.dumps(body).encode()})


def header(scope: Scope, name: str) -> str:
    wanted = name.encode()
    for key, value in scope.get("headers", ()):
        if key.lower() == wanted:
            return str(value.decode())
    return ""


def parse_json(raw: bytes) -> Any:
    """The body as JSON, or None; scim2-server answers a malformed body itself."""
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return None


async def read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


def replay(body: bytes) -> Receive:
    """A `receive` that hands over a body already read, then a disconnect."""
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive
