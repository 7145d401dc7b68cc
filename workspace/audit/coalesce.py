"""Audit rows for floods and for repeats, without losing what happened.

Two things would otherwise flood the audit log (and, on SQLite, lock out real writes):

- **Refusals before sign-in**: anyone on the internet can knock on ``/realtime/...`` a
  thousand times a second. Each refusal is counted in memory per (what, outcome, source) and
  written as one row per minute carrying ``count`` (``Refusals``).
- **Repeated opens**: one plan page opens a socket per section, and every reconnect opens it
  again. An open is written once per session, document and visit (``Visits``): again within
  ``VISIT`` it is the same visit.

Both live in one process: with several workers each counts its own (a row per worker)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter, OrderedDict
from collections.abc import Hashable

from sqlalchemy.ext.asyncio import AsyncSession

from workspace.db import Database
from workspace.models import AuditEvent

log = logging.getLogger("kring.audit")

#: Opens of the same document by the same session within this many seconds are one visit.
VISIT = 30 * 60
#: Visits remembered (oldest forgotten first: then an open is simply written again).
MAX_VISITS = 50_000
#: Distinct refusal keys held between flushes; past it, the rest are counted under one key.
MAX_KEYS = 1_000


class Refusals:
    def __init__(self) -> None:
        self._counts: Counter[tuple[str, str, str, str]] = Counter()

    def add(self, action: str, outcome: str, source: str, channel: str) -> None:
        key = (action, outcome, source, channel)
        if key not in self._counts and len(self._counts) >= MAX_KEYS:
            key = (action, outcome, "(many)", channel)
        self._counts[key] += 1

    @property
    def pending(self) -> int:
        return sum(self._counts.values())

    def flush(self, db: AsyncSession) -> Counter[tuple[str, str, str, str]]:
        """Add one row per key to ``db``'s transaction; returns what they hold (hand it to
        ``restore`` if that transaction fails, so nothing is lost)."""
        counts, self._counts = self._counts, Counter()
        for (action, outcome, source, channel), n in counts.items():
            db.add(
                AuditEvent(
                    action=action,
                    outcome=outcome,
                    object_type="document",
                    object_id="",
                    on_behalf_of="",
                    channel=channel,
                    source=source,
                    count=n,
                )
            )
        return counts

    def restore(self, counts: Counter[tuple[str, str, str, str]]) -> None:
        self._counts.update(counts)


class Visits:
    def __init__(self) -> None:
        self._seen: OrderedDict[Hashable, float] = OrderedDict()

    def first(self, key: Hashable, now: float | None = None) -> bool:
        """Whether ``key`` (session, document) starts a visit now; remembers it either way."""
        now = time.monotonic() if now is None else now
        last = self._seen.pop(key, None)
        self._seen[key] = now
        if len(self._seen) > MAX_VISITS:
            self._seen.popitem(last=False)
        return last is None or now - last > VISIT


async def write_refusals(db: Database, refusals: Refusals) -> None:
    """Write what ``refusals`` counted, in its own transaction; on failure keep counting."""
    if not refusals.pending:
        return
    taken: Counter[tuple[str, str, str, str]] = Counter()
    try:
        async with db.begin() as session:
            taken = refusals.flush(session)
    except Exception:
        refusals.restore(taken)
        raise


async def keep_writing_refusals(db: Database, refusals: Refusals, every: float = 60.0) -> None:
    while True:
        await asyncio.sleep(every)
        try:
            await write_refusals(db, refusals)
        except Exception:
            log.warning("writing counted refusals failed; trying again later", exc_info=True)
