"""The policy documents, as pydantic models: the format platform teams write in `desired-state/`.

Kubernetes-style documents (`apiVersion`, `kind`, `metadata.name`, `spec`), several per file.
These models are the one definition of the format: the loader validates against them, and
`provisioner schema` prints their JSON Schema for editors. Field names are camelCase in YAML
(aliases) and snake_case in Python. Unknown keys are errors, so a typo never silently does nothing.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel
from pydantic_core import InitErrorDetails, PydanticCustomError

API_VERSION = "provisioner/v1"
DURATION = re.compile(r"^(?P<count>\d+)(?P<unit>[smhd])$")
APP_TYPES = ("scim", "slack", "atlassian", "zendesk")
"""Reconciler kinds known to the policy; each is registered in `reconcilers.REGISTRY`."""


PLAIN_HTTP = (
    "plain http:// outside this host (127.0.0.1, ::1, localhost) sends tokens and personal data "
    "unencrypted; use https://, or set {key}: true"
)


def _plain_http_elsewhere(url: str) -> bool:
    """Whether `url` is plain http:// to anywhere but this host's loopback."""
    parts = urlsplit(url)
    if parts.scheme.lower() != "http":
        return False
    host = (parts.hostname or "").lower()
    try:
        return host != "localhost" and not ipaddress.ip_address(host).is_loopback
    except ValueError:
        return True  # a name: only "localhost" is known to stay on this host


def refuse_plain_http(
    model: str, urls: dict[tuple[str, ...], str], *, insecure: bool, key: str = "insecure"
) -> None:
    """A validation error at each of `urls` (by its YAML path) that is plain http:// off this
    host, unless `insecure` (the document's `key`) is true."""
    if insecure:
        return
    refused = PydanticCustomError("plain_http", PLAIN_HTTP, {"key": key})
    errors = [
        InitErrorDetails(type=refused, loc=loc, input=url)
        for loc, url in urls.items()
        if _plain_http_elsewhere(url)
    ]
    if errors:
        raise ValidationError.from_exception_data(model, errors)


class Strict(BaseModel):
    model_config = ConfigDict(
        extra="forbid", alias_generator=to_camel, populate_by_name=True, frozen=True
    )


