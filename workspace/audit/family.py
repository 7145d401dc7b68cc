""" "Wie heeft ons plan bekeken?" as a household or network member may see it.

The full log (NEN 7513) is for the coordinator and the professionals. A member sees who *of
the professionals* looked at or changed their file, and their own actions; never another
member's activity (in coercive control that would let one watch the other), and never a row
about something outside their audience (it would tell them that it exists). Rows are read in
one visit per person: a plan visit that wrote seventeen rows is one line, "Fatima el Idrissi
heeft het plan gelezen", plus one per thing she changed.

Paging uses the time of the last line shown, never a row id: ids count everyone's rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from workspace.access import CaseAccess
from workspace.audit import ACTION_LABELS, AuditLine
from workspace.i18n import N_
from workspace.models import AuditEvent, User

#: Rows by one person this close together are one visit.
VISIT = timedelta(minutes=30)
#: Rows read per page before filtering (a page shows at most ``limit`` lines).
BATCH = 2000
READ = N_("heeft het plan gelezen")
#: Actions that only read: in the family's view they are one line per visit.
READS = frozenset(
    a
    for a in ACTION_LABELS
    if a.endswith((".view", ".live", ".open", ".list", ".read", ".screen", ".fragment"))
)
#: Objects whose rows a member sees, if they may see the object itself. Anything else (other
#: members' invitations, the professionals' notes, ...) is left out: fail closed.
PLAN_OBJECTS = frozenset({"section", "agreement", "incident", "decision", "evaluation", "score"})
CASE_OBJECTS = frozenset({"case", "meeting", "minutes", "question", ""})


@dataclass(frozen=True)
class Page:
    lines: list[AuditLine]
    #: Where the next (older) page starts: an ISO time, or None at the end.
    before: str | None


async def member_history(
    db: AsyncSession, who: CaseAccess, *, limit: int = 100, before: datetime | None = None
) -> Page:
    from workspace.plan.actions import load_plan

    plan = await load_plan(db, who)
    visible = {
        str(item.id)
        for items in (
            plan.sections,
            plan.agreements,
            plan.incidents,
            plan.decisions,
            plan.evaluations,
            plan.scores,
        )
        for item in items
    }
    own = {str(who.participant.id), str(who.participant.person_id)}
    stmt = (
        select(AuditEvent, User.name)
        .outerjoin(User, User.id == AuditEvent.user_id)
        .where(
            AuditEvent.case_id == who.case.id,
            or_(AuditEvent.user_id.is_not(None), AuditEvent.participant_id == who.participant.id),
        )
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
        .limit(BATCH)
    )
    if before is not None:
        stmt = stmt.where(AuditEvent.at < before)
    rows = (await db.execute(stmt)).all()
    me = who.participant.display_name

    def shown(event: AuditEvent) -> bool:
        if event.object_type in PLAN_OBJECTS:
            return event.object_id in visible
        if event.object_type in ("person", "participant"):
            return event.object_id in own
        return event.object_type in CASE_OBJECTS

    lines: list[AuditLine] = []
    # (who, label) -> the time of the newest line of the visit it belongs to.
    visits: dict[tuple[str, str], datetime] = {}
    last_at: datetime | None = None
    for event, user_name in rows:
        if len(lines) >= limit:
            break
        last_at = event.at
        if not shown(event):
            continue
        name = user_name if event.user_id is not None else me
        label = READ if event.action in READS else ACTION_LABELS.get(event.action, "")
        if not label:
            continue
        key = (name or "", label)
        newest = visits.get(key)
        visits[key] = event.at
        if newest is not None and newest - event.at <= VISIT:
            continue  # the same visit
        lines.append(
            AuditLine(
                at=event.at,
                who=name or "",
                role=event.role,
                action=event.action,
                label=label,
                outcome=event.outcome,
                channel=event.channel,
            )
        )
    more = len(lines) >= limit or len(rows) >= BATCH
    return Page(lines, last_at.isoformat() if more and last_at is not None else None)


def parse_before(value: str | None) -> datetime | None:
    if not value or len(value) > 40:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None
