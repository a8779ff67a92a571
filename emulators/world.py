"""The example org and every app of the example policy, served on 127.0.0.1 for one `with` block.

`make demo` and the end-to-end story tests need the same world: the Salesforce emulator seeded
with the example org (signing in with the JWT bearer flow and a key pair made for the run), the
Slack, Atlassian (Jira) and Zendesk emulators, and a scim2-server standing in for Beacon's care
platform. `example_world` starts them all and yields the environment that points
`desired-state/` at them, plus each app's handle for looking behind the API's back.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml

from emulators import credentials, scim_app, serving
from emulators.atlassian import AtlassianApp, AtlassianSettings, make_atlassian_app, scim_base
from emulators.salesforce import EmulatorSettings, Org, make_salesforce_app
from emulators.slack import SlackApp, SlackSettings, make_slack_app
from emulators.zendesk import ZendeskApp, ZendeskSettings, make_zendesk_app

SEED = Path(__file__).resolve().parent / "seed" / "org.yaml"
CLIENT_ID = "3MVG9-provisioner-demo"
INTEGRATION_USER = "integration@orion.example"
DAILY_API_LIMIT = 5_000_000
"""A large Enterprise Edition org's daily API allowance (100,000 plus 1,000 per licence). The
change checks may spend a tenth of it by default (`--change-budget-percent`): 3 calls every
second is 259,200 a day, so the demo, the benchmarks and the tests check at the interval they
ask for. At a Developer Edition's 15,000 they would be paced to one check every 3 minutes."""


@dataclass(frozen=True)
class World:
    """The running emulators and the environment variables the example policy reads."""

    environ: dict[str, str]
    slack: SlackApp
    jira: AtlassianApp
    zendesk: ZendeskApp
    carepoint: scim_app.ScimApp

    @property
    def salesforce_url(self) -> str:
        return self.environ["SALESFORCE_INSTANCE_URL"]

    def salesforce_id(self, email: str) -> str:
        """The Salesforce Id of a seeded user."""
        users = yaml.safe_load(SEED.read_text(encoding="utf-8"))["users"]
        return str(next(user["Id"] for user in users if user["Email"] == email))

    def change_in_salesforce(self, email: str, changes: dict[str, Any]) -> None:
        """What an admin does in Setup, done through the emulator's admin endpoint."""
        url = f"{self.salesforce_url}/_emulator/users/{self.salesforce_id(email)}"
        httpx.post(url, json=changes).raise_for_status()

    def care_account(self, user_name: str) -> tuple[dict[str, Any], set[str]]:
        """A care platform account and the names of its groups (scim2-server lists groups'
        members, not users' groups)."""
        resources = [r.model_dump() for r in self.carepoint.memory.resources]
        (account,) = (
            r for r in resources if str(r.get("userName", "")).lower() == user_name.lower()
        )
        groups = {
            str(r["displayName"])
            for r in resources
            if any(m.get("value") == account["id"] for m in r.get("members") or ())
        }
        return account, groups

    def hire_in_salesforce(self, fields: dict[str, Any]) -> str:
        """A new Salesforce user (Username, Email, FirstName, LastName, Profile ...); its Id."""
        response = httpx.post(f"{self.salesforce_url}/_emulator/users", json=fields)
        response.raise_for_status()
        return str(response.json()["id"])


@contextlib.contextmanager
def _salesforce(scratch: Path) -> Iterator[dict[str, str]]:
    pair = credentials.generate()
    key = scratch / "salesforce.key"
    key.write_bytes(pair.key_pem)
    key.chmod(0o600)
    settings = EmulatorSettings(
        client_id=CLIENT_ID, certificate_pem=pair.certificate_pem, daily_api_limit=DAILY_API_LIMIT
    )
    with serving.serve(make_salesforce_app(Org.from_seed(SEED), settings)) as url:
        yield {
            "SALESFORCE_INSTANCE_URL": url,
            "SALESFORCE_LOGIN_URL": url,
            "SALESFORCE_CLIENT_ID": CLIENT_ID,
            "SALESFORCE_USERNAME": INTEGRATION_USER,
            "SALESFORCE_PRIVATE_KEY_FILE": str(key),
        }


@contextlib.contextmanager
def example_world(
    scratch: Path,
    *,
    slack: SlackSettings | None = None,
    jira: AtlassianSettings | None = None,
    zendesk: ZendeskSettings | None = None,
) -> Iterator[World]:
    """Every emulator of the example policy; settings given replace an app's defaults (tokens
    included: a settings' token is the one put in the environment)."""
    slack = slack or SlackSettings(token=secrets.token_urlsafe(24))
    jira = jira or AtlassianSettings(token=secrets.token_urlsafe(24))
    zendesk = zendesk or ZendeskSettings(token=secrets.token_urlsafe(24))
    care_token = secrets.token_urlsafe(24)
    apps = World(
        environ={},
        slack=make_slack_app(slack),
        jira=make_atlassian_app(jira),
        zendesk=make_zendesk_app(zendesk),
        carepoint=scim_app.make_scim_app(care_token),
    )
    with contextlib.ExitStack() as stack:
        salesforce = stack.enter_context(_salesforce(scratch))
        slack_root = stack.enter_context(serving.serve(apps.slack))
        jira_root = stack.enter_context(serving.serve(apps.jira))
        zendesk_root = stack.enter_context(serving.serve(apps.zendesk))
        care_url = stack.enter_context(scim_app.serve(apps.carepoint))
        apps.environ.update(
            {
                **salesforce,
                "SLACK_SCIM_URL": f"{slack_root}/scim/v2",
                "SLACK_SCIM_TOKEN": slack.token,
                "JIRA_SCIM_URL": scim_base(jira_root, jira),
                "JIRA_SCIM_TOKEN": jira.token,
                "ZENDESK_URL": f"{zendesk_root}/api/v2",
                "ZENDESK_TOKEN": zendesk.token,
                "CAREPOINT_SCIM_URL": care_url,
                "CAREPOINT_SCIM_TOKEN": care_token,
            }
        )
        yield apps