class Metadata(Strict):
    name: Annotated[str, Field(pattern=r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")]
    """Lower-case letters, digits and dashes: it becomes a metric label and a CLI argument."""
    labels: dict[str, str] = {}


# --- Source -----------------------------------------------------------------------------------


class FileSourceSpec(Strict):
    path: str
    """A YAML or CSV file of users with Salesforce field names, relative to the policy file."""


SALESFORCE_LOGIN = "https://login.salesforce.com"


class SalesforceAuthSpec(Strict):
    """How the controller signs in: the JWT bearer flow (recommended) or client credentials."""

    flow: Literal["jwt-bearer", "client-credentials"]
    client_id: str
    """The consumer key of the External Client App (or connected app)."""
    username: str | None = None
    """jwt-bearer: the integration user the token acts as (the JWT `sub`)."""
    private_key_file: str | None = None
    """jwt-bearer: PEM file of the RSA key whose certificate the app holds; relative paths start
    at the policy file's directory."""
    client_secret_env: str | None = None
    """client-credentials: the environment variable holding the consumer secret."""
    login_url: str = SALESFORCE_LOGIN
    """jwt-bearer: where tokens are asked for, and the JWT audience
    (https://test.salesforce.com for sandboxes)."""

    @model_validator(mode="after")
    def _flow_needs(self) -> SalesforceAuthSpec:
        if self.flow == "jwt-bearer" and not (self.username and self.private_key_file):
            raise ValueError("the jwt-bearer flow needs username and privateKeyFile")
        if self.flow == "client-credentials" and not self.client_secret_env:
            raise ValueError("the client-credentials flow needs clientSecretEnv")
        return self


class SalesforceSpec(Strict):
    instance_url: str
    """The org's My Domain URL (https://orion.my.salesforce.com); client credentials are
    exchanged there, and queries go to the instance_url the token response names."""
    api_version: Annotated[str, Field(pattern=r"^v\d+\.\d$")] = "v62.0"
    auth: SalesforceAuthSpec
    fields: list[str] = []
    """Extra User fields to read, e.g. custom fields used by rules, templates or accessEndsField."""
    where: str | None = None
    """A SOQL condition that narrows which users are read, e.g. UserType = 'Standard'."""
    batch_size: Annotated[int, Field(ge=200, le=2000)] = 2000
    """Records per page asked for (Sforce-Query-Options); Salesforce may send fewer."""
    ca_file: str | None = None
    """A PEM file of CA certificates to trust besides the default ones (certifi's bundle), e.g.
    a TLS-inspecting proxy's CA; relative paths start at the policy file's directory."""
    insecure: bool = False
    """Allow plain http:// for instanceUrl and auth.loginUrl off this host (127.0.0.1, ::1 and
    localhost need no leave). Tokens and user records then cross the network unencrypted."""

    @field_validator("instance_url")
    @classmethod
    def _https_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"{value!r} is not an http(s) URL")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _encrypted(self) -> SalesforceSpec:
        urls = {("instanceUrl",): self.instance_url, ("auth", "loginUrl"): self.auth.login_url}
        refuse_plain_http("SalesforceSpec", urls, insecure=self.insecure, key="salesforce.insecure")
        return self


class SourceSpec(Strict):
    salesforce: SalesforceSpec | None = None
    file: FileSourceSpec | None = None
    access_ends_field: str | None = None
    """A date field (e.g. Contractor_End_Date__c): from that date on, the user is inactive."""
    frozen_is_inactive: bool = True
    """Frozen Salesforce users (UserLogin.IsFrozen) lose access like deactivated ones."""
    max_active_drop_percent: Annotated[float, Field(ge=0, le=100)] = 10.0
    """A read whose active users fell by more than this since the last trusted read removes
    nobody (a broken filter or a half-migrated org looks exactly like mass departure)."""
    read_seconds: Annotated[float, Field(gt=0, le=86400)] = 600.0
    """The deadline for reading every user: a source that answers slowly or never ends makes a
    failed read (nobody is deprovisioned) instead of holding every app's cycle."""
    max_quarantined_percent: Annotated[float, Field(ge=0, le=100)] = 5.0
    """A record that cannot be a user (no Email, an end date that does not parse) is
    quarantined: nothing of that user's is touched, and everyone else proceeds. When more than
    this share of the records read is quarantined, the read removes nobody (a broken export
    or field mapping is not a few bad records)."""

    @model_validator(mode="after")
    def _one_kind(self) -> SourceSpec:
        if (self.file is None) == (self.salesforce is None):
            raise ValueError("a Source needs exactly one of: salesforce, file")
        return self


class SourceDocument(Strict):
    api_version: Literal["provisioner/v1"]
    kind: Literal["Source"]
    metadata: Metadata
    spec: SourceSpec


# --- ConnectedApp -----------------------------------------------------------------------------


class AuthSpec(Strict):
    bearer_token_env: str | None = None
    """The environment variable holding the app's API token. Tokens never appear in policy."""


class DeprovisionSpec(Strict):
    action: Literal["suspend", "delete"] = "suspend"
    """suspend: deactivate, and delete only if deleteAfter says when. delete: suspend, then
    delete on a later run (never in the run that first sees the account suspended)."""
    delete_after: str | None = None
    """Delete this long after the account was first seen suspended (e.g. 30d)."""

    @field_validator("delete_after")
    @classmethod
    def _duration(cls, value: str | None) -> str | None:
        if value is not None and not DURATION.match(value):
            raise ValueError(f"{value!r} is not a duration such as 90s, 15m, 12h or 30d")
        return value


class SafetySpec(Strict):
    max_deprovisions_per_run: Annotated[int, Field(ge=0)] = 10
    max_deprovisions_percent: Annotated[float, Field(ge=0, le=100)] = 5.0
    min_deprovisions_for_percent: Annotated[int, Field(ge=1)] = 2
    """The percent limit holds runs of at least this many deprovisions: one leaver in an app of
    ten accounts is 10%, but it is not the mass deletion the limit is there to stop."""


class RateLimitSpec(Strict):
    """How fast the controller may write to the app; unset fields take the app type's default
    (its vendor's documented limit, e.g. Slack's 180 user writes a minute in bursts of 20)."""

    writes_per_minute: Annotated[float, Field(gt=0)] | None = None
    burst: Annotated[int, Field(ge=1)] | None = None
    """Writes that may go at once before the per-minute spacing applies."""


class LimitsSpec(Strict):
    """What one app may cost a cycle. An app that is slow, endless or hostile ends at these
    bounds and is reported as that app's error; the other apps' cycles go on."""

    request_seconds: Annotated[float, Field(gt=0, le=3600)] = 60.0
    """One request's deadline: connecting, the headers and the whole body, however slowly it
    comes (the 30 s timeout between reads alone lets a dripping server hold on for ever)."""
    observe_seconds: Annotated[float, Field(gt=0, le=86400)] = 120.0
    """The deadline for observing the app: every listing (users, groups, memberships) ends
    within it, or the app is reported as not observed and nothing destructive is planned."""
    max_response_mib: Annotated[float, Field(gt=0, le=1024)] = 32.0
    """The largest response body accepted, in MiB, counted after decompression."""
    apply_seconds: Annotated[float, Field(gt=0, le=86400)] = 900.0
    """The deadline for carrying out the app's plan: what has not finished by then is that
    app's error (retried next cycle), so an app that stalls its writes never holds the cycle
    of the others, their metrics or the journal's record of the cycle."""
    max_pages: Annotated[int, Field(ge=1)] = 1000
    """The most pages one listing may take. SCIM listings also stop at twice the pages that
    totalResults needs; Zendesk's cursor paging gives no total, so this is its bound."""


MatchKey = Literal["externalId", "userName", "email"]


AppType = Literal["scim", "slack", "atlassian", "zendesk"]


class ConnectedAppSpec(Strict):
    type: AppType
    """scim: any SCIM 2.0 app. slack: Slack's SCIM API. atlassian: Atlassian (Jira,
    Confluence) user provisioning. zendesk: the Zendesk Support Users API."""
    endpoint: str
    auth: AuthSpec = AuthSpec()
    match: list[MatchKey] = ["externalId", "userName", "email"]
    """How existing accounts are linked to source users, in precedence order."""
    attributes: dict[str, str]
    """App attribute <- Jinja template over the source user (`{{ user.Email | lower }}`)."""
    groups: list[str] | None = None
    """The groups this app has. When listed, grants may name only these: a misspelt group
    fails `validate` instead of creating a new group in the app."""
    deprovision: DeprovisionSpec = DeprovisionSpec()
    prune: bool = False
    """Orphans (accounts with no source user) are reported, and only touched when this is true."""
    exclude: list[str] = []
    """userName or email glob patterns the controller never touches."""
    safety: SafetySpec = SafetySpec()
    rate_limit: RateLimitSpec = RateLimitSpec()
    page_size: Annotated[int, Field(ge=1, le=1000)] = 100
    limits: LimitsSpec = LimitsSpec()
    mode: Literal["enforce", "observe"] = "enforce"
    """observe: plan and report drift, never write; for onboarding an app safely."""
    ca_file: str | None = None
    """A PEM file of CA certificates to trust besides the default ones (certifi's bundle), for
    an app behind a private CA; relative paths start at the policy file's directory."""
    insecure: bool = False
    """Allow a plain http:// endpoint off this host (127.0.0.1, ::1 and localhost need no
    leave). The app's token and people's names and emails then cross the network unencrypted."""

    @field_validator("endpoint")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"{value!r} is not an http(s) URL")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _encrypted(self) -> ConnectedAppSpec:
        refuse_plain_http(
            "ConnectedAppSpec", {("endpoint",): self.endpoint}, insecure=self.insecure
        )
        return self

    @field_validator("attributes")
    @classmethod
    def _user_name_required(cls, value: dict[str, str]) -> dict[str, str]:
        if "userName" not in value:
            raise ValueError("attributes must give userName, the one attribute every app needs")
        return value


