"""learning: intervision groups, pseudonymised copies, sessions, annotations, reflections

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 14:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "learning_groups",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by_id", sa.Uuid(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_learning_groups_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_learning_groups")),
    )
    op.create_table(
        "learning_copies",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("group_id", sa.Uuid(), nullable=False),
        sa.Column("source_case_id", sa.Uuid(), nullable=True),
        sa.Column("made_by_id", sa.Uuid(), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("marks", sa.JSON(), nullable=False),
        sa.Column("shift_days", sa.Integer(), nullable=True),
        sa.Column("reviewed", sa.String(length=64), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "state IN ('draft', 'released', 'ended')", name=op.f("ck_learning_copies_state")
        ),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["learning_groups.id"],
            name=op.f("fk_learning_copies_group_id_learning_groups"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["made_by_id"],
            ["users.id"],
            name=op.f("fk_learning_copies_made_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["source_case_id"],
            ["cases.id"],
            name=op.f("fk_learning_copies_source_case_id_cases"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_learning_copies")),
    )
    op.create_index(
        "ix_learning_copies_group", "learning_copies", ["group_id", "created_at"], unique=False
    )
    op.create_table(
        "learning_members",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("group_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("joined_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("left_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["learning_groups.id"],
            name=op.f("fk_learning_members_group_id_learning_groups"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_learning_members_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_learning_members")),
    )
    op.create_index(
        "uq_learning_members_group_user", "learning_members", ["group_id", "user_id"], unique=True
    )
    op.create_table(
        "learning_reflections",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("author_id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("signal", sa.Text(), nullable=False),
        sa.Column("audience", sa.String(length=20), nullable=False),
        sa.Column("shared", sa.JSON(), nullable=False),
        sa.Column("shared_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("signal_raised_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "audience IN ('private', 'manager', 'team')",
            name=op.f("ck_learning_reflections_audience"),
        ),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["users.id"],
            name=op.f("fk_learning_reflections_author_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_learning_reflections_case_id_cases"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_learning_reflections")),
    )
    op.create_index(
        "ix_learning_reflections_author",
        "learning_reflections",
        ["author_id", "created_at"],
        unique=False,
    )
    op.create_table(
        "learning_copy_sections",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("copy_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["copy_id"],
            ["learning_copies.id"],
            name=op.f("fk_learning_copy_sections_copy_id_learning_copies"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_learning_copy_sections")),
    )
    op.create_index(
        "ix_learning_copy_sections_copy",
        "learning_copy_sections",
        ["copy_id", "position"],
        unique=False,
    )
    op.create_table(
        "learning_responses",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("reflection_id", sa.Uuid(), nullable=False),
        sa.Column("author_id", sa.Uuid(), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["users.id"],
            name=op.f("fk_learning_responses_author_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["reflection_id"],
            ["learning_reflections.id"],
            name=op.f("fk_learning_responses_reflection_id_learning_reflections"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_learning_responses")),
    )
    op.create_index(
        "ix_learning_responses_reflection",
        "learning_responses",
        ["reflection_id", "created_at"],
        unique=False,
    )
    op.create_table(
        "learning_sessions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("group_id", sa.Uuid(), nullable=False),
        sa.Column("copy_id", sa.Uuid(), nullable=True),
        sa.Column("method", sa.String(length=40), nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("held_on", sa.Date(), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("conclusions", sa.Text(), nullable=False),
        sa.Column("lessons", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("created_by_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint("state IN ('open', 'closed')", name=op.f("ck_learning_sessions_state")),
        sa.ForeignKeyConstraint(
            ["copy_id"],
            ["learning_copies.id"],
            name=op.f("fk_learning_sessions_copy_id_learning_copies"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_learning_sessions_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["learning_groups.id"],
            name=op.f("fk_learning_sessions_group_id_learning_groups"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_learning_sessions")),
    )
    op.create_index(
        "ix_learning_sessions_group", "learning_sessions", ["group_id", "held_on"], unique=False
    )
    op.create_table(
        "learning_annotations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("copy_id", sa.Uuid(), nullable=False),
        sa.Column("section_id", sa.Uuid(), nullable=False),
        sa.Column("session_id", sa.Uuid(), nullable=True),
        sa.Column("author_id", sa.Uuid(), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("quote", sa.Text(), nullable=False),
        sa.Column("start", sa.JSON(), nullable=False),
        sa.Column("end", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["users.id"],
            name=op.f("fk_learning_annotations_author_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["copy_id"],
            ["learning_copies.id"],
            name=op.f("fk_learning_annotations_copy_id_learning_copies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["section_id"],
            ["learning_copy_sections.id"],
            name=op.f("fk_learning_annotations_section_id_learning_copy_sections"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["learning_sessions.id"],
            name=op.f("fk_learning_annotations_session_id_learning_sessions"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_learning_annotations")),
    )
    op.create_index(
        "ix_learning_annotations_section",
        "learning_annotations",
        ["section_id", "created_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_learning_annotations_section", table_name="learning_annotations")
    op.drop_table("learning_annotations")
    op.drop_index("ix_learning_sessions_group", table_name="learning_sessions")
    op.drop_table("learning_sessions")
    op.drop_index("ix_learning_responses_reflection", table_name="learning_responses")
    op.drop_table("learning_responses")
    op.drop_index("ix_learning_copy_sections_copy", table_name="learning_copy_sections")
    op.drop_table("learning_copy_sections")
    op.drop_index("ix_learning_reflections_author", table_name="learning_reflections")
    op.drop_table("learning_reflections")
    op.drop_index("uq_learning_members_group_user", table_name="learning_members")
    op.drop_table("learning_members")
    op.drop_index("ix_learning_copies_group", table_name="learning_copies")
    op.drop_table("learning_copies")
    op.drop_table("learning_groups")
