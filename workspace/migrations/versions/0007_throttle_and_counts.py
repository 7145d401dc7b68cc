"""sign-in throttling by kind and device; audit rows that count a flood

- login_failures.kind: "login" (a password) or "join" (a meeting code), counted apart, so
  wrong codes never lock anyone out of signing in (and the other way round).
- login_failures.known_device: the attempt came from a browser this account signed in from
  before; an attacker's guesses elsewhere never slow such a device down.
- audit_events.count: how many refusals one row stands for (refused upgrades before sign-in
  are counted per minute, not written one by one).

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("login_failures") as batch:
        batch.add_column(
            sa.Column("kind", sa.String(length=10), nullable=False, server_default="login")
        )
        batch.add_column(
            sa.Column("known_device", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("audit_events") as batch:
        batch.add_column(sa.Column("count", sa.Integer(), nullable=False, server_default="1"))


def downgrade() -> None:
    with op.batch_alter_table("audit_events") as batch:
        batch.drop_column("count")
    with op.batch_alter_table("login_failures") as batch:
        batch.drop_column("known_device")
        batch.drop_column("kind")
