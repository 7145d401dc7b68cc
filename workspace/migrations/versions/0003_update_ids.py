"""realtime update ids are never reused (SQLite AUTOINCREMENT)

Loading reads "the log rows after the snapshot's last id". SQLite without AUTOINCREMENT hands
out the largest deleted rowid again, so once old rows can be pruned a reused id could hide an
update. PostgreSQL sequences never reuse ids: nothing to do there.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    # SQLite cannot alter a primary key in place: batch mode copies the table into a new one.
    with op.batch_alter_table(
        'realtime_updates', recreate='always', table_kwargs={'sqlite_autoincrement': True}
    ):
        pass


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    with op.batch_alter_table('realtime_updates', recreate='always'):
        pass