class ConnectedAppDocument(Strict):
    api_version: Literal["provisioner/v1"]
    kind: Literal["ConnectedApp"]
    metadata: Metadata
    spec: ConnectedAppSpec


# --- AccessRule -------------------------------------------------------------------------------


class When(Strict):
    """Who a rule selects. Every listed condition must hold; within one, any value matches."""

    profile: list[str] | None = None
    role: list[str] | None = None
    department: list[str] | None = None
    permission_set: list[str] | None = None
    fields: dict[str, list[str]] | None = None
    """Other source fields by Salesforce name, e.g. {Title: [Engineer]}."""


class Grant(Strict):
    app: str
    groups: list[str] = []
    role: str | None = None
    """Sets the account's `role` attribute; when several rules give one, the last rule wins."""


class AccessRuleSpec(Strict):
    when: When = When()
    grant: Annotated[list[Grant], Field(min_length=1)]


class AccessRuleDocument(Strict):
    api_version: Literal["provisioner/v1"]
    kind: Literal["AccessRule"]
    metadata: Metadata
    spec: AccessRuleSpec


Document = Annotated[
    SourceDocument | ConnectedAppDocument | AccessRuleDocument, Field(discriminator="kind")
]


def duration_seconds(value: str) -> int:
    """`30d` -> 2592000. The value has been validated against DURATION."""
    found = DURATION.match(value)
    if found is None:
        raise ValueError(value)
    unit = {"s": 1, "m": 60, "h": 3600, "d": 86400}[found["unit"]]
    return int(found["count"]) * unit
