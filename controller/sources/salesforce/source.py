"""The Salesforce source: every user of an org each cycle, and the users changed since a moment.

`read()` is the full read the safety rules rely on: users with their permission sets and frozen
state, every page followed, and any failure (auth, limits, a query that stops early) reported as
`SourceRead.error`, never as a shorter list. A record that cannot be a user (no Email, say) is
quarantined, named by its Id, and every other user is read. `changed_since()` is the cheap
incremental read that lets the loop react in seconds; it cannot see a removed permission set
assignment (that leaves no timestamp) or a user who stopped matching `where`, which is why the
full read stays the safety net. On REQUEST_LIMIT_EXCEEDED the source stops calling Salesforce
for a back-off period and answers with an error at once, and keeps the back-off in the state
directory (`pause`) so other processes honour it; `api_usage` follows the limits header.
`requests_sent` counts every request, and each `ChangedUsers` says what its check cost (`calls`).
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx

from controller import tls
from controller.model import Quarantined, SourceRead, SourceUser
from controller.policy.schema import SalesforceSpec
from controller.sources.base import PERMISSION_SETS, quarantine
from controller.sources.salesforce import calls, records, soql
from controller.sources.salesforce.auth import (
    ClientCredentialsTokens,
    JwtBearerTokens,
    TokenProvider,
    load_private_key,
)
from controller.sources.salesforce.bounded_http import BoundedHttp
from controller.sources.salesforce.client import SalesforceClient
from controller.sources.salesforce.errors import (
    BackingOffError,
    IncompleteQueryError,
    InvalidRecordError,
    RequestLimitError,
    SalesforceConfigError,
    SalesforceError,
    scrub,
)
from controller.sources.salesforce.pause import Pause, PauseFile
from controller.sources.salesforce.retries import RetryPolicy

Clock = Callable[[], datetime.datetime]
T = TypeVar("T")
BACKOFF = datetime.timedelta(minutes=15)
TIMEOUT_SECONDS = 60.0
SETTLED = datetime.timedelta(minutes=2)
"""How long after a second no change can still arrive stamped with it (commits are quick)."""
NO_WATERMARK_AT = datetime.datetime.min.replace(tzinfo=datetime.UTC)
CHANGES = (
    (soql.changed_users, "Id", "SystemModstamp"),
    (soql.changed_logins, "UserId", "LastModifiedDate"),
    (soql.changed_assignments, "AssigneeId", "SystemModstamp"),
)
"""Each incremental query, the user id field of its rows and the timestamp it watches."""


def utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


@dataclass(frozen=True)
class Watermark:
    """Where the last look for changes ended: the newest timestamp seen, and what was seen at it.

    Salesforce timestamps have whole-second precision, so a change can land in the very second
    already looked at; asking again from that second and skipping what `seen` holds catches it
    without reporting anything twice.
    """

    at: datetime.datetime
    seen: frozenset[str] = frozenset()
    """`<timestamp field>:<record id>` of every change stamped exactly `at`."""


@dataclass(frozen=True)
class ChangedUsers:
    """The users changed after a watermark, and the watermark to pass next time."""

    users: tuple[SourceUser, ...]
    watermark: Watermark
    """Where this look ended. When `error` is set it is the watermark passed in (or
    Watermark(NO_WATERMARK_AT) for None) and must not replace the caller's."""
    error: str | None = None
    changed_at: Mapping[str, datetime.datetime] = dataclasses.field(default_factory=dict)
    """Every changed user's Id (read back or not: one `where` no longer selects is not) and
    the newest change the check saw of theirs."""
    quarantined: tuple[Quarantined, ...] = ()
    """Changed users whose record cannot be a user: held, as a full read holds them."""
    calls: int = 0
    """HTTP requests this look sent to Salesforce (token requests too), failed ones included."""

    @property
    def ok(self) -> bool:
        return self.error is None


