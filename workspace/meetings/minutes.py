"""The minutes ("verslag") of a meeting: made when it closes, frozen, read per reader.

``content`` records what happened in plain data, each item with the audience of what it came
from; a reader gets only the items their role and the plan's audiences allow. Once the
reaction period is over the minutes are final and never change; reactions stay with them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from realtime.store import UpdateStore
from workspace import audit
from workspace.access import Action, CaseAccess
from workspace.errors import NotFound, ValidationError
from workspace.i18n import N_, Label
from workspace.meetings import versions
from workspace.meetings.actions import (
    LOCAL,
    add_working_days,
    end_of_day,
    get_meeting,
)
from workspace.meetings.models import (
    Attendance,
    Meeting,
    Minutes,
    MinutesState,
    Reaction,
    SectionVersion,
    VersionReason,
)
from workspace.models import Participant, utcnow
from workspace.notes import section_document
from workspace.plan import actions as plan_actions
from workspace.plan.models import (
    Agreement,
    Decision,
    DecisionEntry,
    EntryKind,
    Evaluation,
    Incident,
    Milestone,
    Score,
    ScoreQuestion,
    Section,
    question_label,
)
from workspace.plan.visibility import audience_allows


def _audience(row: Any) -> dict[str, Any]:
    return {"audience": row.audience, "excluded": list(row.excluded or [])}


def _name(participants: dict[uuid.UUID, Participant], pid: uuid.UUID | None) -> str:
    participant = participants.get(pid) if pid is not None else None
    return participant.display_name if participant is not None else ""


def _author_name(participants: dict[uuid.UUID, Participant], author: str) -> str:
    if author.startswith("participant:"):
        try:
            return _name(participants, uuid.UUID(author.split(":", 1)[1]))
        except ValueError:
            return ""
    return ""


async def _section_changes(
    db: AsyncSession, engine: AsyncEngine, meeting: Meeting, participants: dict[uuid.UUID, Any]
) -> list[dict[str, Any]]:
    """Per section whose text changed during the meeting: who added and removed what."""
    rows = list(
        await db.scalars(
            select(SectionVersion)
            .where(SectionVersion.meeting_id == meeting.id)
            .order_by(SectionVersion.taken_at)
        )
    )
    opened = {v.section_id: v for v in rows if v.reason == VersionReason.OPEN}
    closed = {v.section_id: v for v in rows if v.reason == VersionReason.CLOSE}
    out = []
    sections = {
        s.id: s
        for s in await db.scalars(select(Section).where(Section.case_id == meeting.case_id))
    }
    ordered = sorted(
        (s for s in sections.values() if s.id in closed),
        key=lambda s: (s.phase, s.position, s.created_at),
    )
    for section in ordered:
        after = closed[section.id]
        before = opened.get(section.id)
        if before is None:
            before = await db.scalar(
                select(SectionVersion)
                .where(
                    SectionVersion.section_id == section.id,
                    SectionVersion.upto_update_id <= after.upto_update_id,
                    SectionVersion.id != after.id,
                )
                .order_by(SectionVersion.upto_update_id.desc())
                .limit(1)
            )
        if before is not None and before.text == after.text:
            continue
        if before is None:
            if not after.text.strip():
                continue
            changes = [("", "added", after.text.strip())]
        else:
            comparison = await versions.compare(
                engine, section_document(section.case_id, section.id), before, after
            )
            changes = versions.summary(comparison)
        out.append(
            {
                "section_id": str(section.id),
                "phase": section.phase,
                **plan_actions.section_label(section).stored(),
                "before_version": str(before.id) if before else "",
                "after_version": str(after.id),
                "changes": [
                    {"author": _author_name(participants, a), "kind": k, "text": t[:2000]}
                    for a, k, t in changes
                ],
                **_audience(section),
            }
        )
    return out


async def build_content(
    db: AsyncSession, engine: AsyncEngine, meeting: Meeting
) -> dict[str, Any]:
    """Everything the minutes say, as plain data (JSON), each item with its audience."""
    case_id = meeting.case_id
    participants = {
        p.id: p
        for p in await db.scalars(select(Participant).where(Participant.case_id == case_id))
    }
    start = meeting.opened_at or meeting.starts_at
    end = meeting.closed_at or utcnow()

    def during(column: Any) -> Any:
        return (column >= start) & (column <= end)

    present = [
        {"name": a.participant.display_name, "role": a.participant.role}
        for a in await db.scalars(
            select(Attendance)
            .where(Attendance.meeting_id == meeting.id, Attendance.present.is_(True))
            .order_by(Attendance.first_seen_at)
        )
    ]

    agreements = []
    for a in await db.scalars(
        select(Agreement)
        .where(
            Agreement.case_id == case_id,
            or_(Agreement.meeting_id == meeting.id, during(Agreement.updated_at)),
        )
        .order_by(Agreement.created_at)
    ):
        agreements.append(
            {
                "id": str(a.id),
                "new": a.meeting_id == meeting.id or bool(during_value(a.created_at, start, end)),
                "what": a.what,
                "who_does": a.who_does,
                "when": a.when,
                "checker": a.checker,
                "if_it_fails": a.if_it_fails,
                "status": a.status,
                "phase": a.phase,
                **_audience(a),
            }
        )

    decision_ids = set(
        await db.scalars(
            select(Decision.id).where(
                Decision.case_id == case_id,
                or_(
                    Decision.meeting_id == meeting.id,
                    during(Decision.created_at),
                    during(Decision.decided_at),
                ),
            )
        )
    )
    decision_ids |= set(
        await db.scalars(
            select(DecisionEntry.decision_id)
            .join(Decision, Decision.id == DecisionEntry.decision_id)
            .where(
                Decision.case_id == case_id,
                or_(DecisionEntry.meeting_id == meeting.id, during(DecisionEntry.created_at)),
            )
        )
    )
    decisions = []
    for d in await db.scalars(
        select(Decision).where(Decision.id.in_(decision_ids)).order_by(Decision.created_at)
    ):
        thread = await plan_actions.thread(db, d.id)
        dissent = []
        for entry in thread.current(EntryKind.DISSENT):
            dissent.append(
                {
                    "author": entry.author.display_name,
                    "text": entry.text,
                    "answers": [
                        {"author": a.author.display_name, "text": a.text}
                        for a in thread.answers.get(entry.id, [])
                    ],
                }
            )
        decisions.append(
            {
                "id": str(d.id),
                "kind": d.kind,
                "question": d.question,
                "proposal": d.proposal,
                "grounds": d.grounds,
                "state": d.state,
                "regime": d.regime,
                "new_regime": d.new_regime or "",
                "closes_phase": d.closes_phase or 0,
                "counter": d.counter.display_name if d.counter else "",
                "dissent": dissent,
                "responses": [
                    {"author": r.author.display_name, "text": r.text}
                    for r in thread.current(EntryKind.RESPONSE)
                ],
                **_audience(d),
            }
        )

    questions = {
        q.id: q.text
        for q in await db.scalars(select(ScoreQuestion).where(ScoreQuestion.case_id == case_id))
    }
    score_rounds: dict[uuid.UUID, list[dict[str, Any]]] = {}
    for s in await db.scalars(
        select(Score)
        .where(Score.case_id == case_id, Score.meeting_id == meeting.id)
        .order_by(Score.created_at)
    ):
        score_rounds.setdefault(s.question_id, []).append(
            {"name": s.participant.display_name, "value": s.value, **_audience(s)}
        )
    scores = [
        {"question": questions.get(qid, ""), "rows": rows} for qid, rows in score_rounds.items()
    ]

    incidents = [
        {
            "occurred_on": i.occurred_on.isoformat(),
            "what": i.what,
            "reported_by": i.reported_by,
            **_audience(i),
        }
        for i in await db.scalars(
            select(Incident)
            .where(Incident.case_id == case_id, Incident.meeting_id == meeting.id)
            .order_by(Incident.occurred_on)
        )
    ]

    evaluations = []
    next_dates: dict[int, str] = {}
    for e in await db.scalars(
        select(Evaluation).where(Evaluation.case_id == case_id).order_by(Evaluation.created_at)
    ):
        if e.next_on is not None:
            # The newest evaluation of each phase sets its next date (as the plan shows it).
            next_dates[e.phase] = e.next_on.isoformat()
        if e.meeting_id == meeting.id:
            evaluations.append(
                {
                    "phase": e.phase,
                    "plan": e.plan,
                    "do": e.do,
                    "check": e.check,
                    "act": e.act,
                    "next_on": e.next_on.isoformat() if e.next_on else "",
                    **_audience(e),
                }
            )

    milestones = [
        {"kind": m.kind, "before": m.before, "after": m.after}
        for m in await db.scalars(
            select(Milestone)
            .where(Milestone.case_id == case_id, during(Milestone.at))
            .order_by(Milestone.at)
        )
    ]

    following = await db.scalar(
        select(Meeting)
        .where(
            Meeting.case_id == case_id,
            Meeting.id != meeting.id,
            Meeting.starts_at > meeting.starts_at,
        )
        .order_by(Meeting.starts_at)
        .limit(1)
    )
    return {
        "title": meeting.title,
        "starts_at": meeting.starts_at.isoformat(),
        "opened_at": start.isoformat(),
        "closed_at": end.isoformat(),
        "place": meeting.place,
        "chair": meeting.chair.display_name if meeting.chair else "",
        "scribe": meeting.scribe.display_name if meeting.scribe else "",
        "present": present,
        "sections": await _section_changes(db, engine, meeting, participants),
        "agreements": agreements,
        "decisions": decisions,
        "scores": scores,
        "incidents": incidents,
        "evaluations": evaluations,
        "milestones": milestones,
        "next_evaluations": [
            {"phase": phase, "date": day} for phase, day in sorted(next_dates.items())
        ],
        "next_meeting": (
            {
                "title": following.title,
                "starts_at": following.starts_at.isoformat(),
                "place": following.place,
            }
            if following
            else None
        ),
    }


def during_value(value: Any, start: Any, end: Any) -> bool:
    return value is not None and start <= value <= end


async def make_minutes(
    db: AsyncSession, engine: AsyncEngine, meeting: Meeting, reaction_days: int
) -> Minutes:
    """Make the closed meeting's minutes (once: a second call returns the same minutes)."""
    existing = await db.scalar(select(Minutes).where(Minutes.meeting_id == meeting.id))
    if existing is not None:
        return existing
    closed = (meeting.closed_at or utcnow()).astimezone(LOCAL).date()
    minutes = Minutes(
        meeting_id=meeting.id,
        content=await build_content(db, engine, meeting),
        reactions_until=end_of_day(add_working_days(closed, reaction_days)),
    )
    db.add(minutes)
    await db.flush()
    audit.record(
        db,
        None,
        "minutes.create",
        case_id=meeting.case_id,
        object_type="minutes",
        object_id=minutes.id,
    )
    return minutes


