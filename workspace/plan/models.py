"""The family plan's tables: sections (co-edited text), and the records with weight.

Every section and record carries an audience (see ``workspace.plan.visibility``). Records
that the domain calls append-only (decision entries: dissent, answers, the household's
response) are never updated in place: a correction is a new row that ``supersedes`` the old.
"""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, declared_attr, mapped_column, relationship

from workspace.i18n import Label
from workspace.models import Base, Participant, Person, _values, utcnow, versioned
from workspace.plan.catalogue import DEFAULT_QUESTION


class Audience(enum.StrEnum):
    ALL = "all"
    PROFESSIONALS = "professionals"
    EXCEPT = "except"


class AgreementStatus(enum.StrEnum):
    AGREED = "agreed"
    GOING_WELL = "going_well"
    NOT_WORKING = "not_working"
    ENDED = "ended"


class Regime(enum.StrEnum):
    VOLUNTARY = "vrijwillig"
    POWERS = "bevoegdheden"
    MEASURE = "maatregel"


class DecisionKind(enum.StrEnum):
    ORDINARY = "ordinary"
    CORE = "core"


class DecisionState(enum.StrEnum):
    DRAFT = "draft"
    DISSENT = "dissent"
    TAKEN = "taken"
    WITHDRAWN = "withdrawn"


class EntryKind(enum.StrEnum):
    DISSENT = "dissent"
    ANSWER = "answer"
    RESPONSE = "response"


class Audienced:
    """Columns every section and record shares: who may see it."""

    audience: Mapped[str] = mapped_column(String(20), default=Audience.ALL)
    #: Person ids (as strings) who must not see it, when ``audience`` is "except".
    excluded: Mapped[list[str]] = mapped_column(JSON, default=list)


class Section(Audienced, Base):
    """One co-edited text of the plan. Its words live in the Yjs document
    ``case/<case id>/section/<id>``; this row says what it is and who may open it."""

    __tablename__ = "plan_sections"
    __table_args__ = (
        CheckConstraint("phase BETWEEN 1 AND 3", name="phase"),
        CheckConstraint(f"audience IN ({_values(Audience)})", name="audience"),
        Index("uq_plan_sections_case_slot", "case_id", "slot", unique=True),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    phase: Mapped[int] = mapped_column(Integer)
    #: The catalogue entry (workspace/plan/catalogue.py) this section is an instance of.
    key: Mapped[str] = mapped_column(String(60))
    #: "key" or "key:<person id>" for the catalogue's own sections, "extra:<id>" for added ones:
    #: unique per case, so making sure the catalogue's sections exist is idempotent.
    slot: Mapped[str] = mapped_column(String(120))
    person_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("persons.id", ondelete="SET NULL")
    )
    #: Empty for catalogue sections (the catalogue names them); set for added ones.
    title: Mapped[str] = mapped_column(String(200), default="")
    position: Mapped[int] = mapped_column(Integer, default=0)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    person: Mapped[Person | None] = relationship(lazy="joined")

    __mapper_args__ = versioned(version)


class Record(Audienced):
    """What every record shares: its case, phase, author and time, and a version counter that
    stale forms are checked against."""

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    phase: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)
    #: The meeting it was made in, if any (workspace/meetings).
    meeting_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("meetings.id", ondelete="SET NULL")
    )

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:
        # Declarative swaps the mixin's column for each table's copy of it.
        return versioned(cls.version)


