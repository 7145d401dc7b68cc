"""Reading a document's update log back: for versions and "who wrote what" (never for sync).

The log keeps every update with its author and time (the durability contract, point 3); these
functions only read it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from realtime.tables import updates


@dataclass(frozen=True)
class LogRow:
    id: int
    update: bytes
    author: str
    created_at: datetime


async def rows(
    engine: AsyncEngine, document: str, *, after: int = 0, upto: int | None = None
) -> list[LogRow]:
    """The log rows of ``document`` with ``after < id <= upto``, oldest first."""
    stmt = select(updates.c.id, updates.c.update, updates.c.author, updates.c.created_at).where(
        updates.c.document == document, updates.c.id > after
    )
    if upto is not None:
        stmt = stmt.where(updates.c.id <= upto)
    async with engine.connect() as raw:
        conn = await raw.execution_options(sqlite_deferred=True)
        found = (await conn.execute(stmt.order_by(updates.c.id))).all()
    return [LogRow(int(r.id), bytes(r.update), str(r.author), _utc(r.created_at)) for r in found]


def _utc(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; the log stores UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@dataclass(frozen=True)
class LastChange:
    document: str
    last_id: int
    at: datetime


async def last_changes(engine: AsyncEngine, documents: Sequence[str]) -> list[LastChange]:
    """For each of ``documents`` that has a log: its newest row id and when it was written."""
    if not documents:
        return []
    stmt = (
        select(updates.c.document, func.max(updates.c.id), func.max(updates.c.created_at))
        .where(updates.c.document.in_(list(documents)))
        .group_by(updates.c.document)
    )
    async with engine.connect() as raw:
        conn = await raw.execution_options(sqlite_deferred=True)
        found = (await conn.execute(stmt)).all()
    return [LastChange(str(d), int(i), _utc(at)) for d, i, at in found]
