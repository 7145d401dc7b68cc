"""Meeting domain functions: plan, open, lead, admit guests, close. They take a session and a
CaseAccess (or, for guests, only what the guest's browser holds), check access, validate,
mutate and audit; they never commit. The view owns the transaction and publishes
``MeetingChanged`` after commit."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from workspace import audit
from workspace.access import Action, Actor, CaseAccess
from workspace.auth import throttle
from workspace.auth.actions import end_sessions
from workspace.cases.actions import let_person_take_part
from workspace.config import Settings
from workspace.errors import Conflict, NotFound, ValidationError
from workspace.i18n import N_, Label
from workspace.meetings.models import (
    AgendaItem,
    AgendaKind,
    Attendance,
    Guest,
    GuestState,
    Invitee,
    Meeting,
    MeetingState,
)
from workspace.models import (
    CaseRole,
    Participant,
    Person,
    Session,
    utcnow,
)
from workspace.plan import catalogue
from workspace.plan.actions import Form, ensure_sections, section_label
from workspace.plan.models import (
    Agreement,
    AgreementStatus,
    Decision,
    DecisionState,
    Evaluation,
    Section,
)

R = TypeVar("R", bound=Section | Decision | Evaluation)

LOCAL = ZoneInfo("Europe/Amsterdam")
#: Unambiguous on a projector: no 0/O, 1/I/L.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 6
#: A guest's session never outlives this, even if the chair forgets to close the meeting.
GUEST_SESSION_HOURS = 8
DEFAULT_REACTION_DAYS = 5

STATE_LABELS = {"planned": N_("Gepland"), "open": N_("Nu bezig"), "closed": N_("Afgelopen")}


@dataclass(frozen=True)
class MeetingChanged:
    """Published after commit. ``what`` names what changed ("meeting-focus",
    "meeting-presence", "meeting-lobby", "meeting-state", "meeting-agenda"); screens re-fetch
    it with their own permissions."""

    case_id: uuid.UUID
    what: str
    meeting_id: uuid.UUID | None = None


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def local_now() -> datetime:
    return utcnow().astimezone(LOCAL)


def add_working_days(start: date, days: int) -> date:
    """``days`` working days (Monday to Friday) after ``start``."""
    current = start
    while days > 0:
        current += timedelta(days=1)
        if current.weekday() < 5:
            days -= 1
    return current


def end_of_day(day: date) -> datetime:
    return datetime.combine(day, time(23, 59), tzinfo=LOCAL).astimezone(UTC)


# -- reading --------------------------------------------------------------------------------


def may_chair(who: CaseAccess, meeting: Meeting) -> bool:
    """The coordinator, or the professional chosen to chair this meeting."""
    return who.can(Action.CHAIR_MEETING) or (
        meeting.chair_id == who.participant.id
        and who.role in (CaseRole.COORDINATOR, CaseRole.PROFESSIONAL)
    )


def require_chair(who: CaseAccess, meeting: Meeting) -> None:
    if not may_chair(who, meeting):
        raise NotFound(f"{who.role} does not chair this meeting")


async def get_meeting(db: AsyncSession, who: CaseAccess, meeting_id: uuid.UUID) -> Meeting:
    who.require(Action.VIEW_MEETING)
    meeting = await db.get(Meeting, meeting_id)
    if meeting is None or meeting.case_id != who.case.id:
        raise NotFound("no such meeting in this case")
    return meeting


async def meetings_of(db: AsyncSession, who: CaseAccess) -> list[Meeting]:
    if not who.can(Action.VIEW_MEETING):
        return []
    return list(
        await db.scalars(
            select(Meeting).where(Meeting.case_id == who.case.id).order_by(Meeting.starts_at)
        )
    )


async def open_meeting_of(db: AsyncSession, case_id: uuid.UUID) -> Meeting | None:
    return await db.scalar(
        select(Meeting)
        .where(Meeting.case_id == case_id, Meeting.state == MeetingState.OPEN)
        .order_by(Meeting.opened_at.desc())
        .limit(1)
    )


async def agenda(db: AsyncSession, meeting_id: uuid.UUID) -> list[AgendaItem]:
    return list(
        await db.scalars(
            select(AgendaItem)
            .where(AgendaItem.meeting_id == meeting_id)
            .order_by(AgendaItem.position, AgendaItem.id)
        )
    )


async def invitees(db: AsyncSession, meeting_id: uuid.UUID) -> list[Participant]:
    return list(
        await db.scalars(
            select(Participant)
            .join(Invitee, Invitee.participant_id == Participant.id)
            .where(Invitee.meeting_id == meeting_id)
            .order_by(Participant.added_at)
        )
    )


async def attendance(db: AsyncSession, meeting_id: uuid.UUID) -> list[Attendance]:
    return list(
        await db.scalars(
            select(Attendance)
            .where(Attendance.meeting_id == meeting_id)
            .order_by(Attendance.first_seen_at)
        )
    )


async def waiting_guests(db: AsyncSession, meeting_id: uuid.UUID) -> list[Guest]:
    return list(
        await db.scalars(
            select(Guest)
            .where(Guest.meeting_id == meeting_id, Guest.state == GuestState.WAITING)
            .order_by(Guest.created_at)
        )
    )


# -- planning -------------------------------------------------------------------------------

MEETING_FIELDS = ("title", "starts_at", "place", "chair_id", "scribe_id")


def parse_local_datetime(form: Form, name: str) -> datetime | None:
    """A ``datetime-local`` field ("2026-12-03T14:00"), meant in Dutch time."""
    raw = str(form.values.get(name) or "").strip()
    if not raw:
        form.errors[name] = N_("Vul een datum en tijd in, bijvoorbeeld 2026-12-03 14:00.")
        return None
    try:
        value = datetime.fromisoformat(raw.replace(" ", "T"))
    except ValueError:
        form.errors[name] = N_("Dit is geen datum en tijd. Schrijf bijvoorbeeld 2026-12-03 14:00.")
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=LOCAL)
    if value.year < 2000 or value.year > 2200:
        form.errors[name] = N_("Dit is geen datum en tijd. Schrijf bijvoorbeeld 2026-12-03 14:00.")
        return None
    return value.astimezone(UTC)


async def _case_participant(
    db: AsyncSession, who: CaseAccess, raw: str, *, roles: Sequence[str] | None = None
) -> Participant | None:
    try:
        participant_id = uuid.UUID(raw)
    except ValueError:
        return None
    participant = await db.get(Participant, participant_id)
    if (
        participant is None
        or participant.case_id != who.case.id
        or participant.revoked_at is not None
        or (roles is not None and participant.role not in roles)
    ):
        return None
    return participant


async def active_participants(db: AsyncSession, case_id: uuid.UUID) -> list[Participant]:
    return list(
        await db.scalars(
            select(Participant)
            .where(Participant.case_id == case_id, Participant.revoked_at.is_(None))
            .order_by(Participant.added_at)
        )
    )


async def plan_meeting(
    db: AsyncSession, who: CaseAccess, values: Mapping[str, str], invited: Sequence[str]
) -> Meeting:
    """A planned meeting with its default agenda: the current phase's sections, the open
    agreements, evaluations that are due and decisions still open."""
    who.require(Action.PLAN_MEETING)
    form = Form(values)
    title = form.line("title", required=N_("Geef het overleg een naam."))
    starts_at = parse_local_datetime(form, "starts_at")
    place = form.line("place", limit=300)
    chair = await _case_participant(
        db,
        who,
        str(values.get("chair_id") or ""),
        roles=(CaseRole.COORDINATOR, CaseRole.PROFESSIONAL),
    )
    if chair is None:
        form.errors["chair_id"] = N_(
            "Kies wie het overleg leidt: de regisseur of een professional."
        )
    scribe = None
    if values.get("scribe_id"):
        scribe = await _case_participant(db, who, str(values.get("scribe_id")))
        if scribe is None:
            form.errors["scribe_id"] = N_("Kies iemand die meedoet aan dit plan.")
    everyone = {str(p.id): p for p in await active_participants(db, who.case.id)}
    chosen = [everyone[i] for i in dict.fromkeys(invited) if i in everyone]
    if invited and not chosen:
        form.errors["invited"] = N_("Kies wie je uitnodigt.")
    form.check()
    assert starts_at is not None and chair is not None
    meeting = Meeting(
        case_id=who.case.id,
        title=title,
        starts_at=starts_at,
        place=place,
        chair_id=chair.id,
        scribe_id=scribe.id if scribe else None,
        created_by_id=who.participant.id,
    )
    db.add(meeting)
    await db.flush()
    for participant in chosen or everyone.values():
        db.add(Invitee(meeting_id=meeting.id, participant_id=participant.id))
    for position, item in enumerate(await default_agenda(db, who, starts_at)):
        item.meeting_id = meeting.id
        item.position = position
        db.add(item)
    await db.flush()
    audit.record(db, who, "meeting.create", object_type="meeting", object_id=meeting.id)
    return meeting


async def default_agenda(db: AsyncSession, who: CaseAccess, when: datetime) -> list[AgendaItem]:
    phase = who.case.phase
    await ensure_sections(db, who.case.id)
    items = [AgendaItem(kind=AgendaKind.SCORES, ref="")]
    sections = list(
        await db.scalars(
            select(Section)
            .where(Section.case_id == who.case.id, Section.phase == phase)
            .order_by(Section.position, Section.created_at)
        )
    )
    grouped: set[str] = set()
    for section in sections:
        kind = catalogue.SECTIONS_BY_KEY.get(section.key)
        if kind is not None and kind.per_person:
            # One point for all of them ("Zo ziet ieder het"), not one per person.
            if section.key not in grouped:
                grouped.add(section.key)
                items.append(AgendaItem(kind=AgendaKind.SECTION, ref=f"kind:{section.key}"))
            continue
        items.append(AgendaItem(kind=AgendaKind.SECTION, ref=str(section.id)))
    items.append(AgendaItem(kind=AgendaKind.AGREEMENTS, ref=f"phase:{phase}"))
    due = await db.scalars(
        select(Evaluation).where(
            Evaluation.case_id == who.case.id,
            Evaluation.next_on.is_not(None),
            Evaluation.next_on <= when.astimezone(LOCAL).date(),
        )
    )
    for evaluation in due:
        items.append(AgendaItem(kind=AgendaKind.EVALUATION, ref=str(evaluation.id)))
    open_decisions = await db.scalars(
        select(Decision)
        .where(
            Decision.case_id == who.case.id,
            Decision.state.in_((DecisionState.DRAFT, DecisionState.DISSENT)),
        )
        .order_by(Decision.created_at)
    )
    for decision in open_decisions:
        items.append(AgendaItem(kind=AgendaKind.DECISION, ref=str(decision.id)))
    return items


def _check_version(meeting: Meeting, seen: str) -> None:
    if str(meeting.version) != str(seen).strip():
        raise Conflict(f"stale meeting screen: version {seen!r}, now {meeting.version}")


def _bump(meeting: Meeting) -> None:
    """A change the chair's forms depend on (state, focus, agenda): their version goes stale.
    Who is present and who waits in the lobby are not: those forms act on one person."""
    meeting.version += 1


async def add_agenda_item(
    db: AsyncSession, who: CaseAccess, meeting_id: uuid.UUID, values: Mapping[str, str]
) -> AgendaItem:
    meeting = await get_meeting(db, who, meeting_id)
    require_chair(who, meeting)
    form = Form(values)
    title = form.line("title", required=N_("Schrijf op waar dit punt over gaat."), limit=300)
    if meeting.state == MeetingState.CLOSED:
        form.errors["title"] = N_("Dit overleg is al gesloten.")
    form.check()
    last = await db.scalar(
        select(func.max(AgendaItem.position)).where(AgendaItem.meeting_id == meeting.id)
    )
    item = AgendaItem(
        meeting_id=meeting.id, kind=AgendaKind.FREE, title=title, position=(last or 0) + 1
    )
    db.add(item)
    _bump(meeting)
    await db.flush()
    audit.record(db, who, "meeting.agenda", object_type="meeting", object_id=meeting.id)
    return item


async def remove_agenda_item(
    db: AsyncSession, who: CaseAccess, meeting_id: uuid.UUID, item_id: uuid.UUID, seen: str
) -> Meeting:
    meeting = await get_meeting(db, who, meeting_id)
    require_chair(who, meeting)
    _check_version(meeting, seen)
    if meeting.state == MeetingState.CLOSED:
        raise Conflict("meeting is closed")
    item = await db.get(AgendaItem, item_id)
    if item is None or item.meeting_id != meeting.id:
        raise NotFound("no such agenda item")
    await db.delete(item)
    if meeting.focus == str(item_id):
        meeting.focus = ""
    _bump(meeting)
    audit.record(db, who, "meeting.agenda", object_type="meeting", object_id=meeting.id)
    return meeting


# -- leading the meeting --------------------------------------------------------------------


async def _new_code(db: AsyncSession) -> str:
    for _ in range(20):
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        taken = await db.scalar(select(func.count()).where(Meeting.code == code))
        if not taken:
            return code
    raise RuntimeError("no free meeting code found")  # 31^6 codes: not in this universe


async def open_meeting(
    db: AsyncSession, who: CaseAccess, meeting_id: uuid.UUID, seen: str
) -> Meeting:
    """Planned -> open: the meeting gets its join code. One open meeting per case."""
    meeting = await get_meeting(db, who, meeting_id)
    require_chair(who, meeting)
    _check_version(meeting, seen)
    if meeting.state != MeetingState.PLANNED:
        raise Conflict(f"meeting is {meeting.state}, not planned")
    other = await open_meeting_of(db, who.case.id)
    if other is not None:
        raise ValidationError({"state": N_("Er is al een ander overleg open. Sluit dat eerst.")})
    meeting.state = MeetingState.OPEN
    meeting.opened_at = utcnow()
    meeting.code = await _new_code(db)
    first = await agenda(db, meeting.id)
    meeting.focus = str(first[0].id) if first else ""
    _bump(meeting)
    audit.record(db, who, "meeting.open", object_type="meeting", object_id=meeting.id)
    return meeting


FOCUS_TARGETS: dict[str, tuple[AgendaKind, type[Section | Decision | Evaluation]]] = {
    "section": (AgendaKind.SECTION, Section),
    "decision": (AgendaKind.DECISION, Decision),
    "evaluation": (AgendaKind.EVALUATION, Evaluation),
}


async def set_focus(
    db: AsyncSession,
    who: CaseAccess,
    meeting_id: uuid.UUID,
    item_id: str,
    seen: str,
    *,
    target: str = "",
) -> Meeting:
    """Put an agenda item on the shared screen (and on the screens that follow the chair).

    ``target`` ("section:<id>", "decision:<id>", "evaluation:<id>") moves to a part of the plan
    that is not on the agenda yet: it is added as a point at the end, then shown."""
    meeting = await get_meeting(db, who, meeting_id)
    require_chair(who, meeting)
    _check_version(meeting, seen)
    if meeting.state != MeetingState.OPEN:
        raise Conflict(f"meeting is {meeting.state}")
    item: AgendaItem | None
    if target:
        item = await _agenda_item_for(db, who, meeting, target)
    else:
        try:
            item = await db.get(AgendaItem, uuid.UUID(item_id))
        except ValueError:
            item = None
    if item is None or item.meeting_id != meeting.id:
        raise NotFound("no such agenda item")
    meeting.focus = str(item.id)
    _bump(meeting)
    audit.record(db, who, "meeting.focus", object_type="meeting", object_id=meeting.id)
    return meeting


async def _agenda_item_for(
    db: AsyncSession, who: CaseAccess, meeting: Meeting, target: str
) -> AgendaItem | None:
    from workspace.plan.visibility import can_see

    kind_name, _, raw = target.partition(":")
    if kind_name not in FOCUS_TARGETS:
        return None
    kind, model = FOCUS_TARGETS[kind_name]
    row: Section | Decision | Evaluation | None = await _row(db, model, raw, who.case.id)
    if row is None or not can_see(who, row):
        return None
    items = await agenda(db, meeting.id)
    for item in items:
        if item.kind == kind and item.ref == str(row.id):
            return item
    item = AgendaItem(
        meeting_id=meeting.id,
        kind=kind,
        ref=str(row.id),
        position=max((i.position for i in items), default=0) + 1,
    )
    db.add(item)
    await db.flush()
    return item


@dataclass(frozen=True)
class Closed:
    meeting: Meeting
    #: The grant keys of the guest sessions that ended: their connections must close too.
    ended: frozenset[str]
    #: Working days in which participants may react to the draft minutes.
    reaction_days: int


async def close_meeting(
    db: AsyncSession, who: CaseAccess, meeting_id: uuid.UUID, values: Mapping[str, str]
) -> Closed:
    """Open -> closed: the code stops working, guests' sessions end, nobody stays "present".
    The caller then captures the texts and makes the minutes (``workspace.meetings.minutes``)."""
    meeting = await get_meeting(db, who, meeting_id)
    require_chair(who, meeting)
    _check_version(meeting, str(values.get("version") or ""))
    if meeting.state != MeetingState.OPEN:
        raise Conflict(f"meeting is {meeting.state}, not open")
    form = Form(values)
    raw_days = str(values.get("reaction_days") or DEFAULT_REACTION_DAYS).strip()
    if not raw_days.isdigit() or not 1 <= int(raw_days) <= 30:
        form.errors["reaction_days"] = N_("Kies 1 tot en met 30 werkdagen.")
    form.check()
    now = utcnow()
    meeting.state = MeetingState.CLOSED
    meeting.closed_at = now
    meeting.code = None
    meeting.focus = ""
    _bump(meeting)
    guests = list(
        await db.scalars(
            select(Guest).where(Guest.meeting_id == meeting.id, Guest.state != GuestState.ENDED)
        )
    )
    for guest in guests:
        guest.state = GuestState.ENDED
    ended = (
        await end_sessions(db, Session.guest_id.in_([g.id for g in guests]))
        if guests
        else frozenset()
    )
    await db.execute(
        update(Attendance)
        .where(Attendance.meeting_id == meeting.id, Attendance.last_seen_at.is_(None))
        .values(last_seen_at=now)
    )
    audit.record(db, who, "meeting.close", object_type="meeting", object_id=meeting.id)
    return Closed(meeting, ended, int(raw_days))


async def set_attendance(
    db: AsyncSession,
    who: CaseAccess,
    meeting_id: uuid.UUID,
    participant_id: str,
    present: bool,
) -> Attendance:
    """The chair corrects who was there (someone in the room without a screen, say)."""
    meeting = await get_meeting(db, who, meeting_id)
    require_chair(who, meeting)
    if meeting.state == MeetingState.PLANNED:
        raise Conflict("meeting has not started")
    participant = await _case_participant(db, who, participant_id)
    if participant is None:
        raise NotFound("no such participant")
    row = await db.scalar(
        select(Attendance).where(
            Attendance.meeting_id == meeting.id, Attendance.participant_id == participant.id
        )
    )
    now = utcnow()
    if row is None:
        row = Attendance(
            meeting_id=meeting.id,
            participant_id=participant.id,
            first_seen_at=now if present else None,
        )
        db.add(row)
    row.present = present
    row.source = "chair"
    await db.flush()
    audit.record(
        db,
        who,
        "meeting.attendance",
        object_type="meeting",
        object_id=meeting.id,
        on_behalf_of=participant.id,
    )
    return row


async def mark_seen(
    db: AsyncSession, meeting_id: uuid.UUID, participant_id: uuid.UUID, *, arrived: bool
) -> bool:
    """Live presence: this participant's first meeting screen opened, or their last one
    closed. Returns whether the attendance list changed (someone new, or back after the chair
    marked them absent). Leaving never marks anyone absent: they were there."""
    meeting = await db.get(Meeting, meeting_id)
    if meeting is None or meeting.state != MeetingState.OPEN:
        return False
    row = await db.scalar(
        select(Attendance).where(
            Attendance.meeting_id == meeting_id, Attendance.participant_id == participant_id
        )
    )
    now = utcnow()
    if row is None:
        if not arrived:
            return False
        db.add(
            Attendance(
                meeting_id=meeting_id,
                participant_id=participant_id,
                present=True,
                source="live",
                first_seen_at=now,
            )
        )
        return True
    if arrived:
        row.last_seen_at = None
        if row.source == "live" and not row.present:
            row.present = True
            return True
        if row.first_seen_at is None:
            row.first_seen_at = now
        return False
    row.last_seen_at = now
    return False


# -- guests: joining with the meeting's code ------------------------------------------------

GUEST_NAME_LIMIT = 60


@dataclass(frozen=True)
class Joined:
    guest: Guest
    #: The secret for the guest's lobby cookie; only its hash is stored.
    token: str


async def join_with_code(
    db: AsyncSession, settings: Settings, values: Mapping[str, str], source: str
) -> Joined:
    """A phone enters the code on the shared screen and a name: it waits in the lobby until the
    chair admits it. Wrong codes count towards the sign-in throttle of that address."""
    form = Form(values)
    code = "".join(ch for ch in str(values.get("code") or "").upper() if ch.isalnum())
    name = form.line("name", required=N_("Vul je naam in, zodat de voorzitter je herkent."))
    if len(name) > GUEST_NAME_LIMIT:
        form.errors["name"] = N_("Dit is te lang. Maak het korter.")
    if not code:
        form.errors["code"] = N_("Vul de code in die op het scherm staat.")
    # Wrong codes are counted apart from sign-ins: guessing codes never locks anyone out of
    # signing in, and the reverse.
    await throttle.check(db, settings, kind=throttle.JOIN, source=source)
    meeting = None
    if code:
        meeting = await db.scalar(
            select(Meeting).where(Meeting.code == code, Meeting.state == MeetingState.OPEN)
        )
        if meeting is None:
            throttle.record(
                db, kind=throttle.JOIN, source=source, email_hash=token_hash("meeting-code")
            )
            form.errors["code"] = N_(
                "Deze code werkt niet (meer). Kijk of je hem goed hebt overgenomen van het "
                "scherm. Is het overleg al voorbij? Gebruik dan je persoonlijke link, of vraag "
                "de regisseur om een nieuwe."
            )
    if form.errors:
        raise CodeRefused(form.errors)
    assert meeting is not None
    token = secrets.token_urlsafe(32)
    guest = Guest(meeting_id=meeting.id, name=name, token_hash=token_hash(token))
    db.add(guest)
    await db.flush()
    audit.record(
        db,
        None,
        "meeting.guest.join",
        case_id=meeting.case_id,
        object_type="guest",
        object_id=guest.id,
        source=source,
    )
    return Joined(guest, token)


class CodeRefused(ValidationError):
    """A refused code: the failure row must still be committed (it feeds the throttle)."""


async def guest_for_token(db: AsyncSession, token: str) -> Guest | None:
    if not token:
        return None
    return await db.scalar(select(Guest).where(Guest.token_hash == token_hash(token)))


async def admit_guest(
    db: AsyncSession,
    who: CaseAccess,
    meeting_id: uuid.UUID,
    guest_id: uuid.UUID,
    person_id: str,
) -> Guest:
    """Let a waiting guest in as one of the case's household or network members. They act as
    that person's participant (a new one if the person had none), so their role and the plan's
    audiences decide what they see - never more."""
    meeting = await get_meeting(db, who, meeting_id)
    require_chair(who, meeting)
    guest = await db.get(Guest, guest_id)
    if guest is None or guest.meeting_id != meeting.id:
        raise NotFound("no such guest")
    if meeting.state != MeetingState.OPEN or guest.state != GuestState.WAITING:
        raise Conflict(f"guest is {guest.state}; meeting is {meeting.state}")
    try:
        person = await db.get(Person, uuid.UUID(person_id))
    except ValueError:
        person = None
    if person is None or person.case_id != who.case.id:
        raise ValidationError({f"person-{guest.id}": N_("Kies wie deze persoon is.")})
    participant = await db.scalar(select(Participant).where(Participant.person_id == person.id))
    if participant is not None and participant.revoked_at is not None:
        raise ValidationError(
            {
                f"person-{guest.id}": N_(
                    "Deze persoon doet niet meer mee aan het plan. Laat diegene eerst weer "
                    "meedoen op de overzichtspagina."
                )
            }
        )
    if participant is None:
        participant = await let_person_take_part(db, who, person)
    guest.state = GuestState.ADMITTED
    guest.participant_id = participant.id
    guest.decided_at = utcnow()
    audit.record(
        db,
        who,
        "meeting.guest.admit",
        object_type="guest",
        object_id=guest.id,
        on_behalf_of=participant.id,
    )
    return guest


async def refuse_guest(
    db: AsyncSession, who: CaseAccess, meeting_id: uuid.UUID, guest_id: uuid.UUID
) -> Guest:
    meeting = await get_meeting(db, who, meeting_id)
    require_chair(who, meeting)
    guest = await db.get(Guest, guest_id)
    if guest is None or guest.meeting_id != meeting.id:
        raise NotFound("no such guest")
    if guest.state != GuestState.WAITING:
        raise Conflict(f"guest is {guest.state}")
    guest.state = GuestState.REFUSED
    guest.decided_at = utcnow()
    audit.record(db, who, "meeting.guest.refuse", object_type="guest", object_id=guest.id)
    return guest


@dataclass(frozen=True)
class GuestSession:
    token: str
    case_id: uuid.UUID
    meeting_id: uuid.UUID


async def start_guest_session(db: AsyncSession, guest: Guest, source: str) -> GuestSession:
    """An admitted guest's browser takes its session, once. It ends when the meeting closes."""
    meeting = await db.get(Meeting, guest.meeting_id)
    if (
        meeting is None
        or meeting.state != MeetingState.OPEN
        or guest.state != GuestState.ADMITTED
        or guest.participant_id is None
        or guest.session_started_at is not None
    ):
        raise NotFound("guest may not start a session")
    token = secrets.token_urlsafe(32)
    now = utcnow()
    session = Session(
        token_hash=token_hash(token),
        participant_id=guest.participant_id,
        guest_id=guest.id,
        expires_at=now + timedelta(hours=GUEST_SESSION_HOURS),
    )
    db.add(session)
    guest.session_started_at = now
    await db.flush()
    participant = await db.get(Participant, guest.participant_id)
    assert participant is not None
    audit.record(
        db,
        Actor(session.id, None, participant, source),
        "meeting.guest.session",
        case_id=meeting.case_id,
        object_type="meeting",
        object_id=meeting.id,
    )
    return GuestSession(token, meeting.case_id, meeting.id)


