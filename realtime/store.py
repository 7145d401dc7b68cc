"""The durable update store: an append-only log per document, plus merged snapshots.

Loading = the latest snapshot + the log after it. Compaction merges them into a new snapshot
and keeps the log rows (they answer "who wrote this, when"); with ``prune_after`` set it deletes
rows that are older than that *and* already inside the snapshot."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pycrdt import Doc, get_update, merge_updates
from sqlalchemy import delete, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from realtime import updates as update_format
from realtime.tables import ended_grants, snapshots, updates

SQLITE_BUSY_TIMEOUT_MS = 5000

log = logging.getLogger("kring.realtime.store")


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


MERGE_FAN_IN = 32


def merge_all(parts: list[bytes]) -> bytes:
    """One update equal to all of ``parts``, merged as a tree of small groups.

    ``merge_updates`` over many updates at once grows quadratically (100,000 keystrokes: minutes);
    groups of 32, then groups of those, take a quarter of a second for the same log."""
    while len(parts) > 1:
        parts = [
            merge_updates(*group) if len(group) > 1 else group[0]
            for group in (parts[i : i + MERGE_FAN_IN] for i in range(0, len(parts), MERGE_FAN_IN))
        ]
    return parts[0]


BUILD_CHUNK = 500


class DocumentUnavailable(Exception):
    """The stored document cannot be read (its log holds something nothing can decode)."""


def _readable(parts: list[bytes], *, snapshot: bool) -> bytes:
    """``build(parts)``; if that fails (an update stored before updates were checked as stock
    clients read them), build again without the updates that fail that check, so one bad
    write cannot take a whole document down. Raises ``DocumentUnavailable`` if even that fails."""
    try:
        return build(parts)
    except Exception:
        log.warning("a stored document does not build; reading it without unreadable updates")
    good = []
    for i, part in enumerate(parts):
        try:
            update_format.check(part)
        except update_format.BadUpdate as exc:
            if snapshot and i == 0:
                # Without its snapshot a document would look (nearly) empty: never that.
                raise DocumentUnavailable("the stored snapshot cannot be read") from exc
            continue
        good.append(part)
    try:
        merged = build(good)
    except Exception as exc:
        raise DocumentUnavailable("the stored document cannot be read") from exc
    log.warning(
        "a stored document held %d unreadable update(s); they were left out",
        len(parts) - len(good),
    )
    return merged


def build(parts: list[bytes]) -> bytes:
    """One update holding exactly what ``parts`` hold, in a document's own compact encoding.

    ``merge_updates`` keeps every keystroke a separate struct, and applying 100,000 of them in
    one go is quadratic in yrs (each is squashed into a growing string: ~20 s). Applied in
    chunks of 500 the same log takes ~0.3 s, and the document's encoding is squashed, so the
    snapshot written from it opens in milliseconds. What the document could not integrate
    (structs whose dependencies are missing, pending deletes) is kept: each chunk's remainder
    beyond the document's state vector is merged back in, so nothing of ``parts`` is dropped."""
    doc: Doc[Any] = Doc()
    chunks = [merge_all(parts[i : i + BUILD_CHUNK]) for i in range(0, len(parts), BUILD_CHUNK)]
    for chunk in chunks:
        doc.apply_update(chunk)
    state_vector = doc.get_state()
    return merge_all([doc.get_update(), *(get_update(c, state_vector) for c in chunks)])


def _settle(done: asyncio.Future[int], outcome: int | BaseException) -> None:
    if done.done():  # its caller gave up waiting (cancelled): the outcome stands regardless
        return
    if isinstance(outcome, BaseException):
        done.set_exception(outcome)
    else:
        done.set_result(outcome)


