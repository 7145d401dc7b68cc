"""Sign-in domain functions. They take a session, never see a Request, and never commit."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from workspace import audit
from workspace.access import Actor, CaseAccess
from workspace.auth import throttle
from workspace.config import Settings
from workspace.errors import NotFound, ValidationError
from workspace.i18n import N_
from workspace.models import (
    CaseRole,
    Invitation,
    LoginFailure,
    Participant,
    Session,
    User,
    utcnow,
)

_hasher = PasswordHasher()
# Verified against when the email is unknown, so a wrong email costs as much as a wrong password.
_DUMMY_HASH = _hasher.hash("not a real password")
MIN_PASSWORD_LENGTH = 10


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationError(
            {"password": f"Kies een wachtwoord van minstens {MIN_PASSWORD_LENGTH} tekens."}
        )
    return _hasher.hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    try:
        return _hasher.verify(stored or _DUMMY_HASH, password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def normalise_email(email: str) -> str:
    return email.strip().lower()


@dataclass(frozen=True)
class NewSession:
    token: str
    session: Session
    #: For a member's session: the one case it opens.
    case_id: uuid.UUID | None = None


@dataclass(frozen=True)
class Refused:
    """A sign-in that did not happen; the caller still commits (the failure is recorded)."""

    reason: str


async def _start_session(
    db: AsyncSession, *, expires_at: datetime, **who: uuid.UUID | None
) -> NewSession:
    token = secrets.token_urlsafe(32)
    row = Session(token_hash=token_hash(token), expires_at=expires_at, **who)
    db.add(row)
    await db.flush()
    return NewSession(token, row)


def email_key(email: str) -> str:
    """How throttling and known devices name an account: never the address itself."""
    return token_hash("email:" + normalise_email(email))


async def login(
    db: AsyncSession,
    settings: Settings,
    email: str,
    password: str,
    source: str,
    *,
    known_device: bool = False,
) -> NewSession | Refused:
    """Check a password sign-in, slowed down per email and per source address
    (``workspace.auth.throttle``; a browser that signed in to this account before is only
    slowed down by its own failures).

    Raises ValidationError for empty fields and Throttled when this attempt must wait. A wrong
    email or password returns Refused (one answer for both, so the form does not reveal which
    emails exist) after adding a failure row: the caller must commit it."""
    email = normalise_email(email)
    errors = {}
    if not email:
        errors["email"] = N_("Vul je e-mailadres in.")
    if not password:
        errors["password"] = N_("Vul je wachtwoord in.")
    if errors:
        raise ValidationError(errors)
    key = email_key(email)
    await throttle.check(
        db, settings, kind=throttle.LOGIN, source=source, email_hash=key, known_device=known_device
    )
    user = await db.scalar(select(User).where(User.email == email))
    ok = verify_password(user.password_hash if user else None, password)
    if user is None or not ok or not user.active:
        throttle.record(
            db, kind=throttle.LOGIN, source=source, email_hash=key, known_device=known_device
        )
        return Refused("credentials")
    await db.execute(
        delete(LoginFailure).where(
            LoginFailure.kind == throttle.LOGIN, LoginFailure.email_hash == key
        )
    )
    if _hasher.check_needs_rehash(user.password_hash or ""):
        user.password_hash = _hasher.hash(password)
    new = await _start_session(
        db, user_id=user.id, expires_at=utcnow() + timedelta(hours=settings.session_max_hours)
    )
    audit.record(db, Actor(new.session.id, user, None, source), "auth.login")
    return new


async def end_sessions(db: AsyncSession, *where: Any) -> frozenset[str]:
    """End every open session matching ``where``; returns their grant keys, for the caller to
    end that access everywhere after commit (``workspace.grants.end_access``)."""
    ended = await db.execute(
        update(Session)
        .where(Session.revoked_at.is_(None), *where)
        .values(revoked_at=utcnow())
        .returning(Session.id)
        .execution_options(synchronize_session=False)
    )
    return frozenset(f"session:{session_id}" for session_id in ended.scalars())


async def logout(db: AsyncSession, actor: Actor) -> frozenset[str]:
    audit.record(db, actor, "auth.logout")
    return await end_sessions(db, Session.id == actor.session_id) | {f"session:{actor.session_id}"}


async def actor_for_token(
    db: AsyncSession, settings: Settings, token: str, source: str, *, touch: bool = True
) -> Actor | None:
    """The actor behind a session cookie, or None if the session is unknown or has ended.

    A member's session ends with their participation or their invitation. ``touch=False``:
    never write (a read transaction); the caller then calls ``touch_session`` when
    ``needs_touch`` says so."""
    if not token:
        return None
    row = await db.scalar(select(Session).where(Session.token_hash == token_hash(token)))
    now = utcnow()
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        return None
    if row.user_id is not None:
        if now - row.last_seen_at > timedelta(minutes=settings.session_idle_minutes):
            return None
        user = await db.get(User, row.user_id)
        if user is None or not user.active:
            return None
        actor = Actor(row.id, user, None, source)
    else:
        if now - row.last_seen_at > timedelta(hours=settings.member_session_idle_hours):
            return None
        participant = await db.get(Participant, row.participant_id)
        if participant is None or participant.revoked_at is not None:
            return None
        if row.guest_id is not None:
            # Joined a meeting with its code: the session lives as long as that meeting.
            if not await _guest_meeting_open(db, row.guest_id):
                return None
        else:
            invitation = await db.get(Invitation, row.invitation_id) if row.invitation_id else None
            if invitation is None or invitation.revoked_at is not None:
                return None
        actor = Actor(row.id, None, participant, source)
    # Touch at most once a minute: a write per request would serialise every page on SQLite.
    if touch and needs_touch(row.last_seen_at):
        row.last_seen_at = now
    return replace(actor, last_seen_at=row.last_seen_at)


def needs_touch(last_seen_at: datetime) -> bool:
    return utcnow() - last_seen_at > timedelta(minutes=1)


async def touch_session(db: AsyncSession, session_id: uuid.UUID) -> None:
    await db.execute(
        update(Session).where(Session.id == session_id).values(last_seen_at=utcnow())
    )


async def _guest_meeting_open(db: AsyncSession, guest_id: uuid.UUID) -> bool:
    from workspace.meetings.models import Guest, GuestState, Meeting, MeetingState

    guest = await db.get(Guest, guest_id)
    if guest is None or guest.state != GuestState.ADMITTED:
        return False
    meeting = await db.get(Meeting, guest.meeting_id)
    return meeting is not None and meeting.state == MeetingState.OPEN


# -- invitations --------------------------------------------------------------------------


@dataclass(frozen=True)
class NewInvitation:
    token: str
    invitation: Invitation


async def create_invitation(
    db: AsyncSession, settings: Settings, who: CaseAccess, participant_id: uuid.UUID
) -> NewInvitation:
    """A fresh personal link for a household or network member; earlier open links of that
    member are revoked, so only the newest one works."""
    from workspace.access import Action

    who.require(Action.INVITE)
    participant = await db.get(Participant, participant_id)
    if (
        participant is None
        or participant.case_id != who.case.id
        or participant.revoked_at is not None
    ):
        raise NotFound("no such participant in this case")
    if participant.person_id is None or participant.role not in (
        CaseRole.HOUSEHOLD,
        CaseRole.NETWORK,
        CaseRole.OBSERVER,
    ):
        raise ValidationError(
            {
                "participant": N_(
                    "Alleen gezinsleden en belangrijke anderen krijgen een uitnodiging."
                )
            }
        )
    now = utcnow()
    await db.execute(
        update(Invitation)
        .where(
            Invitation.participant_id == participant.id,
            Invitation.claimed_at.is_(None),
            Invitation.revoked_at.is_(None),
        )
        .values(revoked_at=now)
    )
    token = secrets.token_urlsafe(24)
    invitation = Invitation(
        participant_id=participant.id,
        token_hash=token_hash(token),
        created_by_id=who.actor.user.id if who.actor.user else None,
        expires_at=now + timedelta(days=settings.invitation_days),
    )
    db.add(invitation)
    await db.flush()
    audit.record(db, who, "invitation.create", object_type="invitation", object_id=invitation.id)
    return NewInvitation(token, invitation)


async def revoke_invitation(
    db: AsyncSession, who: CaseAccess, invitation_id: uuid.UUID
) -> frozenset[str]:
    """Revoke a link; if it was claimed, the member's sessions through it end with it (their
    grant keys are returned)."""
    from workspace.access import Action

    who.require(Action.REVOKE_INVITATION)
    invitation = await db.get(Invitation, invitation_id)
    if invitation is None or invitation.participant.case_id != who.case.id:
        raise NotFound("no such invitation in this case")
    if invitation.revoked_at is None:
        invitation.revoked_at = utcnow()
    ended = await end_sessions(db, Session.invitation_id == invitation.id)
    audit.record(db, who, "invitation.revoke", object_type="invitation", object_id=invitation.id)
    return ended


async def claim_invitation(
    db: AsyncSession, settings: Settings, token: str, device_secret: str, source: str
) -> NewSession | Refused:
    """Sign a member in through their link.

    The first use binds the link to this device (``device_secret`` lives in a cookie there);
    afterwards only that device can use it again, so a forwarded link is worthless. A refusal
    (unknown, expired, revoked, claimed elsewhere) is audited and returned: commit it."""
    invitation = await db.scalar(
        select(Invitation)
        .where(Invitation.token_hash == token_hash(token))
        .with_for_update(of=Invitation)
    )
    now = utcnow()
    if invitation is None:
        return Refused("unknown")
    participant = invitation.participant
    reason = ""
    if invitation.revoked_at is not None or participant.revoked_at is not None:
        reason = "revoked"
    elif invitation.expires_at <= now:
        reason = "expired"
    elif invitation.claimed_at is not None and invitation.device_hash != token_hash(device_secret):
        reason = "claimed"
    if reason:
        audit.record(
            db,
            None,
            "invitation.refused",
            case_id=participant.case_id,
            object_type="invitation",
            object_id=invitation.id,
            outcome=reason,
            source=source,
        )
        return Refused(reason)
    if invitation.claimed_at is None:
        invitation.claimed_at = now
        invitation.device_hash = token_hash(device_secret)
    new = await _start_session(
        db,
        participant_id=participant.id,
        invitation_id=invitation.id,
        expires_at=now + timedelta(days=settings.member_session_days),
    )
    actor = Actor(new.session.id, None, participant, source)
    audit.record(
        db,
        actor,
        "invitation.claim",
        case_id=participant.case_id,
        object_type="invitation",
        object_id=invitation.id,
    )
    return NewSession(new.token, new.session, participant.case_id)


async def end_sessions_of_participant(
    db: AsyncSession, participant_id: uuid.UUID
) -> frozenset[str]:
    """Their invitations and sessions end; returns the grant keys of what ended."""
    await db.execute(
        update(Invitation)
        .where(Invitation.participant_id == participant_id, Invitation.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    ended = await end_sessions(db, Session.participant_id == participant_id)
    return ended | {f"participant:{participant_id}"}