class Agreement(Record, Base):
    """A safety agreement ("veiligheidsafspraak") a meeting can act on."""

    __tablename__ = "plan_agreements"
    __table_args__ = (
        CheckConstraint("phase BETWEEN 1 AND 3", name="phase"),
        CheckConstraint(f"audience IN ({_values(Audience)})", name="audience"),
        CheckConstraint(f"status IN ({_values(AgreementStatus)})", name="status"),
        Index("ix_plan_agreements_case", "case_id", "created_at"),
    )

    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    what: Mapped[str] = mapped_column(Text)
    who_does: Mapped[str] = mapped_column(String(200))
    #: In words, as agreed: "als de spanning oploopt", "elke maandag", "voor 1 december".
    when: Mapped[str] = mapped_column(String(200), default="")
    checker: Mapped[str] = mapped_column(String(200), default="")
    if_it_fails: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(20), default=AgreementStatus.AGREED)
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("participants.id", ondelete="SET NULL")
    )
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("participants.id", ondelete="SET NULL")
    )


class Incident(Record, Base):
    """Something that happened; the newest one starts the clock of phase 2 again."""

    __tablename__ = "plan_incidents"
    __table_args__ = (
        CheckConstraint("phase BETWEEN 1 AND 3", name="phase"),
        CheckConstraint(f"audience IN ({_values(Audience)})", name="audience"),
        Index("ix_plan_incidents_case", "case_id", "occurred_on"),
    )

    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    occurred_on: Mapped[date] = mapped_column(Date)
    what: Mapped[str] = mapped_column(Text)
    #: Who told it, in words (a person need not take part in Kring to report).
    reported_by: Mapped[str] = mapped_column(String(200))
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("participants.id", ondelete="SET NULL")
    )


class ScoreQuestion(Base):
    """A scaling question the plan asks (0-10). Every plan has "Hoe veilig is het thuis?"."""

    __tablename__ = "plan_score_questions"
    __table_args__ = (Index("uq_plan_score_questions_case_text", "case_id", "text", unique=True),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    text: Mapped[str] = mapped_column(String(200))
    position: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def label(self) -> Label:
        return question_label(self.text)


def question_label(text: str) -> Label:
    """A scaling question as shown: the plan's own question is a catalogue message (shown in
    the reader's language); every other question is someone's words, shown as typed."""
    return Label(text) if text == DEFAULT_QUESTION else Label.user(text)


class Score(Record, Base):
    """One person's 0-10 answer to one question on one day (one meeting)."""

    __tablename__ = "plan_scores"
    __table_args__ = (
        CheckConstraint("phase BETWEEN 1 AND 3", name="phase"),
        CheckConstraint(f"audience IN ({_values(Audience)})", name="audience"),
        CheckConstraint("value BETWEEN 0 AND 10", name="value"),
        Index("ix_plan_scores_case", "case_id", "asked_on"),
    )

    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    question_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("plan_score_questions.id", ondelete="CASCADE")
    )
    #: Whose answer it is.
    participant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("participants.id", ondelete="CASCADE")
    )
    value: Mapped[int] = mapped_column(Integer)
    asked_on: Mapped[date] = mapped_column(Date)
    #: Who typed it in (the person themself, or the chair for them).
    recorded_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("participants.id", ondelete="SET NULL")
    )

    participant: Mapped[Participant] = relationship(foreign_keys=[participant_id], lazy="joined")


