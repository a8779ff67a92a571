"""A full cycle against three SCIM emulators on 127.0.0.1, against the lower bound.

Usage: python -m bench.cycle USERS   (prints one JSON line per scenario)

Three scim2-server processes (`python -m emulators.scim_app`) stand for three apps; the engine
runs in this process with a file Source of USERS people, each granted all three apps. Scenarios,
in order, on the same apps: (c) initial provisioning into empty apps, (a) the next cycle with no
drift, (b) a cycle after 1% of people changed title. Each reports the time of observing and
planning and of applying, and the HTTP requests each took.

The lower bound of a scenario is the fewest requests the SCIM API allows (the pages to list
every account and group, plus one write per changed account) at the emulator's own speed,
measured in the same run with a plain async httpx loop at the executor's concurrency: listing
pages one after another per app, writes 8 at a time per app, the three apps at once. For (c)
the loop creates the same accounts in three fresh emulators, since scim2-server slows as it
fills. The headline is our time divided by that bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import yaml

from bench import synthetic
from controller import connections, runtime
from controller.engine import Engine
from emulators.serving import free_port
from reconcilers import REGISTRY

CONCURRENCY = 8
"""The executor's operations in flight per app (controller/executor.py)."""
PAGE = 1000
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"


@contextlib.contextmanager
def scim_servers(count: int) -> Iterator[list[str]]:
    """`count` scim2-server processes; their SCIM base URLs."""
    ports = [free_port() for _ in range(count)]
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "emulators.scim_app", "--port", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for port in ports
    ]
    urls = [f"http://127.0.0.1:{port}/v2" for port in ports]
    try:
        for url in urls:
            for _ in range(200):
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(f"{url}/ServiceProviderConfig", timeout=1).status_code == 200:
                        break
                time.sleep(0.05)
        yield urls
    finally:
        for process in processes:
            process.terminate()
            process.wait()


class Counting:
    """httpx hooks counting requests per app, as the metrics' hooks do in `run`."""

    def __init__(self) -> None:
        self.requests: Counter[str] = Counter()

    def hooks(self, target: str) -> dict[str, list[Any]]:
        async def count(_: httpx.Request) -> None:
            self.requests[target] += 1

        return {"request": [count]}


async def one_cycle(engine_: Engine, counting: Counting) -> dict[str, Any]:
    counting.requests.clear()
    started = time.perf_counter()
    cycle = await engine_.plan()
    planned = time.perf_counter()
    observe_requests = sum(counting.requests.values())
    applied = await engine_.apply(cycle)
    done = time.perf_counter()
    failed = sum(app.report.count("error") for app in applied.apps if app.report)
    return {
        "observe_plan_s": round(planned - started, 2),
        "apply_s": round(done - planned, 2),
        "total_s": round(done - started, 2),
        "requests_observe": observe_requests,
        "requests_apply": sum(counting.requests.values()) - observe_requests,
        "operations": sum(len(app.plan.operations) for app in cycle.apps),
        "failed": failed,
    }


async def _list_all(client: httpx.AsyncClient, resource: str, total: int) -> int:
    pages = max(1, math.ceil(total / PAGE))
    for page in range(pages):
        response = await client.get(
            f"/{resource}", params={"startIndex": page * PAGE + 1, "count": PAGE}
        )
        response.raise_for_status()
    return pages


async def raw_loop(
    urls: list[str], accounts: int, writes: list[dict[str, Any]], create: bool
) -> dict[str, Any]:
    """The fewest requests, sent by a plain httpx loop: list users and groups, then write."""

    async def app(url: str) -> int:
        async with httpx.AsyncClient(base_url=url, timeout=60) as client:
            requests = await _list_all(client, "Users", accounts) + await _list_all(
                client, "Groups", 4
            )
            limit = asyncio.Semaphore(CONCURRENCY)

            async def write(body: dict[str, Any]) -> None:
                async with limit:
                    if create:
                        response = await client.post("/Users", json=body)
                    else:
                        found = await client.get(
                            "/Users", params={"filter": f'externalId eq "{body["externalId"]}"'}
                        )
                        resource = found.json()["Resources"][0]
                        response = await client.put(
                            f"/Users/{resource['id']}", json={**resource, **body}
                        )
                    response.raise_for_status()

            await asyncio.gather(*(write(body) for body in writes))
            return requests + len(writes)

    started = time.perf_counter()
    requests = await asyncio.gather(*(app(url) for url in urls))
    return {"seconds": round(time.perf_counter() - started, 2), "requests": sum(requests)}


def _user_body(fields: dict[str, Any], title: str) -> dict[str, Any]:
    email = str(fields["Email"]).lower()
    return {
        "schemas": [USER_SCHEMA],
        "userName": email,
        "externalId": fields["Id"],
        "active": True,
        "displayName": f"{fields['FirstName']} {fields['LastName']}",
        "emails": [{"value": email, "type": "work", "primary": True}],
        "title": title,
    }


async def measure(users: int) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    people = synthetic.user_fields(users)
    with tempfile.TemporaryDirectory() as scratch, scim_servers(3) as urls:
        endpoints = dict(zip(synthetic.APPS, urls, strict=True))
        directory = synthetic.write_policy(Path(scratch) / "policy", endpoints, users)
        policy = connections.load_policy(directory, registry=REGISTRY, environ={})
        counting = Counting()
        running = Engine(
            policy,
            registry=REGISTRY,
            environ={},
            http_hooks=counting.hooks,
        )
        async with running:
            results.append(
                {"scenario": "(c) initial provisioning", **await one_cycle(running, counting)}
            )
            results.append({"scenario": "(a) no drift", **await one_cycle(running, counting)})
            changed = [p for n, p in enumerate(people) if synthetic.drifted(n, 1.0)]
            for person in changed:
                person["Title"] = "Senior Engineer"
            (directory / "users.yaml").write_text(yaml.safe_dump({"users": people}))
            results.append({"scenario": "(b) 1% drift", **await one_cycle(running, counting)})
        accounts = users
        results[1]["bound"] = await raw_loop(urls, accounts, [], create=False)
        results[2]["bound"] = await raw_loop(
            urls, accounts, [_user_body(p, "Senior Engineer") for p in changed], create=False
        )
    with scim_servers(3) as fresh:
        creates = [_user_body(p, "Engineer") for p in people]
        results[0]["bound"] = await raw_loop(fresh, 0, creates, create=True)
    for result in results:
        result["users"] = users
        result["ratio"] = round(result["total_s"] / max(result["bound"]["seconds"], 1e-9), 2)
    return results


def main() -> None:
    runtime.tune_gc()  # as `provisioner` does
    for result in asyncio.run(measure(int(sys.argv[1]))):
        print(json.dumps(result))


if __name__ == "__main__":
    main()
