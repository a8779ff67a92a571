"""Query locators: the snapshot a query took, served page by page through nextRecordsUrl.

Salesforce answers a query with at most `batchSize` records (children count toward it) and a
`nextRecordsUrl` of the form `/services/data/vNN.N/query/<locator>-<offset>` for the rest of the
same snapshot, so changes made while a client pages never show up half-way. Pages are sometimes
smaller than asked ("not guaranteed", say the docs); here that happens deterministically from
the seed, so a client that assumes full pages fails every run, not once in a while.
"""

from __future__ import annotations

import random
import re
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from emulators.salesforce import ids

MIN_BATCH, MAX_BATCH = 200, 2000
OPEN_LOCATORS = 100
"""Snapshots kept; the oldest goes first (its locator then answers INVALID_QUERY_LOCATOR)."""

_BATCH_SIZE = re.compile(r"batchSize\s*=\s*(\d+)", re.IGNORECASE)


def batch_size(header: str | None) -> int:
    """The batch size `Sforce-Query-Options` asks for, clamped to 200..2000 (default 2000)."""
    match = _BATCH_SIZE.search(header or "")
    if match is None:
        return MAX_BATCH
    return min(MAX_BATCH, max(MIN_BATCH, int(match.group(1))))


@dataclass
class _Snapshot:
    records: list[dict[str, Any]]
    weights: list[int]
    batch_size: int


class Locators:
    def __init__(self, *, seed: int, irregular: bool) -> None:
        self._seed = seed
        self._irregular = irregular
        self._rng = random.Random(f"locators/{seed}")  # noqa: S311 - repeatable on purpose
        self._open: OrderedDict[str, _Snapshot] = OrderedDict()

    def first(
        self, records: list[tuple[dict[str, Any], int]], size: int, version: str
    ) -> dict[str, Any]:
        """The first page of a fresh snapshot (a locator is kept only if there is more to read)."""
        snapshot = _Snapshot([r for r, _ in records], [w for _, w in records], size)
        locator = ids.from_random(ids.QUERY_LOCATOR, self._rng)
        page = self._page(locator, snapshot, 0, version)
        if not page["done"]:
            self._open[locator] = snapshot
            while len(self._open) > OPEN_LOCATORS:
                self._open.popitem(last=False)
        return page

    def more(self, locator: str, offset: int, version: str) -> dict[str, Any] | None:
        """The page at `offset` of the snapshot `locator` names; None if there is no such page."""
        snapshot = self._open.get(locator)
        if snapshot is None or not 0 <= offset < len(snapshot.records):
            return None
        self._open.move_to_end(locator)
        return self._page(locator, snapshot, offset, version)

    def _page(self, locator: str, snapshot: _Snapshot, offset: int, version: str) -> dict[str, Any]:
        limit = self._limit(locator, offset, snapshot.batch_size)
        end, used = offset, 0
        total = len(snapshot.records)
        while end < total and (end == offset or used + snapshot.weights[end] <= limit):
            used += snapshot.weights[end]
            end += 1
        page: dict[str, Any] = {"totalSize": total, "done": end >= total}
        if end < total:
            page["nextRecordsUrl"] = f"/services/data/v{version}/query/{locator}-{end}"
        page["records"] = snapshot.records[offset:end]
        return page

    def _limit(self, locator: str, offset: int, size: int) -> int:
        if not self._irregular:
            return size
        rng = random.Random(f"{self._seed}/{locator}/{offset}")  # noqa: S311 - as above
        if rng.random() < 0.4:
            return rng.randint(max(1, size // 2), size - 1)
        return size
