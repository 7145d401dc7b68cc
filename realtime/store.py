"""The durable update store: an append-only log per document, plus merged snapshots.

Loading = the latest snapshot + the log after it. Compaction merges them into a new snapshot
and keeps the log rows (they answer "who wrote this, when")."""

from __future__ import annotations

import asyncio
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime

from pycrdt import merge_updates
from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from realtime.tables import snapshots, updates

SQLITE_BUSY_TIMEOUT_MS = 5000


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
        # On SQLite, appends - the hot path, one per group of keystrokes - go through one plain
        # sqlite3 connection on one writer thread: a single thread hop and a commit per group,
        # instead of several hops through aiosqlite and SQLAlchemy. Reads stay on the engine.
        self._sqlite_path: str | None = None
        if engine.dialect.name == "sqlite" and engine.url.database not in (None, "", ":memory:"):
            self._sqlite_path = engine.url.database
        self._executor: ThreadPoolExecutor | None = None
        self._conn: sqlite3.Connection | None = None

    async def append(self, document: str, batch: list[Pending]) -> int:
        """Store ``batch`` in one committed transaction; returns the last id written.

        Raises whatever the database raises: then nothing of the batch is stored."""
        if self._sqlite_path is not None:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(1, thread_name_prefix="kring-update-log")
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._executor, self._append_sqlite, document, batch)
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

    def _append_sqlite(self, document: str, batch: list[Pending]) -> int:
        if self._conn is None:
            assert self._sqlite_path is not None
            conn = sqlite3.connect(self._sqlite_path, isolation_level=None)
            for pragma in (
                "journal_mode=WAL",
                "synchronous=FULL",
                "foreign_keys=ON",
                f"busy_timeout={SQLITE_BUSY_TIMEOUT_MS}",
            ):
                conn.execute(f"PRAGMA {pragma}")
            self._conn = conn
        # The format SQLAlchemy's DateTime uses on SQLite, so reads parse it the same way.
        now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
        cursor = self._conn.cursor()
        cursor.execute("BEGIN IMMEDIATE")
        try:
            cursor.executemany(
                'INSERT INTO realtime_updates (document, "update", author, created_at) '
                "VALUES (?, ?, ?, ?)",
                [(document, p.update, p.author, now) for p in batch],
            )
            last = int(cursor.execute("SELECT last_insert_rowid()").fetchone()[0])
            cursor.execute("COMMIT")
        except BaseException:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
            raise
        finally:
            cursor.close()
        return last

    def close(self) -> None:
        """Close the writer connection (SQLite). The engine belongs to the caller."""
        if self._executor is not None:
            self._executor.submit(self._close_sqlite).result()
            self._executor.shutdown()
            self._executor = None

    def _close_sqlite(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

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
