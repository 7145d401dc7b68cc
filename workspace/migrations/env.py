"""Alembic environment: runs on a connection handed in by ``workspace.db.upgrade``."""

from __future__ import annotations

from alembic import context

import realtime.tables  # noqa: F401 - registers the realtime tables on the metadata
from workspace.models import Base

target_metadata = Base.metadata
connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only reached by a bare `alembic` call
    raise SystemExit("Run migrations with `kring db upgrade` (it hands Alembic a connection).")

context.configure(
    connection=connection,
    target_metadata=target_metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