# -- records made in a meeting --------------------------------------------------------------


async def meeting_for_record(
    db: AsyncSession, who: CaseAccess, raw: str | None
) -> uuid.UUID | None:
    """The meeting a plan form was sent from, if it is this case's open meeting; records made
    there are linked to it (and end up in its minutes). Anything else links nothing."""
    if not raw:
        return None
    try:
        meeting_id = uuid.UUID(str(raw))
    except ValueError:
        return None
    meeting = await db.get(Meeting, meeting_id)
    if meeting is None or meeting.case_id != who.case.id or meeting.state != MeetingState.OPEN:
        return None
    return meeting.id


# -- agenda items as readers see them -------------------------------------------------------


@dataclass(frozen=True)
class AgendaView:
    item: AgendaItem
    #: What the agenda calls it, in the reader's language (a free point: as typed)
    title: Label
    #: Where on the meeting page it lives (an element id), for following the chair.
    anchor: str
    #: May everyone in the case see what this item shows? (The shared screen shows only that.)
    for_everyone: bool


async def agenda_views(
    db: AsyncSession, who: CaseAccess, items: Sequence[AgendaItem]
) -> list[AgendaView]:
    """The agenda as ``who`` may see it: an item about a section, decision or evaluation
    outside their audience is left out, title and all."""
    from workspace.plan.visibility import can_see

    out: list[AgendaView] = []
    for item in items:
        title = Label.user(item.title)
        anchor = f"agenda-{item.id}"
        everyone = True
        if item.kind == AgendaKind.SECTION:
            if item.ref.startswith("kind:"):
                kind = catalogue.SECTIONS_BY_KEY.get(item.ref.removeprefix("kind:"))
                title = Label(kind.title) if kind else Label.user(item.ref)
                anchor = f"phase-{kind.phase if kind else who.case.phase}"
            else:
                section = await _row(db, Section, item.ref, who.case.id)
                if section is None or not can_see(who, section):
                    continue
                title = section_label(section)
                anchor = f"section-{section.id}"
                everyone = section.audience == "all"
        elif item.kind == AgendaKind.AGREEMENTS:
            phase = item.ref.removeprefix("phase:")
            title = Label(N_("Veiligheidsafspraken: hoe gaat het?"))
            anchor = f"agreements-{phase}" if phase in ("1", "2", "3") else "agreements"
        elif item.kind == AgendaKind.SCORES:
            title = Label(N_("Hoe gaat het? Schaalvragen"))
            anchor = "scores"
        elif item.kind == AgendaKind.EVALUATION:
            evaluation = await _row(db, Evaluation, item.ref, who.case.id)
            if evaluation is None or not can_see(who, evaluation):
                continue
            title = Label(N_("Evaluatie: %(plan)s"), {"plan": evaluation.plan[:80]})
            anchor = f"evaluation-{evaluation.id}"
            everyone = evaluation.audience == "all"
        elif item.kind == AgendaKind.DECISION:
            decision = await _row(db, Decision, item.ref, who.case.id)
            if decision is None or not can_see(who, decision):
                continue
            title = Label(N_("Besluit: %(question)s"), {"question": decision.question[:100]})
            anchor = f"decision-{decision.id}"
            everyone = decision.audience == "all"
        out.append(AgendaView(item, title, anchor, everyone))
    return out


async def _row(db: AsyncSession, model: type[R], raw: str, case_id: uuid.UUID) -> R | None:
    """The row of ``model`` with id ``raw`` in this case, or None."""
    try:
        row = await db.get(model, uuid.UUID(raw))
    except ValueError:
        return None
    if row is None or getattr(row, "case_id", None) != case_id:
        return None
    return row


async def open_agreements(db: AsyncSession, case_id: uuid.UUID, phase: int) -> list[Agreement]:
    return list(
        await db.scalars(
            select(Agreement)
            .where(
                Agreement.case_id == case_id,
                Agreement.phase == phase,
                Agreement.status != AgreementStatus.ENDED,
            )
            .order_by(Agreement.created_at)
        )
    )
