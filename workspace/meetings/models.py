"""Meetings of a case: planned -> open -> closed, their agenda, who was invited and present,
guests who join with the meeting's code, versions of the plan's text, and the minutes.

A meeting's records (agreements, scores, decisions, dissent...) are the plan's own rows with a
``meeting_id``: the plan is one, the meeting is where parts of it were made."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from workspace.models import Base, Participant, _values, utcnow, versioned


class MeetingState(enum.StrEnum):
    PLANNED = "planned"
    OPEN = "open"
    CLOSED = "closed"


class AgendaKind(enum.StrEnum):
    SECTION = "section"
    AGREEMENTS = "agreements"
    EVALUATION = "evaluation"
    DECISION = "decision"
    SCORES = "scores"
    FREE = "free"


class GuestState(enum.StrEnum):
    WAITING = "waiting"
    ADMITTED = "admitted"
    REFUSED = "refused"
    ENDED = "ended"


class VersionReason(enum.StrEnum):
    OPEN = "open"
    CLOSE = "close"
    QUIET = "quiet"


class MinutesState(enum.StrEnum):
    DRAFT = "draft"
    FINAL = "final"


class Meeting(Base):
    """One family-plan meeting ("overleg"). ``version`` guards the chair's actions: a second
    action from a stale screen is refused, never applied on top of the first."""

    __tablename__ = "meetings"
    __table_args__ = (
        CheckConstraint(f"state IN ({_values(MeetingState)})", name="state"),
        Index("ix_meetings_case", "case_id", "starts_at"),
        Index("uq_meetings_code", "code", unique=True),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    state: Mapped[str] = mapped_column(String(20), default=MeetingState.PLANNED)
    title: Mapped[str] = mapped_column(String(200))
    starts_at: Mapped[datetime] = mapped_column()
    #: Where: a place in words, or how to join the call.
    place: Mapped[str] = mapped_column(String(300), default="")
    chair_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("participants.id", ondelete="SET NULL")
    )
    scribe_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("participants.id", ondelete="SET NULL")
    )
    #: The short code to join with while the meeting is open; gone when it closes.
    code: Mapped[str | None] = mapped_column(String(12))
    #: What the chair shows on the shared screen: an element id on the meeting page.
    focus: Mapped[str] = mapped_column(String(120), default="")
    version: Mapped[int] = mapped_column(Integer, default=1)
    opened_at: Mapped[datetime | None] = mapped_column()
    closed_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("participants.id", ondelete="SET NULL")
    )

    chair: Mapped[Participant | None] = relationship(foreign_keys=[chair_id], lazy="joined")
    scribe: Mapped[Participant | None] = relationship(foreign_keys=[scribe_id], lazy="joined")

    __mapper_args__ = versioned(version)


class AgendaItem(Base):
    """One point on the agenda: a part of the plan (section, agreements, an evaluation, a
    decision, the scores) or a point in the chair's own words."""

    __tablename__ = "meeting_agenda_items"
    __table_args__ = (
        CheckConstraint(f"kind IN ({_values(AgendaKind)})", name="kind"),
        Index("ix_meeting_agenda_items_meeting", "meeting_id", "position"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    meeting_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer, default=0)
    kind: Mapped[str] = mapped_column(String(20))
    #: The plan row it points at (a section, evaluation or decision id), or "" (e.g. "phase:1").
    ref: Mapped[str] = mapped_column(String(80), default="")
    #: For free items: the chair's words. Others are titled from what they point at.
    title: Mapped[str] = mapped_column(String(300), default="")


class Invitee(Base):
    __tablename__ = "meeting_invitees"

    meeting_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("meetings.id", ondelete="CASCADE"), primary_key=True
    )
    participant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("participants.id", ondelete="CASCADE"), primary_key=True
    )


class Attendance(Base):
    """Who was there: seen live (an open meeting screen), or set by the chair."""

    __tablename__ = "meeting_attendance"
    __table_args__ = (
        CheckConstraint("source IN ('live', 'chair')", name="source"),
        Index("uq_meeting_attendance", "meeting_id", "participant_id", unique=True),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    meeting_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"))
    participant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("participants.id", ondelete="CASCADE")
    )
    present: Mapped[bool] = mapped_column(default=True)
    source: Mapped[str] = mapped_column(String(10), default="live")
    first_seen_at: Mapped[datetime | None] = mapped_column()
    last_seen_at: Mapped[datetime | None] = mapped_column()

    participant: Mapped[Participant] = relationship(lazy="joined")


class Guest(Base):
    """Someone who joined with the meeting's code and waits in the lobby until the chair admits
    them and links them to their person. Only a hash of their lobby cookie is kept."""

    __tablename__ = "meeting_guests"
    __table_args__ = (
        CheckConstraint(f"state IN ({_values(GuestState)})", name="state"),
        Index("ix_meeting_guests_meeting", "meeting_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    meeting_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"))
    #: The name they typed: shown to the chair only, to recognise them.
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    state: Mapped[str] = mapped_column(String(20), default=GuestState.WAITING)
    participant_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("participants.id", ondelete="CASCADE")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column()
    #: When the admitted guest's browser took its session (once).
    session_started_at: Mapped[datetime | None] = mapped_column()

    participant: Mapped[Participant | None] = relationship(lazy="joined")


class SectionVersion(Base):
    """A section's text at a moment: a meeting opened or closed, or a quiet moment in between.
    ``upto_update_id`` is the last realtime log row it includes, so two versions can be
    compared with who wrote what between them."""

    __tablename__ = "section_versions"
    __table_args__ = (
        CheckConstraint(f"reason IN ({_values(VersionReason)})", name="reason"),
        Index("ix_section_versions_section", "section_id", "taken_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    section_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("plan_sections.id", ondelete="CASCADE")
    )
    meeting_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("meetings.id", ondelete="SET NULL")
    )
    reason: Mapped[str] = mapped_column(String(10))
    taken_at: Mapped[datetime] = mapped_column(default=utcnow)
    text: Mapped[str] = mapped_column(Text, default="")
    upto_update_id: Mapped[int] = mapped_column(Integer, default=0)


class Minutes(Base):
    """The meeting's report ("verslag"), made when it closes. ``content`` is a frozen record
    of what happened, each item with its audience, so every reader sees only their share and
    a final report never changes afterwards."""

    __tablename__ = "meeting_minutes"
    __table_args__ = (CheckConstraint(f"state IN ({_values(MinutesState)})", name="state"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    meeting_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("meetings.id", ondelete="CASCADE"), unique=True
    )
    state: Mapped[str] = mapped_column(String(10), default=MinutesState.DRAFT)
    content: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: Reactions are open until then; afterwards the minutes are final.
    reactions_until: Mapped[datetime] = mapped_column()
    finalised_at: Mapped[datetime | None] = mapped_column()


class Reaction(Base):
    """A participant's reaction to draft minutes. Never changed: it stays with the final."""

    __tablename__ = "meeting_minutes_reactions"
    __table_args__ = (Index("ix_meeting_minutes_reactions", "minutes_id", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    minutes_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("meeting_minutes.id", ondelete="CASCADE")
    )
    author_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("participants.id", ondelete="RESTRICT"))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    author: Mapped[Participant] = relationship(lazy="joined")
