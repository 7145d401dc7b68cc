"""SQLAlchemy 2 declarative models. The schema itself only ever comes from workspace/migrations/."""

from __future__ import annotations

import enum
import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    TypeDecorator,
    Uuid,
    false,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC, always hands back an aware UTC datetime (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored: give a timezone-aware value")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# Stable constraint names, so migrations can alter them on SQLite and PostgreSQL alike.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime, uuid.UUID: Uuid}


def versioned(version: Any) -> dict[str, Any]:
    """Mapper arguments for a row whose ``version`` column guards stale forms.

    The domain functions compare a form's version with the row's and set the next one
    themselves (hence no generator). Checking in Python alone loses an edit when two
    transactions both read version N (READ COMMITTED on PostgreSQL), so every UPDATE also says
    ``AND version = <as read>``: when another transaction got there first no row matches,
    SQLAlchemy raises StaleDataError and ``Database.begin`` turns it into a Conflict."""
    return {"version_id_col": version, "version_id_generator": False}


def _values(e: type[enum.Enum]) -> str:
    return ", ".join(repr(m.value) for m in e)


class UserRole(enum.StrEnum):
    PROFESSIONAL = "professional"
    MANAGER = "manager"
    ADMIN = "admin"


class CaseRole(enum.StrEnum):
    """What a participant is in one case. The Dutch words live in workspace/access.py."""

    COORDINATOR = "coordinator"
    PROFESSIONAL = "professional"
    HOUSEHOLD = "household"
    NETWORK = "network"
    OBSERVER = "observer"


class PersonKind(enum.StrEnum):
    HOUSEHOLD = "household"
    NETWORK = "network"


class Organisation(Base):
    __tablename__ = "organisations"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    #: What kind of organisation, in the field's own words (lokaal team, GGZ, school...).
    kind: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class User(Base):
    """A professional, manager or admin who signs in with email and password."""

    __tablename__ = "users"
    __table_args__ = (CheckConstraint(f"role IN ({_values(UserRole)})", name="role"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    organisation_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("organisations.id", ondelete="RESTRICT")
    )
    #: The professional role in words, e.g. "regionaal veiligheidsteam", "GGZ", "leerkracht".
    job_title: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str | None] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    organisation: Mapped[Organisation | None] = relationship(lazy="joined")


class Case(Base):
    """One household's case. Its id is random (uuid4) so case URLs cannot be guessed."""

    __tablename__ = "cases"
    __table_args__ = (CheckConstraint("phase BETWEEN 1 AND 3", name="phase"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    #: A short title; it need not be the family name.
    title: Mapped[str] = mapped_column(String(200))
    phase: Mapped[int] = mapped_column(Integer, default=1)
    regime: Mapped[str] = mapped_column(String(40), default="vrijwillig")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    closed_at: Mapped[datetime | None] = mapped_column()


class Person(Base):
    """Someone in the household or their network, whether or not they ever sign in."""

    __tablename__ = "persons"
    __table_args__ = (
        CheckConstraint(f"kind IN ({_values(PersonKind)})", name="kind"),
        CheckConstraint(
            "birth_year IS NULL OR birth_year BETWEEN 1900 AND 2200", name="birth_year"
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    case_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("cases.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))
    #: In the family's words: "moeder", "zoon", "oma (moeder van Linda)", "buurman".
    relation: Mapped[str] = mapped_column(String(200), default="")
    birth_year: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Participant(Base):
    """Who takes part in a case, and as what. Either a user (professionals) or a person."""

    __tablename__ = "participants"
    __table_args__ = (
        CheckConstraint(f"role IN ({_values(CaseRole)})", name="role"),
        CheckConstraint(
            "(user_id IS NOT NULL AND person_id IS NULL) OR (user_id IS NULL AND person_id IS NOT NULL)",
            name="user_xor_person",
        ),
        Index("ix_participants_case_user", "case_id", "user_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    case_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("cases.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[str] = mapped_column(String(20))
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    person_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("persons.id", ondelete="CASCADE"), unique=True
    )
    #: For professionals: their role in this case ("regionaal veiligheidsteam", "GGZ", "school").
    case_function: Mapped[str] = mapped_column(String(200), default="")
    added_at: Mapped[datetime] = mapped_column(default=utcnow)
    added_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    revoked_at: Mapped[datetime | None] = mapped_column()

    user: Mapped[User | None] = relationship(foreign_keys=[user_id], lazy="joined")
    person: Mapped[Person | None] = relationship(lazy="joined")

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    @property
    def display_name(self) -> str:
        if self.user is not None:
            return self.user.name
        return self.person.name if self.person is not None else ""


class Invitation(Base):
    """A personal, time-limited link for one household or network member.

    Only a hash of the link's token is kept. Once claimed, the invitation is bound to the
    device that claimed it (a second secret kept in that browser), so the link is useless to
    anyone else.
    """

    __tablename__ = "invitations"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    participant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("participants.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    expires_at: Mapped[datetime] = mapped_column()
    claimed_at: Mapped[datetime | None] = mapped_column()
    device_hash: Mapped[str | None] = mapped_column(String(64))
    revoked_at: Mapped[datetime | None] = mapped_column()

    participant: Mapped[Participant] = relationship(lazy="joined")


class Session(Base):
    """A signed-in browser. The cookie holds a random token; only its hash is stored."""

    __tablename__ = "sessions"
    __table_args__ = (
        CheckConstraint(
            "(user_id IS NOT NULL AND participant_id IS NULL) OR "
            "(user_id IS NULL AND participant_id IS NOT NULL)",
            name="user_xor_participant",
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    participant_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("participants.id", ondelete="CASCADE"), index=True
    )
    invitation_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("invitations.id", ondelete="CASCADE")
    )
    #: For a guest who joined a meeting with its code: the session ends with the meeting.
    guest_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("meeting_guests.id", ondelete="CASCADE")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()


class LoginFailure(Base):
    """One failed sign-in or join code; counted per email (hashed) and per address to slow
    guessing down (``workspace.auth.throttle``)."""

    __tablename__ = "login_failures"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    email_hash: Mapped[str] = mapped_column(String(64), index=True)
    source: Mapped[str] = mapped_column(String(64), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    #: "login" (a password) or "join" (a meeting's code): counted apart.
    kind: Mapped[str] = mapped_column(String(10), default="login", server_default="login")
    #: From a browser this account signed in from before.
    known_device: Mapped[bool] = mapped_column(default=False, server_default=false())


class AuditEvent(Base):
    """One read or write of case data, in the shape NEN 7513 asks for.

    what (action, outcome), when (UTC), which case and object, who (user or person), in which
    role, on whose behalf, from where. Never free text: no names, no content.
    """

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_case_at", "case_id", "at"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    action: Mapped[str] = mapped_column(String(60))
    outcome: Mapped[str] = mapped_column(String(20), default="ok")
    case_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("cases.id", ondelete="RESTRICT"), index=False
    )
    object_type: Mapped[str] = mapped_column(String(40), default="")
    object_id: Mapped[str] = mapped_column(String(80), default="")
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    participant_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("participants.id", ondelete="RESTRICT")
    )
    person_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("persons.id", ondelete="RESTRICT")
    )
    #: The actor's role at the time: a case role, or the user role outside a case.
    role: Mapped[str] = mapped_column(String(20), default="")
    #: A participant id when acting for someone else (e.g. a coordinator for a family member).
    on_behalf_of: Mapped[str] = mapped_column(String(80), default="")
    #: Where from: the client address as the server saw it, and the transport.
    source: Mapped[str] = mapped_column(String(64), default="")
    channel: Mapped[str] = mapped_column(String(20), default="web")
    #: How many events this row stands for: refusals in a flood are counted, not each written.
    count: Mapped[int] = mapped_column(Integer, default=1, server_default="1")


__all__ = [
    "AuditEvent",
    "Base",
    "Case",
    "CaseRole",
    "Invitation",
    "LoginFailure",
    "Organisation",
    "Participant",
    "Person",
    "PersonKind",
    "Session",
    "User",
    "UserRole",
    "utcnow",
    "versioned",
]

# The plan's tables live beside their domain code; importing them here registers them on
# Base.metadata for every user of the models (the app, migrations, tests).
from workspace.learning import models as _learning_models  # noqa: E402, F401
from workspace.meetings import models as _meeting_models  # noqa: E402, F401
from workspace.plan import models as _plan_models  # noqa: E402, F401
