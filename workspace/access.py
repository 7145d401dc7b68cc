"""Who may do what. One table decides; every view and the realtime authorizer ask it.

The same table explains itself to families on the "Wie is wie" page, so what the page says a
role may do is exactly what the server allows.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from workspace.errors import Forbidden, NotFound, NotSignedIn
from workspace.i18n import N_
from workspace.models import Case, CaseRole, Participant, User, UserRole


class Action(StrEnum):
    VIEW_CASE = "case.view"
    ADD_PERSON = "person.add"
    ADD_PARTICIPANT = "participant.add"
    REVOKE_PARTICIPANT = "participant.revoke"
    INVITE = "invitation.create"
    REVOKE_INVITATION = "invitation.revoke"
    VIEW_AUDIT = "audit.view"
    EDIT_NOTES = "notes.edit"
    VIEW_PLAN = "plan.view"
    VIEW_AGREEMENTS = "agreement.view"
    ADD_RECORD = "record.create"
    SCORE_FOR_OTHERS = "score.others"
    PROPOSE_DECISION = "decision.create"
    DISSENT = "dissent.create"
    ANSWER_DISSENT = "answer.create"
    RESPOND = "response.create"
    DECIDE = "decision.take"
    EVALUATE = "evaluation.create"
    SET_AUDIENCE = "audience.set"
    VIEW_MEETING = "meeting.view"
    PLAN_MEETING = "meeting.plan"
    CHAIR_MEETING = "meeting.chair"
    REACT_MINUTES = "minutes.react"


C, P, H, N, OBS = (
    CaseRole.COORDINATOR,
    CaseRole.PROFESSIONAL,
    CaseRole.HOUSEHOLD,
    CaseRole.NETWORK,
    CaseRole.OBSERVER,
)

#: The whole policy. Plain-language lines are what "Wie is wie" shows for each role.
RULES: dict[Action, tuple[frozenset[CaseRole], str]] = {
    Action.VIEW_CASE: (frozenset({C, P, H, N, OBS}), N_("het gezinsplan bekijken")),
    Action.VIEW_PLAN: (
        frozenset({C, P, H, N}),
        N_("het hele plan lezen, voor zover het voor hen bedoeld is"),
    ),
    Action.VIEW_AGREEMENTS: (frozenset({C, P, H, N, OBS}), N_("de veiligheidsafspraken zien")),
    Action.EDIT_NOTES: (frozenset({C, P, H, N}), N_("meeschrijven aan het plan")),
    Action.ADD_RECORD: (
        frozenset({C, P, H, N}),
        N_("afspraken, incidenten en scores vastleggen"),
    ),
    Action.SCORE_FOR_OTHERS: (frozenset({C, P}), N_("scores van anderen invullen")),
    Action.PROPOSE_DECISION: (frozenset({C, P}), N_("een besluit voorstellen")),
    Action.DISSENT: (frozenset({C, P, H, N}), N_("tegenspreken bij een besluit")),
    Action.ANSWER_DISSENT: (frozenset({C, P}), N_("tegenspraak beantwoorden")),
    Action.RESPOND: (frozenset({C, H}), N_("de reactie van het gezin op een besluit vastleggen")),
    Action.DECIDE: (frozenset({C}), N_("een besluit nemen of intrekken")),
    Action.EVALUATE: (frozenset({C, P}), N_("evaluaties vastleggen")),
    Action.SET_AUDIENCE: (frozenset({C, P}), N_("bepalen wie een deel van het plan mag zien")),
    Action.VIEW_MEETING: (
        frozenset({C, P, H, N}),
        N_("meedoen aan overleggen en de verslagen lezen"),
    ),
    Action.REACT_MINUTES: (frozenset({C, P, H, N}), N_("reageren op een verslag")),
    Action.PLAN_MEETING: (frozenset({C, P}), N_("een overleg plannen")),
    # The chair chosen for a meeting may lead it too (workspace/meetings/actions.py).
    Action.CHAIR_MEETING: (
        frozenset({C}),
        N_("een overleg leiden: openen, het scherm sturen, mensen toelaten, sluiten"),
    ),
    Action.ADD_PERSON: (frozenset({C, P}), N_("gezinsleden en belangrijke anderen toevoegen")),
    Action.ADD_PARTICIPANT: (frozenset({C}), N_("mensen laten meedoen")),
    Action.INVITE: (frozenset({C}), N_("uitnodigingen maken en intrekken")),
    Action.REVOKE_INVITATION: (frozenset({C}), ""),
    Action.REVOKE_PARTICIPANT: (frozenset({C}), N_("iemand laten stoppen met meedoen")),
    Action.VIEW_AUDIT: (frozenset({C, H}), N_("zien wie het plan heeft bekeken of veranderd")),
}

ROLE_LABELS: dict[CaseRole, str] = {
    C: N_("Regisseur"),
    P: N_("Professional"),
    H: N_("Gezinslid"),
    N: N_("Belangrijke ander"),
    OBS: N_("Meelezer"),
}

ROLE_SUMMARIES: dict[CaseRole, str] = {
    C: N_("Jullie vaste contactpersoon. Houdt het overzicht en zorgt dat het plan verder komt."),
    P: N_("Werkt mee vanuit een eigen organisatie, met jullie toestemming."),
    H: N_("Hoort bij het gezin. Het plan gaat over jullie en jullie schrijven het mee."),
    N: N_("Iemand die het gezin zelf heeft gekozen om te helpen."),
    OBS: N_("Leest mee om te kunnen helpen, maar schrijft niet."),
}


def allowed(role: CaseRole | None, action: Action) -> bool:
    return role is not None and role in RULES[action][0]


def may_do(role: CaseRole) -> list[str]:
    """The plain-language list of what ``role`` may do, straight from RULES."""
    return [text for roles, text in RULES.values() if text and role in roles]


@dataclass(frozen=True)
class Actor:
    """Who is asking: a signed-in user, or a household/network member through an invitation."""

    session_id: uuid.UUID
    user: User | None
    member: Participant | None
    source: str = ""
    #: When the session was last seen (it is touched at most once a minute).
    last_seen_at: datetime | None = field(default=None, compare=False)

    @property
    def name(self) -> str:
        if self.user is not None:
            return self.user.name
        return self.member.display_name if self.member is not None else ""

    @property
    def is_professional(self) -> bool:
        return self.user is not None and self.user.role == UserRole.PROFESSIONAL


@dataclass(frozen=True)
class CaseAccess:
    """An actor inside one case: their participant row and role there."""

    actor: Actor
    case: Case
    participant: Participant

    @property
    def role(self) -> CaseRole:
        return CaseRole(self.participant.role)

    def can(self, action: Action) -> bool:
        return allowed(self.role, action)

    def require(self, action: Action) -> None:
        if not self.can(action):
            raise Forbidden(f"{self.role} may not {action}")

    @property
    def keys(self) -> frozenset[str]:
        return grant_keys(self.actor, self.participant)


def grant_keys(actor: Actor, participant: Participant | None = None) -> frozenset[str]:
    """What a grant given to ``actor`` (in a case: as ``participant``) hangs on. A socket or
    stream opened under it carries these; ending any of them ends it (``workspace.grants``)."""
    keys = {f"session:{actor.session_id}"}
    if actor.user is not None:
        keys.add(f"user:{actor.user.id}")
    member = participant or actor.member
    if member is not None:
        keys.add(f"participant:{member.id}")
    return frozenset(keys)


def require_actor(actor: Actor | None) -> Actor:
    if actor is None:
        raise NotSignedIn("no session")
    return actor


async def case_access(session: AsyncSession, actor: Actor, case_id: uuid.UUID) -> CaseAccess:
    """Load a case for ``actor``. A missing case and a case they don't take part in raise the
    same NotFound, so nobody can learn whether a case exists."""
    case = await session.get(Case, case_id)
    if case is None:
        raise NotFound("no such case")
    if actor.member is not None:
        participant = actor.member
        if participant.case_id != case.id or participant.revoked_at is not None:
            raise NotFound("member of another case")
        return CaseAccess(actor, case, participant)
    assert actor.user is not None
    found = await session.scalar(
        select(Participant).where(
            Participant.case_id == case.id,
            Participant.user_id == actor.user.id,
            Participant.revoked_at.is_(None),
        )
    )
    if found is None:
        raise NotFound("user takes no part in this case")
    return CaseAccess(actor, case, found)
