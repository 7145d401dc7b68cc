"""grants that ended, for every worker to check (realtime_ended_grants)

With several workers, a revocation on one reaches the others by signal over Redis, which is
lossy; each batch a connection sends is also checked against this table, in the database
every worker shares.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "realtime_ended_grants",
        sa.Column("key", sa.String(length=200), primary_key=True),
        sa.Column("ended_at", sa.Float(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("realtime_ended_grants")
