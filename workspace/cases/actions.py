"""Case domain functions: take a session and an actor, check access, validate, mutate.

They never commit and never see a Request; the view owns the transaction."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from workspace import audit
from workspace.access import Action, Actor, CaseAccess
from workspace.auth.actions import end_sessions_of_participant, normalise_email
from workspace.errors import Forbidden, NotFound, ValidationError
from workspace.i18n import N_
from workspace.models import (
    Case,
    CaseRole,
    Invitation,
    Organisation,
    Participant,
    Person,
    PersonKind,
    User,
    UserRole,
    utcnow,
)

MAX_TITLE = 200


def clean_text(value: object, *, limit: int = 200) -> str:
    """Trim, fold internal whitespace runs to single spaces, drop control characters."""
    text = str(value or "")
    text = "".join(ch for ch in text if ch.isprintable() or ch == " ")
    return " ".join(text.split())[:limit]


def _title(value: object, errors: dict[str, str]) -> str:
    title = clean_text(value, limit=MAX_TITLE + 1)
    if not title:
        errors["title"] = (
            "Geef het plan een korte naam, bijvoorbeeld 'Gezin Jansen' of 'Wijk Oost 12'."
        )
    elif len(title) > MAX_TITLE:
        errors["title"] = f"Gebruik hoogstens {MAX_TITLE} tekens."
    return title


@dataclass(frozen=True)
class CaseChanged:
    """Published after commit, so every open screen of the case can refresh."""

    case_id: uuid.UUID
    what: str


async def create_case(db: AsyncSession, actor: Actor, title: str) -> Case:
    """A professional starts a case and becomes its coordinator (the fixed face)."""
    if actor.user is None or actor.user.role != UserRole.PROFESSIONAL:
        raise Forbidden("only professionals start cases")
    errors: dict[str, str] = {}
    clean = _title(title, errors)
    if errors:
        raise ValidationError(errors)
    case = Case(title=clean, created_by_id=actor.user.id)
    db.add(case)
    await db.flush()
    participant = Participant(
        case_id=case.id,
        role=CaseRole.COORDINATOR,
        user_id=actor.user.id,
        case_function=actor.user.job_title,
        added_by_id=actor.user.id,
    )
    db.add(participant)
    await db.flush()
    await db.refresh(participant)
    audit.record(
        db,
        CaseAccess(actor, case, participant),
        "case.create",
        object_type="case",
        object_id=case.id,
    )
    return case


async def my_cases(db: AsyncSession, actor: Actor) -> list[tuple[Case, Participant]]:
    """The cases an actor takes part in, newest first. A member only ever has their own."""
    if actor.member is not None:
        case = await db.get(Case, actor.member.case_id)
        return [(case, actor.member)] if case is not None else []
    assert actor.user is not None
    rows = await db.execute(
        select(Case, Participant)
        .join(Participant, Participant.case_id == Case.id)
        .where(Participant.user_id == actor.user.id, Participant.revoked_at.is_(None))
        .order_by(Case.created_at.desc())
    )
    return [(case, participant) for case, participant in rows.all()]


def _birth_year(value: object, errors: dict[str, str]) -> int | None:
    raw = str(value or "").strip()
    if not raw:
        return None
    this_year = date.today().year
    if not raw.isdigit() or not (1900 <= int(raw) <= this_year + 1):
        # +1: a baby on the way ("-10 months") may already have a person in the plan.
        errors["birth_year"] = (
            f"Vul een geboortejaar in tussen 1900 en {this_year + 1}, of laat het leeg."
        )
        return None
    return int(raw)


@dataclass(frozen=True)
class PersonInput:
    name: str = ""
    kind: str = ""
    relation: str = ""
    birth_year: str = ""
    #: Also let this person take part (household/network member), ready for an invitation.
    participates: bool = True


async def add_person(db: AsyncSession, who: CaseAccess, data: PersonInput) -> Person:
    who.require(Action.ADD_PERSON)
    errors: dict[str, str] = {}
    name = clean_text(data.name)
    if not name:
        errors["name"] = N_("Vul een naam in (een voornaam is genoeg).")
    if data.kind not in (PersonKind.HOUSEHOLD, PersonKind.NETWORK):
        errors["kind"] = N_("Kies of deze persoon bij het gezin hoort of bij het netwerk.")
    relation = clean_text(data.relation)
    birth_year = _birth_year(data.birth_year, errors)
    if errors:
        raise ValidationError(errors)
    person = Person(
        case_id=who.case.id, name=name, kind=data.kind, relation=relation, birth_year=birth_year
    )
    db.add(person)
    await db.flush()
    audit.record(db, who, "person.create", object_type="person", object_id=person.id)
    if data.participates:
        await let_person_take_part(db, who, person)
    return person


async def let_person_take_part(db: AsyncSession, who: CaseAccess, person: Person) -> Participant:
    """A participant for a household or network member (their role follows from the kind).
    The caller has checked that ``who`` may add them."""
    role = CaseRole.HOUSEHOLD if person.kind == PersonKind.HOUSEHOLD else CaseRole.NETWORK
    participant = Participant(
        case_id=who.case.id,
        role=role,
        person_id=person.id,
        added_by_id=who.actor.user.id if who.actor.user else None,
    )
    db.add(participant)
    await db.flush()
    audit.record(db, who, "participant.create", object_type="participant", object_id=participant.id)
    return participant


@dataclass(frozen=True)
class ProfessionalInput:
    email: str = ""
    role: str = CaseRole.PROFESSIONAL
    case_function: str = ""


async def add_professional(
    db: AsyncSession, who: CaseAccess, data: ProfessionalInput
) -> Participant:
    """Let a professional (an existing user) take part, as coordinator, professional or observer."""
    who.require(Action.ADD_PARTICIPANT)
    errors: dict[str, str] = {}
    email = normalise_email(data.email)
    user = None
    if not email:
        errors["email"] = N_("Vul het e-mailadres in waarmee deze professional inlogt.")
    else:
        user = await db.scalar(select(User).where(User.email == email, User.active.is_(True)))
        if user is None or user.role != UserRole.PROFESSIONAL:
            errors["email"] = N_("Er is geen professional met dit e-mailadres in Kring.")
    if data.role not in (CaseRole.COORDINATOR, CaseRole.PROFESSIONAL, CaseRole.OBSERVER):
        errors["role"] = N_("Kies: regisseur, professional of meelezer.")
    if user is not None and "email" not in errors:
        existing = await db.scalar(
            select(Participant).where(
                Participant.case_id == who.case.id,
                Participant.user_id == user.id,
                Participant.revoked_at.is_(None),
            )
        )
        if existing is not None:
            errors["email"] = N_("Deze professional doet al mee.")
    if errors:
        raise ValidationError(errors)
    assert user is not None
    participant = Participant(
        case_id=who.case.id,
        role=data.role,
        user_id=user.id,
        case_function=clean_text(data.case_function) or user.job_title,
        added_by_id=who.actor.user.id if who.actor.user else None,
    )
    db.add(participant)
    await db.flush()
    audit.record(db, who, "participant.create", object_type="participant", object_id=participant.id)
    return participant


async def revoke_participant(
    db: AsyncSession, who: CaseAccess, participant_id: uuid.UUID
) -> frozenset[str]:
    """Stop someone taking part: their sessions and invitations end at once (their grant keys
    are returned). The last coordinator cannot be removed (a case always has its fixed face)."""
    who.require(Action.REVOKE_PARTICIPANT)
    participant = await db.get(Participant, participant_id)
    if participant is None or participant.case_id != who.case.id:
        raise NotFound("no such participant in this case")
    if participant.revoked_at is not None:
        return frozenset()
    if participant.role == CaseRole.COORDINATOR:
        others = await db.scalar(
            select(Participant.id).where(
                Participant.case_id == who.case.id,
                Participant.role == CaseRole.COORDINATOR,
                Participant.revoked_at.is_(None),
                Participant.id != participant.id,
            )
        )
        if others is None:
            raise ValidationError(
                {
                    "participant": "Een plan heeft altijd een regisseur. Voeg eerst een andere regisseur toe."
                }
            )
    participant.revoked_at = utcnow()
    ended = await end_sessions_of_participant(db, participant.id)
    audit.record(db, who, "participant.revoke", object_type="participant", object_id=participant.id)
    return ended


@dataclass(frozen=True)
class Overview:
    participants: list[Participant]
    persons: list[Person]
    #: Per participant id: its newest invitation, if any.
    invitations: dict[uuid.UUID, Invitation]
    organisations: dict[uuid.UUID, Organisation]


async def overview(db: AsyncSession, who: CaseAccess) -> Overview:
    """Everything "Wie is wie" shows. Audited by the caller as a read of the case."""
    who.require(Action.VIEW_CASE)
    participants = list(
        (
            await db.scalars(
                select(Participant)
                .where(Participant.case_id == who.case.id, Participant.revoked_at.is_(None))
                .order_by(Participant.added_at)
            )
        ).unique()
    )
    persons = list(
        await db.scalars(
            select(Person).where(Person.case_id == who.case.id).order_by(Person.created_at)
        )
    )
    invitations: dict[uuid.UUID, Invitation] = {}
    if who.can(Action.INVITE):
        for inv in (
            await db.scalars(
                select(Invitation)
                .join(Participant, Participant.id == Invitation.participant_id)
                .where(Participant.case_id == who.case.id)
                .order_by(Invitation.created_at)
            )
        ).unique():
            invitations[inv.participant_id] = inv
    org_ids = {p.user.organisation_id for p in participants if p.user and p.user.organisation_id}
    organisations = {
        o.id: o for o in await db.scalars(select(Organisation).where(Organisation.id.in_(org_ids)))
    }
    return Overview(participants, persons, invitations, organisations)
