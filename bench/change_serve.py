"""The seeded world served on 127.0.0.1: Salesforce with the org, Slack, Jira and Zendesk, seeded.

Like `emulators.world.example_world` (same credentials, same environment variables for the
example policy), but with an org of the benchmark's size, without the care platform, and with
every request to Salesforce recorded (`SalesforceCalls`) so a benchmark can tell the change
check's queries from a cycle's reads. Two limits differ from the apps' defaults, and only by
what the benchmark's own polling spends (20 reads a second per app): Slack's org-wide read
limit and Zendesk's plan limit. The org's daily API allowance is a large Enterprise org's
(5,000,000, as in `example_world`), so the change checks are not paced by their budget.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from bench.change_seed import seed_jira, seed_slack, seed_zendesk
from bench.change_world import Person, person, population
from emulators import credentials, serving
from emulators.atlassian import AtlassianApp, AtlassianSettings, make_atlassian_app, scim_base
from emulators.limits import Limit
from emulators.salesforce import EmulatorSettings, Org, make_salesforce_app
from emulators.serving import ASGIApp
from emulators.slack import SlackApp, SlackLimits, SlackSettings, make_slack_app
from emulators.world import CLIENT_ID, DAILY_API_LIMIT, INTEGRATION_USER
from emulators.zendesk import ZendeskApp, ZendeskSettings, make_zendesk_app
from emulators.zendesk.settings import PLAN_LIMITS

POLLING_PER_MINUTE = 2 * 20 * 60
"""The most the benchmark's polling reads from one app: two requests every 50 ms."""
_LITERAL = re.compile(r"'(?:[^'\\]|\\.)*'|\d{4}-\d\d-\d\dT[\d:.]+(?:Z|[+-]\d\d:?\d\d)|\b\d+\b")
_LISTS = re.compile(r"\(\s*\?(?:\s*,\s*\?)*\s*\)")


def call_shape(path: str, query: str) -> str:
    """A Salesforce request with its literals blanked: equal for two runs of one kind of query."""
    if "/oauth2/" in path:
        return "token"
    if "/query/" in path:
        return "queryMore"
    soql = (parse_qs(query).get("q") or [""])[0]
    return _LISTS.sub("(?)", _LITERAL.sub("?", soql)) or path


@dataclass
class SalesforceCalls:
    """An ASGI wrapper recording (monotonic time, shape) for each request to Salesforce's API."""

    app: ASGIApp
    calls: list[tuple[float, str]] = field(default_factory=list)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        path = str(scope.get("path", ""))
        if scope["type"] == "http" and path.startswith("/services/"):
            query = bytes(scope.get("query_string", b"")).decode()
            self.calls.append((time.monotonic(), call_shape(path, query)))
        await self.app(scope, receive, send)

    def between(self, start: float, end: float) -> list[str]:
        return [shape for moment, shape in list(self.calls) if start <= moment < end]


@dataclass(frozen=True)
class SeededWorld:
    environ: dict[str, str]
    people: list[Person]
    slack: SlackApp
    jira: AtlassianApp
    zendesk: ZendeskApp
    salesforce: SalesforceCalls

    @property
    def salesforce_url(self) -> str:
        return self.environ["SALESFORCE_INSTANCE_URL"]


class _Clock:
    """The org's clock: an hour behind while it is seeded, then on time.

    Seeded now, thousands of users would share the last second's SystemModstamp, and the change
    checks re-read the second they last saw for two minutes (SETTLED in the Salesforce source):
    each check would page through them. An org's users are made long before a benchmark.
    """

    def __init__(self) -> None:
        self.behind = dt.timedelta(hours=1)

    def __call__(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC) - self.behind


def _raised(limit: Limit | None) -> Limit | None:
    if limit is None:
        return None
    return Limit(limit.per_minute + POLLING_PER_MINUTE, limit.burst + POLLING_PER_MINUTE)


@contextlib.contextmanager
def serve_world(scratch: Path, size: int) -> Iterator[SeededWorld]:
    """The world of `size` people, provisioned, for one `with` block."""
    clock = _Clock()
    org = Org.from_users(population(size), clock=clock)
    clock.behind = dt.timedelta(0)
    people = [person(user) for user in org.users()]
    pair = credentials.generate()
    key = scratch / "salesforce.key"
    key.write_bytes(pair.key_pem)
    key.chmod(0o600)
    settings = EmulatorSettings(
        client_id=CLIENT_ID,
        certificate_pem=pair.certificate_pem,
        daily_api_limit=DAILY_API_LIMIT,
    )
    salesforce = SalesforceCalls(make_salesforce_app(org, settings))
    tokens = {app: secrets.token_urlsafe(24) for app in ("slack", "jira", "zendesk")}
    slack_limits = SlackLimits(org_reads=_raised(SlackLimits().org_reads))
    slack = make_slack_app(SlackSettings(token=tokens["slack"], limits=slack_limits))
    jira_settings = AtlassianSettings(token=tokens["jira"])
    jira = make_atlassian_app(jira_settings)
    plan = _raised(PLAN_LIMITS["enterprise"])
    zendesk = make_zendesk_app(ZendeskSettings(token=tokens["zendesk"], plan_limit=plan))
    seed_slack(slack, people)
    seed_jira(jira, people)
    seed_zendesk(zendesk, people)
    with contextlib.ExitStack() as stack:
        salesforce_url = stack.enter_context(serving.serve(salesforce))
        slack_root = stack.enter_context(serving.serve(slack))
        jira_root = stack.enter_context(serving.serve(jira))
        zendesk_root = stack.enter_context(serving.serve(zendesk))
        environ = {
            "SALESFORCE_INSTANCE_URL": salesforce_url,
            "SALESFORCE_LOGIN_URL": salesforce_url,
            "SALESFORCE_CLIENT_ID": CLIENT_ID,
            "SALESFORCE_USERNAME": INTEGRATION_USER,
            "SALESFORCE_PRIVATE_KEY_FILE": str(key),
            "SLACK_SCIM_URL": f"{slack_root}/scim/v2",
            "SLACK_SCIM_TOKEN": tokens["slack"],
            "JIRA_SCIM_URL": scim_base(jira_root, jira_settings),
            "JIRA_SCIM_TOKEN": tokens["jira"],
            "ZENDESK_URL": f"{zendesk_root}/api/v2",
            "ZENDESK_TOKEN": tokens["zendesk"],
        }
        yield SeededWorld(environ, people, slack, jira, zendesk, salesforce)
