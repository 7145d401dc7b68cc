"""The update log and snapshots. Core tables on the shared metadata, so Alembic sees one schema."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
)

from workspace.models import Base

# One row per stored update: who wrote it and when, for history and minutes. Compaction writes a
# snapshot up to some id; rows are kept (pruning old ones is a separate, explicit decision).
updates = Table(
    "realtime_updates",
    Base.metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("document", String(200), nullable=False),
    Column("update", LargeBinary, nullable=False),
    Column("author", String(80), nullable=False, default=""),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_realtime_updates_document_id", "document", "id"),
    # Ids must never be reused (SQLite reuses the largest rowid once it is deleted): loading
    # reads "the rows after the snapshot's last id", so a reused id would be skipped.
    sqlite_autoincrement=True,
)

snapshots = Table(
    "realtime_snapshots",
    Base.metadata,
    Column("document", String(200), primary_key=True),
    Column("state", LargeBinary, nullable=False),
    Column("last_update_id", BigInteger, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# Grants that ended (a revocation, a closed meeting's guests), for every worker to check on
# each batch a connection sends: one that missed the revocation's signal still refuses the
# writes of a connection opened before it. ``ended_at`` is ``time.time()`` of the worker that
# ended it; rows older than the longest session are removed as new ones come in.
ended_grants = Table(
    "realtime_ended_grants",
    Base.metadata,
    Column("key", String(200), primary_key=True),
    Column("ended_at", Float, nullable=False),
)
