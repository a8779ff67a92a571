"""Group membership changes batched per group: one PATCH carries many members.

A first sync adds most people to a few groups; one PATCH per member is a request per
membership, where SCIM takes many members in one PATCH (RFC 7644 3.5.2). Membership changes
that wait for the same group while a PATCH is in flight are sent together in the next one:
bench/RESULTS.md measured the request count of a first sync halved. Slack also allows only one
write to a group at a time and a few a minute per group, so without batching its first sync
would queue hundreds of writes behind each group's lock. If the app refuses a batch (one member
it does not know), each member is sent alone, so one bad member fails only its own operation.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Awaitable, Callable, Sequence

from controller import errors

MAX_BATCH = 1000
"""Members in one PATCH at most (Slack recommends 5,000; other apps document less or nothing)."""

SendMembers = Callable[[str, bool, Sequence[str]], Awaitable[None]]
"""(group id, add (True) or remove (False), account ids) -> one PATCH of that group."""


class MemberBatches:
    """Coalesces concurrent membership changes of one group into as few PATCHes as possible."""

    def __init__(self, send: SendMembers) -> None:
        self._send = send
        self._waiting: dict[tuple[str, bool], list[tuple[str, asyncio.Future[None]]]] = {}
        self._locks: dict[str, asyncio.Lock] = collections.defaultdict(asyncio.Lock)
        self.patches = 0
        """PATCHes sent, for tests and benchmarks."""

    async def change(self, group_id: str, account_id: str, *, add: bool) -> None:
        """Add or remove one member; returns when a PATCH carrying it succeeded, or raises."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        key = (group_id, add)
        self._waiting.setdefault(key, []).append((account_id, done))
        async with self._locks[group_id]:
            batch = self._waiting.get(key, [])[:MAX_BATCH]
            if batch:  # else an earlier holder of the lock already sent ours
                del self._waiting[key][: len(batch)]
                await self._deliver(group_id, add, batch)
        await done

    async def _deliver(
        self, group_id: str, add: bool, batch: list[tuple[str, asyncio.Future[None]]]
    ) -> None:
        try:
            self.patches += 1
            await self._send(group_id, add, [account for account, _ in batch])
        except BaseException as error:
            if not isinstance(error, errors.AppError):  # a bug, or cancelled: never leave
                for _, done in batch:  # the others of the batch waiting for ever
                    if not done.done():
                        done.cancel()
                raise
            await self._one_by_one(group_id, add, batch, error)
            return
        for _, done in batch:
            done.set_result(None)

    async def _one_by_one(
        self,
        group_id: str,
        add: bool,
        batch: list[tuple[str, asyncio.Future[None]]],
        error: errors.AppError,
    ) -> None:
        """After a refused batch: the same error for all when it was not about one member,
        else each member alone, so only the one the app refuses fails."""
        if len(batch) == 1 or isinstance(error, errors.TransientError | errors.StalledError):
            for _, done in batch:
                done.set_exception(error)
            return
        for account, done in batch:
            try:
                self.patches += 1
                await self._send(group_id, add, [account])
            except errors.AppError as alone:
                done.set_exception(alone)
            else:
                done.set_result(None)
