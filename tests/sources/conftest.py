"""A running Salesforce emulator per test, and a SalesforceSource pointed at it over a socket.

`sf_world` builds an org from seed-format users, serves it with `emulators.serving.serve` on
127.0.0.1, writes the JWT key where the policy's `privateKeyFile` points, and hands out sources
(`world.source(...)`) wired through `Wire`, a transport that counts requests and can run a hook
after any response (to expire sessions between two pages, say). The org's clock only moves when
a test moves it, so change timestamps are deterministic; the source's clock is separate, so the
back-off can be stepped past without waiting.
"""

from __future__ import annotations

import contextlib
import datetime
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from controller.policy.schema import SalesforceSpec
from controller.sources.salesforce import SalesforceSource
from emulators import credentials
from emulators.salesforce import EmulatorSettings, Org, make_salesforce_app
from emulators.serving import serve

CLIENT_ID = "3MVG9-test-consumer-key"
CLIENT_SECRET = "cc-secret-9e3b51f0c2d4"
"""Not a secret; distinctive, so a leak into a message is easy to spot."""
SECRET_ENV = "SF_TEST_CLIENT_SECRET"
INTEGRATION_USER = "integration@orion.example"


class Clock:
    """A clock that moves only when told to."""

    def __init__(self, start: datetime.datetime) -> None:
        self.now = start

    def __call__(self) -> datetime.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += datetime.timedelta(**delta)


Hook = Callable[[httpx.Request, httpx.Response], Awaitable[None]]


@dataclass
class _Recorded(httpx.AsyncByteStream):
    """A response stream that keeps a copy of each chunk it passes on."""

    inner: httpx.AsyncByteStream
    into: list[bytes]

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self.inner:
            self.into.append(chunk)
            yield chunk

    async def aclose(self) -> None:
        await self.inner.aclose()


@dataclass
class Wire(httpx.AsyncBaseTransport):
    """The real HTTP transport, counting what passes and calling `hook` after each response."""

    inner: httpx.AsyncHTTPTransport = field(default_factory=httpx.AsyncHTTPTransport)
    requests: list[httpx.Request] = field(default_factory=list)
    responses: list[httpx.Response] = field(default_factory=list)
    hook: Hook | None = None

    bodies: list[list[bytes]] = field(default_factory=list)
    """The raw bytes of each response, as the source streamed them (same order as responses)."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        response = await self.inner.handle_async_request(request)
        self.bodies.append([])
        response.stream = _Recorded(response.stream, self.bodies[-1])  # type: ignore[arg-type]
        self.responses.append(response)
        if self.hook is not None:
            await response.aread()
            await self.hook(request, response)
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()

    def json(self, response: httpx.Response) -> Any:
        """The JSON body of one of `responses`, from the bytes the source read."""
        return json.loads(b"".join(self.bodies[self.responses.index(response)]))

    def count(self, path_part: str) -> int:
        return sum(path_part in request.url.path for request in self.requests)


def user(n: int, **fields: Any) -> dict[str, Any]:
    """A seed-format user; `fields` override the defaults."""
    return {
        "Username": f"user{n:04d}@orion.example",
        "Email": f"User{n:04d}@Orion.example",
        "FirstName": f"First{n}",
        "LastName": f"Last{n}",
        "Profile": {"Name": "Standard User"},
        "UserRole": {"Name": "Floor Nurse"} if n % 2 else None,
        "Department": "Engineering" if n % 3 else "Support",
        "Title": "Engineer",
        **fields,
    }


@dataclass
class World:
    url: str
    org: Org
    org_clock: Clock
    clock: Clock
    directory: Path
    key_pem: bytes
    sources: list[SalesforceSource] = field(default_factory=list)

    def source(
        self,
        *,
        flow: str = "jwt-bearer",
        environ: dict[str, str] | None = None,
        wire: Wire | None = None,
        state_dir: Path | None = None,
        **spec: Any,
    ) -> SalesforceSource:
        auth: dict[str, Any] = {"flow": flow, "clientId": CLIENT_ID}
        if flow == "jwt-bearer":
            auth |= {"username": INTEGRATION_USER, "privateKeyFile": "keys/sf.pem"}
            auth["loginUrl"] = self.url
        else:
            auth["clientSecretEnv"] = SECRET_ENV
        auth |= spec.pop("auth", {})
        document = {"instanceUrl": self.url, "auth": auth, **spec}
        source = SalesforceSource(
            "org",
            SalesforceSpec.model_validate(document),
            base_dir=self.directory,
            environ={SECRET_ENV: CLIENT_SECRET} if environ is None else environ,
            clock=self.clock,
            transport=wire or Wire(),
            state_dir=state_dir,
        )
        self.sources.append(source)
        return source

    async def admin(self, path: str, body: dict[str, Any] | None = None) -> Any:
        async with httpx.AsyncClient(base_url=self.url) as client:
            response = await client.post(f"/_emulator{path}", json=body)
            response.raise_for_status()
            return response.json() if response.content else None

    async def change(self, user_id: str, **changes: Any) -> None:
        self.org_clock.advance(seconds=5)
        await self.admin(f"/users/{user_id}", changes)


@pytest.fixture(scope="session")
def key_pair() -> credentials.KeyPair:
    return credentials.generate("provisioner-tests")


@pytest.fixture
async def make_world(
    tmp_path: Path, key_pair: credentials.KeyPair
) -> AsyncIterator[Callable[..., World]]:
    """A factory of worlds; their sources are closed and servers stopped when the test ends."""
    with contextlib.ExitStack() as servers:
        worlds: list[World] = []

        def build(users: list[dict[str, Any]], **settings: Any) -> World:
            start = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
            org_clock = Clock(start)
            integration = user(0, Username=INTEGRATION_USER, LastName="Integration")
            org = Org.from_users([integration, *users], clock=org_clock)
            settings = {
                "client_id": CLIENT_ID,
                "certificate_pem": key_pair.certificate_pem,
                "client_secret": CLIENT_SECRET,
                **settings,
            }
            url = servers.enter_context(
                serve(make_salesforce_app(org, EmulatorSettings(**settings)))
            )
            keys = tmp_path / "keys"
            keys.mkdir(exist_ok=True)
            (keys / "sf.pem").write_bytes(key_pair.key_pem)
            world = World(url, org, org_clock, Clock(start), tmp_path, key_pair.key_pem)
            worlds.append(world)
            return world

        yield build
        for world in worlds:
            for source in world.sources:
                await source.aclose()