async def capture_close(
    db: AsyncSession, store: UpdateStore, meeting: Meeting
) -> list[SectionVersion]:
    sections = list(
        await db.scalars(select(Section).where(Section.case_id == meeting.case_id))
    )
    return await versions.capture(db, store, sections, VersionReason.CLOSE, meeting.id)


# -- reading ---------------------------------------------------------------------------------


@dataclass
class MinutesView:
    """The minutes as one reader may read them."""

    meeting: Meeting
    minutes: Minutes
    content: dict[str, Any]
    reactions: list[Reaction]

    @property
    def final(self) -> bool:
        return self.minutes.state == MinutesState.FINAL


def for_reader(who: CaseAccess, content: dict[str, Any]) -> dict[str, Any]:
    """Drop every item the reader's role and the audiences don't allow."""

    def allowed(item: dict[str, Any]) -> bool:
        return audience_allows(who, item.get("audience", "all"), item.get("excluded", []))

    out = dict(content)
    for key in ("sections", "agreements", "decisions", "incidents", "evaluations"):
        out[key] = [item for item in content.get(key, []) if allowed(item)]
    # Titles and questions may be someone's words: shown as typed, never as a catalogue msgid.
    out["sections"] = [
        {**item, "title": Label.from_stored(item, plan_actions.CATALOGUE_TITLES)}
        for item in out["sections"]
    ]
    out["scores"] = [
        {"question": question_label(s["question"]), "rows": [r for r in s["rows"] if allowed(r)]}
        for s in content.get("scores", [])
    ]
    out["scores"] = [s for s in out["scores"] if s["rows"]]
    return out


