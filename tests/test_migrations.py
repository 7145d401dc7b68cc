"""Migrations are the only source of the schema: they must match the models exactly."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from workspace.db import create_engine
from workspace.models import Base


async def test_migrated_schema_matches_the_models(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            diff = await conn.run_sync(
                lambda sync: compare_metadata(MigrationContext.configure(sync), Base.metadata)
            )
    finally:
        await engine.dispose()
    assert diff == []


async def test_sqlite_runs_with_wal_full_sync_and_foreign_keys(tmp_path) -> None:
    from sqlalchemy import text

    from workspace.db import upgrade

    url = f"sqlite+aiosqlite:///{tmp_path / 'x.sqlite3'}"
    await upgrade(url)
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            assert (await conn.execute(text("PRAGMA journal_mode"))).scalar() == "wal"
            assert (await conn.execute(text("PRAGMA synchronous"))).scalar() == 2  # FULL
            assert (await conn.execute(text("PRAGMA foreign_keys"))).scalar() == 1
            assert (await conn.execute(text("PRAGMA busy_timeout"))).scalar() == 5000
    finally:
        await engine.dispose()


async def test_workers_starting_at_once_on_an_empty_database_both_migrate() -> None:
    """Two workers of a region start together: both run ``upgrade`` on one new PostgreSQL
    database. Without a lock both create ``alembic_version`` and one fails (UniqueViolation)."""
    import asyncio
    import os
    import uuid

    import pytest
    from sqlalchemy import text

    from workspace.config import normalise_database_url
    from workspace.db import create_engine, current_revision, upgrade

    admin_url = os.environ.get("KRING_TEST_DATABASE_URL")
    if not admin_url:
        pytest.skip("PostgreSQL: set KRING_TEST_DATABASE_URL to run this")
    admin_url = normalise_database_url(admin_url)
    name = f"kring_race_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin_url.rsplit("/", 1)[0] + "/" + name
    try:
        await asyncio.gather(*(upgrade(url) for _ in range(3)))
        assert await current_revision(url) is not None
    finally:
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()
