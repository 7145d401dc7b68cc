"""Engine, sessions and migrations. Nothing domain-specific lives here."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, event, text
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm.exc import StaleDataError

from workspace.config import PACKAGE, normalise_database_url
from workspace.errors import Conflict

SQLITE_BUSY_TIMEOUT_MS = 5000


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers go on while one writer commits; FULL makes a commit survive power loss;
    # foreign keys are off by default in SQLite and must be asked for on every connection.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.close()


def _sqlite_begin(conn: Connection) -> None:
    deferred = conn.get_execution_options().get("sqlite_deferred", False)
    conn.exec_driver_sql("BEGIN" if deferred else "BEGIN IMMEDIATE")


def _private_sqlite_file(url: str) -> None:
    """The database holds special-category data: its folder 0700, the file 0600 from the
    start (SQLite gives its -wal and -shm files the database file's permissions)."""
    path = url.split("///", 1)[1].split("?", 1)[0] if "///" in url else ""
    if not path or path == ":memory:":
        return
    file = Path(path)
    if not file.parent.exists():
        file.parent.mkdir(parents=True, mode=0o700)
    if not file.exists():
        os.close(os.open(file, os.O_WRONLY | os.O_CREAT, 0o600))
    else:
        file.chmod(0o600)


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    url = normalise_database_url(url)
    if url.startswith("sqlite"):
        _private_sqlite_file(url)
        engine = create_async_engine(url, **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        # aiosqlite's default "deferred" BEGIN lets two writers both read, then one fails with
        # "database is locked" at its first write; BEGIN IMMEDIATE takes the write lock up front
        # so the busy timeout applies instead.
        # Reads that never write may ask for a plain (deferred) BEGIN with the execution option
        # ``sqlite_deferred=True``: WAL readers need no lock and must not queue behind writers.
        event.listen(engine.sync_engine, "begin", _sqlite_begin)

        @event.listens_for(engine.sync_engine, "connect")
        def _no_pysqlite_begin(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None

        return engine
    return create_async_engine(url, pool_pre_ping=True, **kwargs)


class Database:
    """The engine and a session factory. ``begin()`` is one transaction: commit or roll back."""

    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        self.url = normalise_database_url(url)
        self.engine = create_engine(self.url, **engine_kwargs)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    @property
    def is_sqlite(self) -> bool:
        return self.url.startswith("sqlite")

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[AsyncSession]:
        try:
            async with self.sessions() as session, session.begin():
                yield session
        except StaleDataError as exc:
            # A versioned row (workspace.models.versioned) changed in another transaction
            # since this one read it: the same answer as a stale form, whichever flush saw it.
            raise Conflict(f"changed by another transaction meanwhile: {exc}") from exc

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A transaction that only reads. On SQLite a deferred BEGIN: WAL readers take no
        lock, so a storm of page views and websocket upgrades never queues behind writers
        (or fails with "database is locked"). Anything written here is an error."""
        async with self.sessions() as session:
            await session.connection(execution_options={"sqlite_deferred": True})
            try:
                yield session
                if session.new or session.dirty or session.deleted:
                    raise RuntimeError("a read transaction tried to write")
            finally:
                # Ends the read; what it loaded stays usable (a rollback would expire it).
                session.expunge_all()
                await session.rollback()

    async def dispose(self) -> None:
        await self.engine.dispose()


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(PACKAGE / "migrations"))
    return cfg


def _upgrade(connection: Connection, revision: str) -> None:
    cfg = alembic_config()
    cfg.attributes["connection"] = connection
    command.upgrade(cfg, revision)


#: Any fixed number: the advisory lock that serialises migrations on PostgreSQL.
MIGRATION_LOCK = 0x6B72696E67  # "kring"


async def upgrade(url: str, revision: str = "head") -> None:
    """Bring the schema at ``url`` to ``revision``: migrations are the only way a schema exists.

    Several workers starting at once on one PostgreSQL database each call this: under one
    advisory lock (held until the migration's transaction ends) the first migrates and the
    others then find the schema up to date, instead of racing to create ``alembic_version``."""
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                await conn.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK}
                )
            await conn.run_sync(_upgrade, revision)
    finally:
        await engine.dispose()


async def current_revision(url: str) -> str | None:
    from alembic.runtime.migration import MigrationContext

    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(
                lambda sync: MigrationContext.configure(sync).get_current_revision()
            )
    finally:
        await engine.dispose()
