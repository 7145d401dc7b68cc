"""Reads never queue behind writers (issue 16): a page view's session lookup is a read."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from workspace.models import User


@contextlib.asynccontextmanager
async def write_lock_held(db) -> AsyncIterator[None]:
    """Another writer in the middle of a transaction (BEGIN IMMEDIATE holds the lock)."""
    if not db.is_sqlite:
        pytest.skip("SQLite's write lock; PostgreSQL readers never wait for writers")
    writing = asyncio.Event()
    release = asyncio.Event()

    async def writer() -> None:
        async with db.begin() as session:
            await session.execute(text("UPDATE users SET name = name"))
            writing.set()
            await release.wait()

    held = asyncio.create_task(writer())
    await writing.wait()
    try:
        yield
    finally:
        release.set()
        await held


async def test_a_read_goes_through_while_a_writer_holds_the_lock(db, world):
    async with write_lock_held(db), db.read() as session:
        # Had this been BEGIN IMMEDIATE it would wait out the busy timeout and fail.
        names = list(await session.scalars(select(User.name)))
    assert names


async def test_a_read_transaction_refuses_to_write(db, world):
    with pytest.raises(RuntimeError):
        async with db.read() as session:
            user = await session.scalar(select(User))
            user.name = "anders"


async def test_signed_in_requests_that_only_read_never_wait_for_a_writer(browser, world, db):
    """Every request with a session cookie, static files included, used to open BEGIN
    IMMEDIATE for the session lookup: behind a long write it waited out the busy timeout
    and answered 500 ("database is locked")."""
    b = browser()
    await b.login(world.coordinator.email)
    await b.get(f"/cases/{world.case.id}")  # the session was just touched: no write now
    async with write_lock_held(db):
        assert (await b.get("/static/kring.css")).status_code == 200
        assert (await b.get("/readyz")).status_code == 200


async def test_a_stalled_query_on_postgresql_ends_at_the_statement_timeout(database_url):
    from workspace.config import Settings
    from workspace.db import Database

    if database_url.startswith("sqlite"):
        pytest.skip("a PostgreSQL setting: SQLite has its busy timeout")
    settings = Settings(
        data_dir=Path("unused"),
        database_url=database_url,
        secret_key="s" * 40,
        db_statement_timeout_ms=200,
    )
    stalled = Database(database_url, **settings.engine_options())
    try:
        with pytest.raises(DBAPIError, match="statement timeout"):
            async with stalled.read() as session:
                await session.execute(text("SELECT pg_sleep(5)"))
    finally:
        await stalled.dispose()
