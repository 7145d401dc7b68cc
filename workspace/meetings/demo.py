"""The Bakker family's meetings for ``kring demo``: the first meeting three weeks ago, closed,
with its minutes and a reaction; the second one open right now (join it with its code); the
third one planned. Made through the same domain functions as the web pages."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import select, update

from realtime.store import UpdateStore
from workspace.db import Database
from workspace.meetings import actions, minutes
from workspace.meetings.models import (
    Attendance,
    Meeting,
    Reaction,
    SectionVersion,
    VersionReason,
)
from workspace.models import Participant
from workspace.plan.models import (
    Agreement,
    Decision,
    DecisionEntry,
    Incident,
    Score,
    Section,
)


async def seed(db: Database, store: UpdateStore, fatima: uuid.UUID, case_id: uuid.UUID) -> str:
    """Run after the plan's texts are stored. Returns the open meeting's join code."""
    from workspace.demo import access_for

    first_start = (actions.local_now() - timedelta(days=21)).replace(
        hour=14, minute=0, second=0, microsecond=0
    )
    async with db.begin() as session:
        who = await access_for(session, fatima, case_id)
        chair = str(who.participant.id)
        first = await actions.plan_meeting(
            session,
            who,
            {
                "title": "Gezinsplanoverleg 1",
                "starts_at": first_start.strftime("%Y-%m-%dT%H:%M"),
                "place": "Bij de familie Bakker thuis",
                "chair_id": chair,
            },
            [],
        )
        await actions.open_meeting(session, who, first.id, str(first.version))
        first.opened_at = first_start
        # The plan's texts were written during this first meeting: before it, every section
        # was empty (the versions "at the start" say so; the minutes compare with them).
        for section in await session.scalars(select(Section).where(Section.case_id == case_id)):
            session.add(
                SectionVersion(
                    case_id=case_id,
                    section_id=section.id,
                    meeting_id=first.id,
                    reason=VersionReason.OPEN,
                    taken_at=first_start,
                    text="",
                    upto_update_id=0,
                )
            )
        for model in (Agreement, Incident, Decision):
            await session.execute(
                update(model).where(model.case_id == case_id).values(meeting_id=first.id)
            )
        await session.execute(
            update(DecisionEntry)
            .where(DecisionEntry.decision_id.in_(select(Decision.id).where(Decision.case_id == case_id)))
            .values(meeting_id=first.id)
        )
        oldest_scores = await session.scalar(
            select(Score.asked_on).where(Score.case_id == case_id).order_by(Score.asked_on).limit(1)
        )
        await session.execute(
            update(Score)
            .where(Score.case_id == case_id, Score.asked_on == oldest_scores)
            .values(meeting_id=first.id)
        )
        by_name = {
            p.display_name: p
            for p in await session.scalars(
                select(Participant).where(Participant.case_id == case_id)
            )
        }
        for name in (
            "Fatima el Idrissi",
            "Joost de Boer",
            "Linda Bakker",
            "Erik Bakker",
            "Noor",
            "Kees",
        ):
            session.add(
                Attendance(
                    meeting_id=first.id,
                    participant_id=by_name[name].id,
                    present=True,
                    source="chair",
                    first_seen_at=first_start,
                    last_seen_at=first_start + timedelta(minutes=90),
                )
            )
        await session.flush()
        closed = await actions.close_meeting(
            session, who, first.id, {"version": str(first.version), "reaction_days": "5"}
        )
        first.closed_at = first_start + timedelta(minutes=90)
        first_id = first.id
        linda = by_name["Linda Bakker"].id

    async with db.begin() as session:
        closed_meeting = await session.get(Meeting, first_id)
        assert closed_meeting is not None
        made = await minutes.capture_close(session, store, closed_meeting)
        for version in made:
            version.taken_at = first_start + timedelta(minutes=90)
        record = await minutes.make_minutes(
            session, db.engine, closed_meeting, closed.reaction_days
        )
        record.created_at = first_start + timedelta(minutes=95)
        session.add(
            Reaction(
                minutes_id=record.id,
                author_id=linda,
                text=(
                    "Goed verslag. Eén ding: oma Ria heeft niet alleen 's nachts haar telefoon "
                    "aan, ook overdag."
                ),
                created_at=first_start + timedelta(days=1, hours=3),
            )
        )

    async with db.begin() as session:
        who = await access_for(session, fatima, case_id)
        second = await actions.plan_meeting(
            session,
            who,
            {
                "title": "Gezinsplanoverleg 2",
                "starts_at": actions.local_now().strftime("%Y-%m-%dT%H:%M"),
                "place": "Buurthuis De Kring, zaal 2 (of bel in via de link van Fatima)",
                "chair_id": str(who.participant.id),
            },
            [],
        )
        await actions.open_meeting(session, who, second.id, str(second.version))
        sections = list(
            await session.scalars(select(Section).where(Section.case_id == case_id))
        )
        from workspace.meetings import versions

        await versions.capture(session, store, sections, VersionReason.OPEN, second.id)
        code = second.code or ""
        await actions.plan_meeting(
            session,
            who,
            {
                "title": "Gezinsplanoverleg 3",
                "starts_at": (actions.local_now() + timedelta(days=21))
                .replace(hour=14, minute=0)
                .strftime("%Y-%m-%dT%H:%M"),
                "place": "Bij de familie Bakker thuis",
                "chair_id": str(who.participant.id),
            },
            [],
        )
    return code