class UpdateStore:
    def __init__(self, engine: AsyncEngine, *, prune_after: timedelta | None = None) -> None:
        self.engine = engine
        self.prune_after = prune_after
        # On SQLite, appends - the hot path, one per group of keystrokes - go through one plain
        # sqlite3 connection on one writer thread: a single thread hop and a commit per group,
        # instead of several hops through aiosqlite and SQLAlchemy. Reads stay on the engine.
        self._sqlite_path: str | None = None
        if engine.dialect.name == "sqlite" and engine.url.database not in (None, "", ":memory:"):
            self._sqlite_path = engine.url.database
        self._executor: ThreadPoolExecutor | None = None
        self._conn: sqlite3.Connection | None = None
        #: Appends waiting for the next commit, and the task that commits them.
        self._waiting: list[tuple[str, list[Pending], asyncio.Future[int]]] = []
        self._committer: asyncio.Task[None] | None = None

    async def append(self, document: str, batch: list[Pending]) -> int:
        """Store ``batch`` in a committed transaction; returns the last id written.

        Raises whatever the database raises: then nothing of the batch is stored.

        Appends for several documents that arrive while a commit is in flight share the next
        transaction (group commit across rooms): one fsync for a hundred meetings instead of
        one each, which a single writer could not keep up with. If such a shared transaction
        fails, each append is retried in a transaction of its own, so one bad batch fails only
        itself."""
        done: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._waiting.append((document, batch, done))
        # One transaction in flight (on PostgreSQL too: with four, 100 meetings on two workers
        # had a p50 of 334-1,986 ms against 212-469 ms with one, in alternating runs).
        if self._committer is None or self._committer.done():
            self._committer = asyncio.create_task(self._commit_waiting())
        return await done

    async def _commit_waiting(self) -> None:
        while self._waiting:
            group, self._waiting = self._waiting, []
            try:
                lasts = await self._write(group)
            except Exception as exc:
                if len(group) == 1:
                    _settle(group[0][2], exc)
                    continue
                for item in group:
                    try:
                        (last,) = await self._write([item])
                        assert last is not None  # alone, it waits for its lock
                    except Exception as single:
                        _settle(item[2], single)
                    else:
                        _settle(item[2], last)
                continue
            deferred = []
            for item, last in zip(group, lasts, strict=True):
                if last is None:
                    deferred.append(item)
                else:
                    _settle(item[2], last)
            # Their documents were being written by another process: in the next transaction.
            self._waiting = deferred + self._waiting

    async def _write(
        self, group: list[tuple[str, list[Pending], asyncio.Future[int]]]
    ) -> list[int | None]:
        """One transaction for every (document, batch) of ``group``; the last id of each, or
        None for a batch left for the next transaction (PostgreSQL: its document was locked)."""
        batches = [(document, batch) for document, batch, _ in group]
        if self._sqlite_path is not None:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(1, thread_name_prefix="kring-update-log")
            loop = asyncio.get_running_loop()
            written = await loop.run_in_executor(self._executor, self._append_sqlite, batches)
            return list(written)
        async with self.engine.begin() as conn:
            # PostgreSQL hands out ids at insert, not at commit: without a lock a lower id
            # could commit after a higher one that a load has already read past (a snapshot
            # "up to id N" would then never include it). Under each document's lock, its rows
            # commit in id order. A group takes the locks it gets at once and leaves the rest
            # for the next transaction: waiting for one room's lock held by another worker
            # would hold up every other room of the group behind it.
            locked = await self._try_lock_documents(conn, [document for document, _ in batches])
            if not locked:
                first = min(document for document, _ in batches)
                await self._lock_document(conn, first)
                locked = {first}
            now = datetime.now(UTC)
            rows = [
                {"document": document, "update": p.update, "author": p.author, "created_at": now}
                for document, batch in batches
                if document in locked
                for p in batch
            ]
            result = await conn.execute(
                insert(updates).returning(updates.c.id, sort_by_parameter_order=True), rows
            )
            ids = list(result.scalars().all())
        lasts: list[int | None] = []
        end = 0
        for document, batch in batches:
            if document not in locked:
                lasts.append(None)
                continue
            end += len(batch)
            lasts.append(int(ids[end - 1]))
        return lasts

    async def _try_lock_documents(self, conn: AsyncConnection, documents: list[str]) -> set[str]:
        """PostgreSQL: the documents whose lock this transaction got without waiting."""
        result = await conn.execute(
            text(
                "SELECT d FROM unnest(CAST(:documents AS text[])) AS d"
                " WHERE pg_try_advisory_xact_lock(hashtextextended(d, 0))"
            ),
            {"documents": sorted(set(documents))},
        )
        return {str(d) for d in result.scalars()}

    async def _lock_document(self, conn: AsyncConnection, document: str) -> None:
        """PostgreSQL: wait for the document's lock and hold it until this transaction ends
        (SQLite has one writer at a time already). Taken alone: nobody waits in a circle."""
        if self.engine.dialect.name != "postgresql":
            return
        await conn.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:document, 0))"),
            {"document": document},
        )

    def _append_sqlite(self, batches: list[tuple[str, list[Pending]]]) -> list[int]:
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
            lasts = []
            for document, batch in batches:
                cursor.executemany(
                    'INSERT INTO realtime_updates (document, "update", author, created_at) '
                    "VALUES (?, ?, ?, ?)",
                    [(document, p.update, p.author, now) for p in batch],
                )
                lasts.append(int(cursor.execute("SELECT last_insert_rowid()").fetchone()[0]))
            cursor.execute("COMMIT")
        except BaseException:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
            raise
        finally:
            cursor.close()
        return lasts

    async def mark_ended(self, keys: set[str] | frozenset[str], at: float, keep: float) -> None:
        """Record that the grants hanging on ``keys`` ended at ``at`` (``time.time()``), for
        every process to check (``ended``); forget records older than ``keep`` seconds."""
        if not keys:
            return
        rows = [{"key": k, "ended_at": at} for k in sorted(keys)]
        statement: Any
        if self.engine.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            statement = pg_insert(ended_grants).values(rows)
        else:
            from sqlalchemy.dialects.sqlite import insert as sqlite_insert

            statement = sqlite_insert(ended_grants).values(rows)
        statement = statement.on_conflict_do_update(
            index_elements=[ended_grants.c.key], set_={"ended_at": statement.excluded.ended_at}
        )
        async with self.engine.begin() as conn:
            await conn.execute(statement)
            await conn.execute(delete(ended_grants).where(ended_grants.c.ended_at < at - keep))

    async def ended(self, keys: set[str] | frozenset[str]) -> dict[str, float]:
        """When each of ``keys`` that was recorded as ended ended."""
        if not keys:
            return {}
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(ended_grants.c.key, ended_grants.c.ended_at).where(
                    ended_grants.c.key.in_(sorted(keys))
                )
            )
            return {str(key): float(at) for key, at in rows}

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
        if self._sqlite_path is not None:
            # Plain sqlite3 in a worker thread: 100,000 rows in a tenth of the time it takes
            # through aiosqlite and SQLAlchemy's row processing.
            state, after, tail = await asyncio.to_thread(self._read_sqlite, document)
            parts = ([state] if state is not None else []) + [u for _, u in tail]
            if not parts:
                return Loaded(None, 0, 0)
            return Loaded(
                _readable(parts, snapshot=state is not None),
                tail[-1][0] if tail else after,
                len(tail),
            )
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
        return Loaded(_readable(parts, snapshot=snap is not None), last_id, len(rows))

    def _read_sqlite(self, document: str) -> tuple[bytes | None, int, list[tuple[int, bytes]]]:
        assert self._sqlite_path is not None
        conn = sqlite3.connect(self._sqlite_path, isolation_level=None)
        try:
            conn.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            conn.execute("BEGIN")  # one read snapshot for both queries (WAL: takes no lock)
            snap = conn.execute(
                "SELECT state, last_update_id FROM realtime_snapshots WHERE document = ?",
                (document,),
            ).fetchone()
            state, after = (bytes(snap[0]), int(snap[1])) if snap else (None, 0)
            tail = [
                (int(i), bytes(u))
                for i, u in conn.execute(
                    'SELECT id, "update" FROM realtime_updates WHERE document = ? AND id > ? '
                    "ORDER BY id",
                    (document, after),
                )
            ]
            conn.execute("COMMIT")
            return state, after, tail
        finally:
            conn.close()

    async def compact(self, document: str) -> Loaded:
        """Write snapshot = merge(snapshot, tail). Round-trips exactly: the same update set."""
        return await self.write_snapshot(document, await self.load(document))

    async def write_snapshot(self, document: str, loaded: Loaded) -> Loaded:
        """Store ``loaded`` (a result of ``load``) as the snapshot, unless a newer one exists."""
        if loaded.state is None or loaded.tail_length == 0:
            return loaded
        now = datetime.now(UTC)
        async with self.engine.begin() as conn:
            # Two processes compacting one document at once would both find no snapshot and
            # both insert one; under the document's lock the second finds the first's.
            await self._lock_document(conn, document)
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
            if self.prune_after is not None:
                # Only rows the committed snapshot holds (read in this same transaction), and
                # never its last one: the newest row of every document stays, so even a database
                # created without AUTOINCREMENT never hands out an old id again.
                covered = (
                    select(snapshots.c.last_update_id)
                    .where(snapshots.c.document == document)
                    .scalar_subquery()
                )
                await conn.execute(
                    delete(updates).where(
                        updates.c.document == document,
                        updates.c.id < covered,
                        updates.c.created_at < now - self.prune_after,
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
