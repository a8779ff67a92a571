"""What answers for Salesforce in the hostile tests: a sound token endpoint, a hostile query.

A Starlette app on 127.0.0.1 (`serving.serve(hostile_salesforce.app)`): the token endpoint
answers either OAuth flow with a token and its own URL as instance_url; the query endpoint
misbehaves as `mode` says (see `HostileSalesforce.query`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.hostile.server import DEEP, dense_json, gzip_bomb

QUERY = "/services/data/v62.0/query"


class HostileSalesforce:
    """The query endpoint's misbehaviour; the token endpoint always answers soundly.

    Modes: `deep-json` (100,000 deep), `gzip-bomb` (1 GiB inflated), `dense-json` (11 million
    objects under 32 MiB), `drip` (a byte every half second), `endless` (a billion records
    claimed, one a page, every page with a next).
    """

    def __init__(self) -> None:
        self.mode = "deep-json"
        self.queries = 0
        routes = [
            Route("/services/oauth2/token", self.token, methods=["POST"]),
            Route(QUERY, self.query),
            Route(QUERY + "/{cursor}", self.query),
        ]
        self.app = Starlette(routes=routes)

    async def token(self, request: Request) -> JSONResponse:
        root = str(request.base_url).rstrip("/")
        return JSONResponse({"access_token": "tok-hostile", "instance_url": root})

    async def query(self, request: Request) -> Response:
        self.queries += 1
        if self.mode == "deep-json":
            return Response(b"[" * DEEP + b"]" * DEEP, media_type="application/json")
        if self.mode in ("gzip-bomb", "dense-json"):
            body = gzip_bomb() if self.mode == "gzip-bomb" else dense_json()
            gzipped = {"Content-Encoding": "gzip"}
            return Response(body, media_type="application/json", headers=gzipped)
        if self.mode == "drip":
            return StreamingResponse(_drip(), media_type="application/json")
        # endless: every page says a billion records and has a next page
        page = {
            "totalSize": 10**9,
            "done": False,
            "records": [{"Id": f"005{self.queries:012d}"}],
            "nextRecordsUrl": f"{QUERY}/01g-{self.queries}",
        }
        return JSONResponse(page)


async def _drip() -> AsyncIterator[bytes]:
    for _ in range(600):  # bounded: five minutes at most
        yield b" "
        await asyncio.sleep(0.5)
