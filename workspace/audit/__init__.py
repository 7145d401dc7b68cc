"""The audit log: every read and write of case data, in the shape NEN 7513 asks for.

Rows are written in the same transaction as the change they describe (a write that rolls back
leaves no audit row claiming it happened). Reads are audited too: a page that shows case data
writes its row before it renders. Nothing sensitive goes in: codes and ids, never names or text.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from workspace.access import Actor, CaseAccess
from workspace.i18n import N_
from workspace.models import AuditEvent, Participant, Person, User

#: What each action means, in plain Dutch, for "Wie heeft ons plan bekeken?".
ACTION_LABELS: dict[str, str] = {
    "case.view": N_("heeft het plan bekeken"),
    "case.create": N_("heeft het plan aangemaakt"),
    "case.list": N_("zag het plan in de lijst 'Mijn gezinnen'"),
    "auth.login": N_("is ingelogd"),
    "auth.logout": N_("is uitgelogd"),
    "people.view": N_("heeft bekeken wie er meedoet"),
    "person.create": N_("heeft iemand toegevoegd aan het gezin of netwerk"),
    "participant.create": N_("heeft iemand laten meedoen"),
    "participant.revoke": N_("heeft iemand laten stoppen met meedoen"),
    "invitation.create": N_("heeft een uitnodiging gemaakt"),
    "invitation.revoke": N_("heeft een uitnodiging ingetrokken"),
    "invitation.claim": N_("heeft een uitnodiging gebruikt"),
    "invitation.refused": N_("probeerde een uitnodiging te gebruiken die niet (meer) werkt"),
    "audit.view": N_("heeft bekeken wie het plan heeft bekeken"),
    "notes.open": N_("heeft een gedeelde tekst geopend"),
    "notes.edit": N_("heeft de gedeelde aantekeningen veranderd (zonder live-editor)"),
    "notes.refused": N_("probeerde te schrijven zonder schrijfrecht"),
    "notes.denied": N_("kreeg geen toegang tot een gedeelde tekst"),
    "plan.view": N_("heeft het gezinsplan bekeken"),
    "plan.live": N_("volgde het gezinsplan live"),
    "plan.export": N_("heeft het gezinsplan gedownload"),
    "timeline.view": N_("heeft de tijdlijn bekeken"),
    "section.create": N_("heeft een deel aan het plan toegevoegd"),
    "section.audience": N_("heeft veranderd wie een deel van het plan mag zien"),
    "section.edit": N_("heeft een tekst van het plan veranderd (zonder live-editor)"),
    "agreement.create": N_("heeft een afspraak vastgelegd"),
    "agreement.update": N_("heeft bijgewerkt hoe het met een afspraak gaat"),
    "incident.create": N_("heeft een incident vastgelegd"),
    "question.create": N_("heeft een schaalvraag toegevoegd"),
    "score.create": N_("heeft een score vastgelegd"),
    "decision.view": N_("heeft een besluit bekeken"),
    "decision.create": N_("heeft een besluit voorgesteld"),
    "decision.dissent": N_("heeft een besluit voorgelegd aan tegenspraak"),
    "decision.take": N_("heeft een besluit genomen"),
    "decision.withdraw": N_("heeft een voorstel ingetrokken"),
    "dissent.create": N_("heeft tegengesproken bij een besluit"),
    "dissent.correct": N_("heeft tegenspraak gecorrigeerd (de oude tekst blijft zichtbaar)"),
    "answer.create": N_("heeft tegenspraak beantwoord"),
    "answer.correct": N_("heeft een antwoord gecorrigeerd (de oude tekst blijft zichtbaar)"),
    "response.create": N_("heeft de reactie van het gezin vastgelegd"),
    "response.correct": N_("heeft een reactie gecorrigeerd (de oude tekst blijft zichtbaar)"),
    "case.regime": N_("heeft het kader veranderd, met een genomen besluit"),
    "case.phase": N_("heeft een fase afgesloten, met een genomen besluit"),
    "evaluation.create": N_("heeft een evaluatie vastgelegd"),
    "meeting.list": N_("heeft de overleggen bekeken"),
    "meeting.create": N_("heeft een overleg gepland"),
    "meeting.view": N_("heeft een overleg bekeken"),
    "meeting.live": N_("deed mee aan een overleg"),
    "meeting.screen": N_("heeft het gedeelde scherm van een overleg geopend"),
    "meeting.open": N_("heeft een overleg geopend"),
    "meeting.focus": N_("heeft iets op het gedeelde scherm gezet"),
    "meeting.agenda": N_("heeft de agenda van een overleg veranderd"),
    "meeting.attendance": N_("heeft bijgewerkt wie er bij een overleg was"),
    "meeting.close": N_("heeft een overleg gesloten"),
    "meeting.guest.join": N_("wachtte in de wachtkamer van een overleg"),
    "meeting.guest.admit": N_("heeft iemand uit de wachtkamer toegelaten"),
    "meeting.guest.refuse": N_("heeft iemand uit de wachtkamer niet toegelaten"),
    "meeting.guest.session": N_("deed mee aan een overleg met de code"),
    "minutes.create": N_("het verslag van een overleg is gemaakt"),
    "minutes.view": N_("heeft een verslag gelezen"),
    "minutes.react": N_("heeft gereageerd op een verslag"),
    "minutes.period": N_("heeft de reactietermijn van een verslag veranderd"),
    "section.versions": N_("heeft versies van een tekst vergeleken"),
    # Learning (issue 6). Only the maker's work on a copy names the case; the rest never does.
    "copy.create": N_("heeft een kopie zonder namen gemaakt voor intervisie"),
    "copy.draft": N_("heeft het plan gelezen om een kopie zonder namen na te kijken"),
    "copy.mark": N_("heeft in een kopie voor intervisie woorden gemarkeerd"),
    "copy.review": N_("heeft een kopie voor intervisie nagekeken"),
    "copy.release": N_("heeft een kopie zonder namen vrijgegeven aan een intervisiegroep"),
    "copy.view": N_("heeft een kopie voor intervisie gelezen"),
    "copy.open": N_("heeft een kopie voor intervisie geopend om mee te schrijven"),
    "copy.denied": N_("kreeg geen toegang tot een kopie voor intervisie"),
    "copy.end": N_("heeft een kopie voor intervisie gewist"),
    "copy.expire": N_("een kopie voor intervisie is gewist op de einddatum"),
    "annotation.create": N_("heeft een opmerking geplaatst bij een intervisiecasus"),
    "group.create": N_("heeft een intervisiegroep gemaakt"),
    "group.list": N_("heeft de intervisiegroepen bekeken"),
    "group.view": N_("heeft een intervisiegroep bekeken"),
    "group.member": N_("heeft iemand aan een intervisiegroep toegevoegd"),
    "group.leave": N_("is gestopt met een intervisiegroep"),
    "session.create": N_("heeft een intervisiebijeenkomst gestart"),
    "session.view": N_("heeft een intervisiebijeenkomst bekeken"),
    "session.live": N_("volgde een intervisiebijeenkomst live"),
    "session.step": N_("heeft het gedeelde scherm naar een andere stap gezet"),
    "session.update": N_("heeft conclusies en lessen van intervisie vastgelegd"),
    "session.close": N_("heeft een intervisiebijeenkomst afgesloten"),
    "session.export": N_("heeft een intervisieverslag gedownload"),
    "session.read": N_("heeft lessen uit intervisie gelezen"),
    "reflection.create": N_("heeft een reflectie geschreven"),
    "reflection.update": N_("heeft een reflectie veranderd"),
    "reflection.list": N_("heeft de eigen reflecties bekeken"),
    "reflection.view": N_("heeft een eigen reflectie bekeken"),
    "reflection.read": N_("heeft een gedeelde reflectie gelezen"),
    "reflection.respond": N_("heeft gereageerd op een reflectie"),
    "reflection.signal": N_("heeft een signaal geagendeerd"),
    "review.view": N_("heeft het overzicht van het team bekeken"),
    "team.view": N_("heeft bekeken wat collega's met het team deelden"),
    "digest.export": N_("heeft het leeroverzicht van het team gedownload"),
}


def record(
    session: AsyncSession,
    who: CaseAccess | Actor | None,
    action: str,
    *,
    case_id: uuid.UUID | None = None,
    object_type: str = "",
    object_id: uuid.UUID | str | None = None,
    outcome: str = "ok",
    on_behalf_of: uuid.UUID | None = None,
    source: str = "",
    channel: str = "web",
) -> AuditEvent:
    """Add one audit row to ``session``'s transaction. The caller commits."""
    event = AuditEvent(
        action=action,
        outcome=outcome,
        object_type=object_type,
        object_id=str(object_id) if object_id is not None else "",
        on_behalf_of=str(on_behalf_of) if on_behalf_of is not None else "",
        channel=channel,
        source=source,
    )
    actor = who.actor if isinstance(who, CaseAccess) else who
    if isinstance(who, CaseAccess):
        event.case_id = who.case.id
        event.participant_id = who.participant.id
        event.person_id = who.participant.person_id
        event.role = who.participant.role
    if actor is not None:
        event.source = event.source or actor.source
        if actor.user is not None:
            event.user_id = actor.user.id
            event.role = event.role or actor.user.role
        elif actor.member is not None:
            event.participant_id = actor.member.id
            event.person_id = actor.member.person_id
            event.role = event.role or actor.member.role
    if case_id is not None:
        event.case_id = case_id
    session.add(event)
    return event