async def get_minutes(db: AsyncSession, who: CaseAccess, meeting_id: uuid.UUID) -> MinutesView:
    """The minutes of a closed meeting; final once the reaction period is over."""
    who.require(Action.VIEW_PLAN)
    meeting = await get_meeting(db, who, meeting_id)
    minutes = await db.scalar(select(Minutes).where(Minutes.meeting_id == meeting.id))
    if minutes is None:
        raise NotFound("no minutes (yet)")
    if minutes.state == MinutesState.DRAFT and utcnow() >= minutes.reactions_until:
        minutes.state = MinutesState.FINAL
        minutes.finalised_at = minutes.reactions_until
    reactions = list(
        await db.scalars(
            select(Reaction).where(Reaction.minutes_id == minutes.id).order_by(Reaction.created_at)
        )
    )
    audit.record(db, who, "minutes.view", object_type="minutes", object_id=minutes.id)
    return MinutesView(meeting, minutes, for_reader(who, minutes.content), reactions)


async def react(
    db: AsyncSession, who: CaseAccess, meeting_id: uuid.UUID, text: str
) -> Reaction:
    """A reaction to draft minutes, in the participant's own words."""
    who.require(Action.REACT_MINUTES)
    view = await get_minutes(db, who, meeting_id)
    form = plan_actions.Form({"text": text})
    clean = form.text("text", required=N_("Schrijf je reactie op."), limit=4000)
    if view.final:
        form.errors["text"] = N_(
            "Het verslag is definitief: reageren kan niet meer. Bespreek het in het volgende "
            "overleg."
        )
    form.check()
    reaction = Reaction(minutes_id=view.minutes.id, author_id=who.participant.id, text=clean)
    db.add(reaction)
    await db.flush()
    audit.record(db, who, "minutes.react", object_type="minutes", object_id=view.minutes.id)
    return reaction


async def set_reaction_period(
    db: AsyncSession, who: CaseAccess, meeting_id: uuid.UUID, raw_days: str
) -> Minutes:
    """The coordinator sets how long reactions are open (from the day the meeting closed)."""
    who.require(Action.CHAIR_MEETING)
    view = await get_minutes(db, who, meeting_id)
    if view.final:
        raise ValidationError({"days": N_("Het verslag is al definitief.")})
    days = raw_days.strip()
    if not days.isdigit() or not 1 <= int(days) <= 30:
        raise ValidationError({"days": N_("Kies 1 tot en met 30 werkdagen.")})
    closed = (view.meeting.closed_at or utcnow()).astimezone(LOCAL).date()
    view.minutes.reactions_until = end_of_day(add_working_days(closed, int(days)))
    audit.record(db, who, "minutes.period", object_type="minutes", object_id=view.minutes.id)
    return view.minutes

