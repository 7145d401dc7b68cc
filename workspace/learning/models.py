"""Learning's tables: intervision groups, their pseudonymised copies and sessions, annotations,
reflection logs and the responses to them.

A copy's text lives in Yjs documents (``intervision/<copy>/section/<section>``); its rows say
what it is and who may open it. A copy keeps the id of the case it came from only for its
maker (to review it, and so the family's audit page can say a copy was made): no group
member's page, export or document ever shows it, and nothing is written back to the case.
"""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from workspace.models import Base, User, _values, utcnow, versioned


class CopyState(enum.StrEnum):
    DRAFT = "draft"
    RELEASED = "released"
    ENDED = "ended"


class SessionState(enum.StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class Audience(enum.StrEnum):
    """Who may read a reflection besides its author."""

    PRIVATE = "private"
    MANAGER = "manager"
    TEAM = "team"


class Group(Base):
    """An intervision group: 4 to 8 professionals, no chair, no hierarchy."""

    __tablename__ = "learning_groups"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = versioned(version)


class Member(Base):
    __tablename__ = "learning_members"
    __table_args__ = (Index("uq_learning_members_group_user", "group_id", "user_id", unique=True),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    group_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("learning_groups.id", ondelete="CASCADE")
    )
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    joined_at: Mapped[datetime] = mapped_column(default=utcnow)
    left_at: Mapped[datetime | None] = mapped_column()

    user: Mapped[User] = relationship(lazy="joined")


class Copy(Base):
    """A pseudonymised copy of a case for one group. Draft while its maker reviews the
    replacements; released to the group; ended (its text deleted) on or after ``ends_on``."""

    __tablename__ = "learning_copies"
    __table_args__ = (
        CheckConstraint(f"state IN ({_values(CopyState)})", name="state"),
        Index("ix_learning_copies_group", "group_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    group_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("learning_groups.id", ondelete="CASCADE")
    )
    #: For the maker only (see the module's docstring); emptied when the copy ends.
    source_case_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("cases.id", ondelete="SET NULL")
    )
    made_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    #: What the group calls it: "Casus K". Never the family's name.
    title: Mapped[str] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(20), default=CopyState.DRAFT)
    #: Words the maker marked by hand: [{"word": ..., "replacement": ...}].
    marks: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    #: Days every date moves; forgotten (NULL) once released, so it cannot be undone.
    shift_days: Mapped[int | None] = mapped_column(Integer)
    #: The fingerprint of the replacement list and texts the maker said they reviewed.
    reviewed: Mapped[str] = mapped_column(String(64), default="")
    ends_on: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    reviewed_at: Mapped[datetime | None] = mapped_column()
    released_at: Mapped[datetime | None] = mapped_column()
    ended_at: Mapped[datetime | None] = mapped_column()
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = versioned(version)


class CopySection(Base):
    """One co-edited text of a released copy (a plan section, or a group of records)."""

    __tablename__ = "learning_copy_sections"
    __table_args__ = (Index("ix_learning_copy_sections_copy", "copy_id", "position"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    copy_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("learning_copies.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))


class Session(Base):
    """An intervision meeting: a method, a case question, the steps walked through on the
    shared screen, and what the group concluded and learned."""

    __tablename__ = "learning_sessions"
    __table_args__ = (
        CheckConstraint(f"state IN ({_values(SessionState)})", name="state"),
        Index("ix_learning_sessions_group", "group_id", "held_on"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    group_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("learning_groups.id", ondelete="CASCADE")
    )
    copy_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("learning_copies.id", ondelete="SET NULL")
    )
    #: A key of workspace/learning/methods.py METHODS.
    method: Mapped[str] = mapped_column(String(40))
    question: Mapped[str] = mapped_column(Text)
    held_on: Mapped[date] = mapped_column(Date)
    #: The step the shared screen shows (0-based).
    step: Mapped[int] = mapped_column(Integer, default=0)
    conclusions: Mapped[str] = mapped_column(Text, default="")
    #: What the team can learn: goes into the team's digest (no names).
    lessons: Mapped[str] = mapped_column(Text, default="")
    state: Mapped[str] = mapped_column(String(20), default=SessionState.OPEN)
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column()
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = versioned(version)


class Annotation(Base):
    """A remark on a quoted passage of a copy, anchored with Yjs relative positions."""

    __tablename__ = "learning_annotations"
    __table_args__ = (Index("ix_learning_annotations_section", "section_id", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    copy_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("learning_copies.id", ondelete="CASCADE"))
    section_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("learning_copy_sections.id", ondelete="CASCADE")
    )
    session_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("learning_sessions.id", ondelete="SET NULL")
    )
    author_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    body: Mapped[str] = mapped_column(Text)
    #: The words as they were when annotated: shown when they have since been deleted.
    quote: Mapped[str] = mapped_column(Text)
    start: Mapped[dict[str, Any]] = mapped_column(JSON)
    end: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    author: Mapped[User | None] = relationship(lazy="joined")


class Reflection(Base):
    """One entry of a professional's reflection log: private unless shared, entry by entry.

    ``shared`` holds what others may read: the entry with everything that identifies a case
    replaced, made when it is shared (by its author, who may see the case). Managers and the
    team read only that, never ``body`` and never the case."""

    __tablename__ = "learning_reflections"
    __table_args__ = (
        CheckConstraint(f"audience IN ({_values(Audience)})", name="audience"),
        Index("ix_learning_reflections_author", "author_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    author_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    case_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("cases.id", ondelete="SET NULL"))
    title: Mapped[str] = mapped_column(String(200), default="")
    body: Mapped[str] = mapped_column(Text, default="")
    #: prompt key -> answer (workspace/learning/methods.py PROMPTS).
    answers: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: An open question for the manager or the team.
    question: Mapped[str] = mapped_column(Text, default="")
    #: Something to raise with policy makers ("signaleren en agenderen").
    signal: Mapped[str] = mapped_column(Text, default="")
    audience: Mapped[str] = mapped_column(String(20), default=Audience.PRIVATE)
    shared: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    shared_at: Mapped[datetime | None] = mapped_column()
    #: Set by a manager who took the signal to policy makers.
    signal_raised_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    author: Mapped[User] = relationship(lazy="joined")

    __mapper_args__ = versioned(version)


class Response(Base):
    """A manager's (or colleague's) response to a shared reflection: supportive, asking for
    reasons, never a verdict. Never edited."""

    __tablename__ = "learning_responses"
    __table_args__ = (Index("ix_learning_responses_reflection", "reflection_id", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    reflection_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("learning_reflections.id", ondelete="CASCADE")
    )
    author_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    author: Mapped[User | None] = relationship(lazy="joined")