@dataclass(frozen=True)
class AuditLine:
    at: datetime
    who: str
    role: str
    action: str
    label: str
    outcome: str
    channel: str


async def case_history(
    session: AsyncSession, case_id: uuid.UUID, *, limit: int = 200, before_id: int | None = None
) -> tuple[list[AuditLine], int | None]:
    """The case's audit rows, newest first, with names resolved for the family's page.

    Returns the lines and the id to continue from (None at the end)."""
    person = aliased(Person)
    stmt = (
        select(AuditEvent, User.name, person.name)
        .outerjoin(User, User.id == AuditEvent.user_id)
        .outerjoin(Participant, Participant.id == AuditEvent.participant_id)
        .outerjoin(person, person.id == Participant.person_id)
        .where(AuditEvent.case_id == case_id)
        .order_by(AuditEvent.id.desc())
        .limit(limit + 1)
    )
    if before_id is not None:
        stmt = stmt.where(AuditEvent.id < before_id)
    rows = (await session.execute(stmt)).all()
    lines = [
        AuditLine(
            at=event.at,
            who=user_name or person_name or "",
            role=event.role,
            action=event.action,
            label=ACTION_LABELS.get(event.action, event.action),
            outcome=event.outcome,
            channel=event.channel,
        )
        for event, user_name, person_name in rows[:limit]
    ]
    next_id = rows[limit - 1][0].id if len(rows) > limit else None
    return lines, next_id


async def count(session: AsyncSession, **where: object) -> int:
    """How many audit rows match ``where`` (column=value); for tests and the CLI."""
    stmt = select(func.count()).select_from(AuditEvent)
    for column, value in where.items():
        stmt = stmt.where(getattr(AuditEvent, column) == value)
    return int(await session.scalar(stmt) or 0)