class Decision(Record, Base):
    """A decision (ordinary, or a core decision) with its grounds, its regime and how it meets
    each principle. It moves draft -> in tegenspraak -> taken, or is withdrawn."""

    __tablename__ = "plan_decisions"
    __table_args__ = (
        CheckConstraint("phase BETWEEN 1 AND 3", name="phase"),
        CheckConstraint(f"audience IN ({_values(Audience)})", name="audience"),
        CheckConstraint(f"kind IN ({_values(DecisionKind)})", name="kind"),
        CheckConstraint(f"state IN ({_values(DecisionState)})", name="state"),
        CheckConstraint(f"regime IN ({_values(Regime)})", name="regime"),
        CheckConstraint(
            f"new_regime IS NULL OR new_regime IN ({_values(Regime)})", name="new_regime"
        ),
        CheckConstraint("closes_phase IS NULL OR closes_phase BETWEEN 1 AND 3", name="closes"),
        Index("ix_plan_decisions_case", "case_id", "created_at"),
    )

    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20), default=DecisionKind.ORDINARY)
    question: Mapped[str] = mapped_column(Text)
    proposal: Mapped[str] = mapped_column(Text)
    grounds: Mapped[str] = mapped_column(Text, default="")
    regime: Mapped[str] = mapped_column(String(20))
    #: Set when taking this decision moves the case to another regime.
    new_regime: Mapped[str | None] = mapped_column(String(20))
    #: Set when this decision closes a phase (its grounds cite the phase's result).
    closes_phase: Mapped[int | None] = mapped_column(Integer)
    #: Who decides, in words ("de regisseur met het gezin", "de kinderrechter").
    decider: Mapped[str] = mapped_column(String(200), default="")
    #: Who argues the counter-position (organised dissent).
    counter_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("participants.id", ondelete="SET NULL")
    )
    #: principle key -> how this decision meets it (workspace/plan/catalogue.py PRINCIPLES).
    principles: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    state: Mapped[str] = mapped_column(String(20), default=DecisionState.DRAFT)
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("participants.id", ondelete="SET NULL")
    )
    decided_at: Mapped[datetime | None] = mapped_column()
    decided_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("participants.id", ondelete="SET NULL")
    )

    counter: Mapped[Participant | None] = relationship(foreign_keys=[counter_id], lazy="joined")


class DecisionEntry(Base):
    """Dissent, an answer to dissent, or the household's own response. Never changed or
    deleted: a correction is a new entry that supersedes this one, and both stay visible."""

    __tablename__ = "plan_decision_entries"
    __table_args__ = (
        CheckConstraint(f"kind IN ({_values(EntryKind)})", name="kind"),
        Index("ix_plan_decision_entries_decision", "decision_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    decision_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("plan_decisions.id", ondelete="CASCADE")
    )
    kind: Mapped[str] = mapped_column(String(20))
    #: For an answer: the dissent it answers (its first version).
    answers_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("plan_decision_entries.id", ondelete="RESTRICT")
    )
    #: The entry this one corrects; the old one stays, marked as corrected.
    supersedes_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("plan_decision_entries.id", ondelete="RESTRICT"), unique=True
    )
    #: Whose words these are.
    author_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("participants.id", ondelete="RESTRICT"))
    #: Who typed them in, when not the author (the chair writing down what was said).
    recorded_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("participants.id", ondelete="RESTRICT")
    )
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    meeting_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("meetings.id", ondelete="SET NULL")
    )

    author: Mapped[Participant] = relationship(foreign_keys=[author_id], lazy="joined")


class Evaluation(Record, Base):
    """One turn of the PDCA cycle in a phase."""

    __tablename__ = "plan_evaluations"
    __table_args__ = (
        CheckConstraint("phase BETWEEN 1 AND 3", name="phase"),
        CheckConstraint(f"audience IN ({_values(Audience)})", name="audience"),
        Index("ix_plan_evaluations_case", "case_id", "created_at"),
    )

    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    plan: Mapped[str] = mapped_column(Text)
    do: Mapped[str] = mapped_column(Text, default="")
    check: Mapped[str] = mapped_column(Text, default="")
    act: Mapped[str] = mapped_column(Text, default="")
    next_on: Mapped[date | None] = mapped_column(Date)
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("participants.id", ondelete="SET NULL")
    )


class Milestone(Base):
    """A marked moment of the case: the regime or the phase changed, by a taken decision."""

    __tablename__ = "plan_milestones"
    __table_args__ = (
        CheckConstraint("kind IN ('regime', 'phase')", name="kind"),
        Index("ix_plan_milestones_case", "case_id", "at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))
    before: Mapped[str] = mapped_column(String(20))
    after: Mapped[str] = mapped_column(String(20))
    decision_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("plan_decisions.id", ondelete="RESTRICT")
    )
    at: Mapped[datetime] = mapped_column(default=utcnow)
