"""The durable update store: an append-only log per document, plus merged snapshots.

Loading = the latest snapshot + the log after it. Compaction merges them into a new snapshot
and keeps the log rows (they answer "who wrote this, when")."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from pycrdt import merge_updates
from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from realtime.tables import snapshots, updates


@dataclass(frozen=True)
class Pending:
    """An update waiting to be stored: its bytes and its author."""

    update: bytes
    author: str


@dataclass(frozen=True)
class Loaded:
    """A document as stored: one merged update, the last log id it includes, its log tail."""

    state: bytes | None
    last_id: int
    tail_length: int


class UpdateStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def append(self, document: str, batch: list[Pending]) -> int:
        """Store ``batch`` in one committed transaction; returns the last id written.

        Raises whatever the database raises: then nothing of the batch is stored."""
        now = datetime.now(UTC)
        async with self.engine.begin() as conn:
            result = await conn.execute(
                insert(updates).returning(updates.c.id),
                [
                    {
                        "document": document,
                        "update": p.update,
                        "author": p.author,
                        "created_at": now,
                    }
                    for p in batch
                ],
            )
            return int(max(result.scalars().all()))

    async def load(self, document: str) -> Loaded:
        """Snapshot + tail, merged. Raises on any database error: a failed load must never
        look like an empty document (it could later be stored over the real one)."""
        async with self.engine.connect() as raw:
            # A read: on SQLite a deferred BEGIN (see workspace/db.py); ignored elsewhere.
            conn = await raw.execution_options(sqlite_deferred=True)
            snap = (
                await conn.execute(
                    select(snapshots.c.state, snapshots.c.last_update_id).where(
                        snapshots.c.document == document
                    )
                )
            ).first()
            after = snap.last_update_id if snap else 0
            rows = (
                await conn.execute(
                    select(updates.c.id, updates.c.update)
                    .where(updates.c.document == document, updates.c.id > after)
                    .order_by(updates.c.id)
                )
            ).all()
        parts = ([snap.state] if snap else []) + [row.update for row in rows]
        last_id = rows[-1].id if rows else after
        if not parts:
            return Loaded(None, 0, 0)
        return Loaded(merge_updates(*parts) if len(parts) > 1 else parts[0], last_id, len(rows))

    async def compact(self, document: str) -> Loaded:
        """Write snapshot = merge(snapshot, tail). Round-trips exactly: the same update set."""
        loaded = await self.load(document)
        if loaded.state is None or loaded.tail_length == 0:
            return loaded
        now = datetime.now(UTC)
        async with self.engine.begin() as conn:
            changed = await conn.execute(
                update(snapshots)
                .where(
                    snapshots.c.document == document, snapshots.c.last_update_id < loaded.last_id
                )
                .values(state=loaded.state, last_update_id=loaded.last_id, updated_at=now)
            )
            if changed.rowcount == 0:
                exists = await conn.scalar(
                    select(func.count())
                    .select_from(snapshots)
                    .where(snapshots.c.document == document)
                )
                if not exists:
                    await conn.execute(
                        insert(snapshots).values(
                            document=document,
                            state=loaded.state,
                            last_update_id=loaded.last_id,
                            updated_at=now,
                        )
                    )
        return Loaded(loaded.state, loaded.last_id, 0)

    async def history(self, document: str, limit: int = 1000) -> list[tuple[int, str, datetime]]:
        """(id, author, time) of the newest log rows: who wrote, when."""
        async with self.engine.connect() as raw:
            # A read: on SQLite a deferred BEGIN (see workspace/db.py); ignored elsewhere.
            conn = await raw.execution_options(sqlite_deferred=True)
            rows = (
                await conn.execute(
                    select(updates.c.id, updates.c.author, updates.c.created_at)
                    .where(updates.c.document == document)
                    .order_by(updates.c.id.desc())
                    .limit(limit)
                )
            ).all()
        return [(r.id, r.author, r.created_at) for r in rows]