class SalesforceSource:
    """Reads one org's users over the REST API (see the module docstring for the guarantees)."""

    def __init__(
        self,
        name: str,
        spec: SalesforceSpec,
        *,
        base_dir: Path,
        environ: Mapping[str, str],
        clock: Clock = utc_now,
        transport: httpx.AsyncBaseTransport | None = None,
        backoff: datetime.timedelta = BACKOFF,
        retry: RetryPolicy | None = None,
        event_hooks: Mapping[str, list[Callable[..., Any]]] | None = None,
        state_dir: Path | None = None,
    ) -> None:
        self.name = name
        self.spec = spec
        self._base_dir = base_dir
        self._environ = environ
        self._clock = clock
        self._backoff = backoff
        self._retry = retry or RetryPolicy()
        self._setup_error: SalesforceConfigError | None = None
        try:
            trust = tls.context(None if spec.ca_file is None else str(base_dir / spec.ca_file))
        except ValueError as error:  # the loader checked it; it may have gone since
            self._setup_error = SalesforceConfigError(str(error))
            trust = tls.context()
        hooks = event_hooks or {}
        self._http = BoundedHttp(  # metrics see a response once its body is in, within bounds
            httpx.AsyncClient(
                timeout=httpx.Timeout(TIMEOUT_SECONDS),
                verify=trust,
                transport=transport,
                event_hooks={"request": list(hooks.get("request", ())), "response": []},
            ),
            on_response=hooks.get("response", ()),
            on_error=hooks.get("error", ()),
        )
        self._client: SalesforceClient | None = None
        self._tokens: TokenProvider | None = None
        self._paused: Pause | None = None
        """While backing off after REQUEST_LIMIT_EXCEEDED, kept in `_pause_file` too."""
        self._pause_file = PauseFile(state_dir, name, spec.instance_url)

    @property
    def api_usage(self) -> tuple[int, int] | None:
        """(used, max) daily API requests, as the last response's Sforce-Limit-Info said."""
        return None if self._client is None else self._client.api_usage

    @property
    def requests_sent(self) -> int:
        """Every HTTP request sent to Salesforce so far, token requests included; only grows."""
        return self._http.sent

    async def aclose(self) -> None:
        await self._http.aclose()

    async def read(self) -> SourceRead:
        """Every user the policy selects; on any failure no users and `error` saying why."""
        now = self._clock()
        try:
            users, held = await self._guarded(lambda client: self._users(client, None))
        except SalesforceError as error:
            return SourceRead(self.name, (), now, error=self._message(error))
        return SourceRead(self.name, tuple(users), now, quarantined=tuple(held))

    async def changed_since(self, watermark: Watermark | None) -> ChangedUsers:
        """Users changed after `watermark`; None starts watching now (no users, the newest mark)."""
        with calls.tally() as sent:  # this task's requests only: not a full read running beside
            try:
                if watermark is None:
                    changes = await self._guarded(self._start)
                else:
                    since = watermark
                    changes = await self._guarded(lambda client: self._changes(client, since))
            except SalesforceError as error:
                changes = ChangedUsers(
                    (), watermark or Watermark(NO_WATERMARK_AT), error=self._message(error)
                )
        return dataclasses.replace(changes, calls=sent.requests)

    # --- guarding: configuration, back-off, messages --------------------------------------------

    async def _guarded(self, call: Callable[[SalesforceClient], Awaitable[T]]) -> T:
        """Run `call` unless backing off; REQUEST_LIMIT_EXCEEDED starts a back-off."""
        now = self._clock()
        pause = self._paused if self._paused is not None and now < self._paused.until else None
        if pause is not None and self._pause_file.removed():  # deleting it ends the back-off
            pause = None
        pause = pause or self._pause_file.read(now)  # another process may have hit the limit
        if pause is not None:
            raise BackingOffError(
                f"{pause.why}; not calling Salesforce until {pause.until.isoformat()}"
            )
        self._paused = None
        client = self._connect()
        try:
            return await call(client)
        except (TypeError, KeyError, AttributeError, RecursionError) as error:
            # A response of a shape the checks above missed: a failed read, never a crash.
            raise IncompleteQueryError(
                f"a response from Salesforce has the wrong shape: {type(error).__name__}"
                f" {str(error)[:200]}"
            ) from None
        except RequestLimitError as error:
            now = self._clock()
            until = now + self._backoff
            self._paused = Pause(until, f"{error.error_code} at {now.isoformat()}: {error.message}")
            self._pause_file.write(self._paused)
            raise RequestLimitError(
                error.error_code,
                f"{error.message} (the org's daily API limit); "
                f"not calling Salesforce again until {until.isoformat()}",
                error.status,
                where=error.where,
            ) from None

    def _message(self, error: SalesforceError) -> str:
        secrets: list[str | None] = [] if self._tokens is None else [*self._tokens.secrets()]
        if self.spec.auth.client_secret_env:
            secrets.append(self._environ.get(self.spec.auth.client_secret_env))
        return scrub(str(error), secrets)

    def _connect(self) -> SalesforceClient:
        """The client, built on first use so a missing key or variable is an error read."""
        if self._setup_error is not None:
            raise self._setup_error
        if self._client is None:
            self._tokens = self._token_provider()
            self._client = SalesforceClient(
                self._http,
                self._tokens,
                api_version=self.spec.api_version,
                batch_size=self.spec.batch_size,
                retry=self._retry,
            )
        return self._client

    def _token_provider(self) -> TokenProvider:
        auth = self.spec.auth
        if auth.flow == "jwt-bearer":
            if auth.private_key_file is None or auth.username is None:
                raise SalesforceConfigError("the jwt-bearer flow needs username and privateKeyFile")
            path = self._base_dir / auth.private_key_file
            try:
                pem = path.read_bytes()
            except OSError as error:
                raise SalesforceConfigError(
                    f"cannot read privateKeyFile {path}: {error.strerror or type(error).__name__}"
                ) from None
            return JwtBearerTokens(
                self._http,
                login_url=auth.login_url,
                client_id=auth.client_id,
                username=auth.username,
                private_key=load_private_key(pem, path=str(path)),
                clock=self._clock,
                retry=self._retry,
            )
        variable = auth.client_secret_env or ""
        secret = self._environ.get(variable)
        if not secret:
            raise SalesforceConfigError(
                f"environment variable {variable} (clientSecretEnv) is not set or empty"
            )
        return ClientCredentialsTokens(
            self._http,
            instance_url=self.spec.instance_url,
            client_id=auth.client_id,
            client_secret=secret,
            retry=self._retry,
        )

    # --- the reads ------------------------------------------------------------------------------

    def _fields(self) -> tuple[str, ...]:
        try:
            return soql.user_fields(self.spec.fields)
        except ValueError as error:
            raise SalesforceConfigError(f"fields: {error}") from None

    async def _users(
        self, client: SalesforceClient, ids: Sequence[str] | None
    ) -> tuple[list[SourceUser], list[Quarantined]]:
        """The users selected by the policy's `where` (and among `ids`, when given), and the
        records among them that cannot be users, set aside."""
        fields = self._fields()
        found = await client.query(soql.users(fields, self.spec.where, ids), what="reading users")
        frozen_rows = await client.query(soql.frozen(ids), what="reading frozen users")
        frozen = {str(row.get("UserId")) for row in frozen_rows}
        users: dict[str, SourceUser] = {}
        held: list[Quarantined] = []
        for record in found:
            user_id = str(record.get("Id"))
            try:
                child = records.child_result(record)
            except ValueError as error:
                raise IncompleteQueryError(str(error)) from None
            what = f"reading permission sets of user {user_id}"
            assignments = await client.rest_of(child, what=what)
            try:
                names = records.permission_set_names(assignments)
            except ValueError as error:
                held.append(quarantine(record, error, field=PERMISSION_SETS))
                continue
            try:
                user = records.source_user(
                    record, requested=fields, permission_sets=names, frozen=user_id in frozen
                )
            except ValueError as error:
                held.append(quarantine(record, error))
                continue
            if user.id in users:
                raise IncompleteQueryError(f"reading users: User {user.id} came back twice")
            users[user.id] = user
        return list(users.values()), held

    async def _changed_rows(
        self, client: SalesforceClient, since: Watermark
    ) -> tuple[dict[str, datetime.datetime], Watermark]:
        """Ids changed after `since` with their newest change, and the watermark after them.

        While `since.at` is recent, the queries ask from one second before it (their literal is
        floored to whole seconds), so every change stamped in that second comes back; those
        already in `since.seen` are skipped. Once that second is long past (SETTLED), nothing new
        can carry it, and asking strictly after it spares re-reading what shares it (a bulk
        load stamps thousands of rows with one second).
        """
        changed: dict[str, datetime.datetime] = {}
        at, seen = since.at, set(since.seen)
        settled = self._clock() - since.at > SETTLED
        asked_from = since.at if settled else since.at - datetime.timedelta(seconds=1)
        for query, id_field, stamp_field in CHANGES:
            what = f"reading changes ({stamp_field})"
            for row in await client.query(query(asked_from), what=what):
                stamp = self._stamp(row, stamp_field, what)
                key = f"{stamp_field}:{row.get(id_field)}"
                if stamp < since.at or (stamp == since.at and key in since.seen):
                    continue
                user_id = str(row.get(id_field))
                changed[user_id] = max(stamp, changed.get(user_id, stamp))
                if stamp > at:
                    at, seen = stamp, set()
                if stamp == at:
                    seen.add(key)
        return changed, Watermark(at, frozenset(seen))

    async def _changes(self, client: SalesforceClient, since: Watermark) -> ChangedUsers:
        changed, watermark = await self._changed_rows(client, since)
        users: list[SourceUser] = []
        held: list[Quarantined] = []
        for chunk in soql.chunks(sorted(changed)):
            found, refused = await self._users(client, chunk)
            users.extend(found)
            held.extend(refused)
        return ChangedUsers(tuple(users), watermark, changed_at=changed, quarantined=tuple(held))

    async def _start(self, client: SalesforceClient) -> ChangedUsers:
        """Begin watching at the newest change already made: nothing before it is news."""
        newest = await self._newest(client)
        _, watermark = await self._changed_rows(client, Watermark(newest))
        return ChangedUsers((), watermark)

    async def _newest(self, client: SalesforceClient) -> datetime.datetime:
        """The newest of the three watched timestamps: changes after it are news."""
        stamps = []
        for sobject, field in soql.NEWEST:
            what = f"reading the newest {sobject}.{field}"
            for row in await client.query(soql.newest(sobject, field), what=what):
                stamps.append(self._stamp(row, field, what))
        return max(stamps, default=self._clock())

    @staticmethod
    def _stamp(row: Mapping[str, Any], field: str, what: str) -> datetime.datetime:
        try:
            return records.parse_datetime(row.get(field))
        except ValueError as error:
            raise InvalidRecordError(f"{what}: {field}: {error}") from None
