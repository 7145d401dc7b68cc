"""Versions of the plan's text, and who wrote what between two of them.

A version is a section's text at a moment (a meeting opened or closed, or a quiet moment in
between) together with the last realtime log row it includes. Comparing two versions replays
the log rows between them: every row has its author, so each inserted or deleted character is
attributed to the person who typed it - not guessed from a diff afterwards."""

from __future__ import annotations

import asyncio
import difflib
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from pycrdt import Doc, Text
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from realtime import history
from realtime.server import RealtimeServer
from realtime.store import UpdateStore, build
from workspace.meetings.models import SectionVersion, VersionReason
from workspace.models import utcnow
from workspace.notes import section_document
from workspace.plan.models import Section

log = logging.getLogger("kring.meetings")

#: A section counts as quiet when nobody typed in it for this long.
QUIET_AFTER = timedelta(seconds=20)


async def latest(db: AsyncSession, section_id: uuid.UUID) -> SectionVersion | None:
    return await db.scalar(
        select(SectionVersion)
        .where(SectionVersion.section_id == section_id)
        .order_by(SectionVersion.taken_at.desc(), SectionVersion.upto_update_id.desc())
        .limit(1)
    )


async def of_section(db: AsyncSession, section_id: uuid.UUID) -> list[SectionVersion]:
    return list(
        await db.scalars(
            select(SectionVersion)
            .where(SectionVersion.section_id == section_id)
            .order_by(SectionVersion.taken_at, SectionVersion.upto_update_id)
        )
    )


async def capture(
    db: AsyncSession,
    store: UpdateStore,
    sections: Sequence[Section],
    reason: VersionReason,
    meeting_id: uuid.UUID | None,
) -> list[SectionVersion]:
    """Store each section's text as it is stored now (what every screen shows once synced).

    For a quiet moment only changed sections get a version; a meeting's open and close always
    do, so its minutes can compare the two."""
    made = []
    for section in sections:
        document = section_document(section.case_id, section.id)
        loaded = await store.load(document)
        doc: Doc[Any] = Doc()
        if loaded.state is not None:
            doc.apply_update(loaded.state)
        text = str(doc.get("text", type=Text))
        if reason == VersionReason.QUIET:
            previous = await latest(db, section.id)
            if previous is not None and previous.upto_update_id >= loaded.last_id:
                continue
        version = SectionVersion(
            case_id=section.case_id,
            section_id=section.id,
            meeting_id=meeting_id,
            reason=reason,
            taken_at=utcnow(),
            text=text,
            upto_update_id=loaded.last_id,
        )
        db.add(version)
        made.append(version)
    await db.flush()
    return made


async def quiet_sections(
    db: AsyncSession, engine: AsyncEngine, case_id: uuid.UUID
) -> list[Section]:
    """Sections of the case that changed since their latest version and are quiet now."""
    sections = {
        section_document(s.case_id, s.id): s
        for s in await db.scalars(select(Section).where(Section.case_id == case_id))
    }
    now = utcnow()
    out = []
    for change in await history.last_changes(engine, list(sections)):
        if now - change.at < QUIET_AFTER:
            continue
        section = sections[change.document]
        previous = await latest(db, section.id)
        if previous is None or previous.upto_update_id < change.last_id:
            out.append(section)
    return out


# -- who wrote what -------------------------------------------------------------------------


@dataclass(frozen=True)
class Span:
    text: str
    #: The author key from the log ("participant:<id>"), or "" for text that was there before.
    author: str = ""
    #: Inserted (in the newer text) or deleted (in the older text) between the two versions.
    changed: bool = False


@dataclass
class Comparison:
    older: list[Span]
    newer: list[Span]
    #: False when the log no longer holds every step (pruned): spans are then a plain diff.
    attributed: bool = True
    authors: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return any(s.changed for s in self.newer) or any(s.changed for s in self.older)


def _spans(chars: str, authors: Sequence[str], changed: Sequence[bool]) -> list[Span]:
    out: list[Span] = []
    start = 0
    for i in range(1, len(chars) + 1):
        if (
            i == len(chars)
            or authors[i] != authors[start]
            or changed[i] != changed[start]
        ):
            out.append(Span(chars[start:i], authors[start], changed[start]))
            start = i
    return out


def _edit(old: str, new: str) -> tuple[int, int, int]:
    """The one region that differs: (start, end in old, end in new)."""
    start = 0
    limit = min(len(old), len(new))
    while start < limit and old[start] == new[start]:
        start += 1
    end_old, end_new = len(old), len(new)
    while end_old > start and end_new > start and old[end_old - 1] == new[end_new - 1]:
        end_old -= 1
        end_new -= 1
    return start, end_old, end_new


def plain_diff(older: str, newer: str) -> Comparison:
    """Without the log: what changed, not who changed it."""
    matcher = difflib.SequenceMatcher(a=older, b=newer, autojunk=False)
    old_spans: list[Span] = []
    new_spans: list[Span] = []
    for tag, a1, a2, b1, b2 in matcher.get_opcodes():
        if tag == "equal":
            old_spans.append(Span(older[a1:a2]))
            new_spans.append(Span(newer[b1:b2]))
            continue
        if a2 > a1:
            old_spans.append(Span(older[a1:a2], "", True))
        if b2 > b1:
            new_spans.append(Span(newer[b1:b2], "", True))
    return Comparison(old_spans, new_spans, attributed=False)


async def compare(
    engine: AsyncEngine, document: str, older: SectionVersion, newer: SectionVersion
) -> Comparison:
    """``older`` and ``newer`` with every change attributed to its author.

    Replays the log between the two: after each author's run of updates the text is compared
    with the one before (one region per run: typing is local), so each character carries who
    inserted it, and each character of the older text that disappeared carries who deleted it.
    """
    if newer.upto_update_id < older.upto_update_id:
        older, newer = newer, older
    base_rows = await history.rows(engine, document, upto=older.upto_update_id)
    doc: Doc[Any] = Doc()
    if base_rows:
        doc.apply_update(build([r.update for r in base_rows]))
    text = doc.get("text", type=Text)
    if str(text) != older.text:
        # The log was pruned (or the version predates it): fall back to what, not who.
        return plain_diff(older.text, newer.text)
    steps = await history.rows(
        engine, document, after=older.upto_update_id, upto=newer.upto_update_id
    )
    current = older.text
    #: per character of the current text: who inserted it ("" = was in the older version),
    #: and its index in the older text (None = inserted since).
    inserted_by: list[str] = [""] * len(current)
    origin: list[int | None] = list(range(len(current)))
    deleted_by: list[str] = [""] * len(older.text)
    authors: list[str] = []
    i = 0
    while i < len(steps):
        author = steps[i].author
        while i < len(steps) and steps[i].author == author:
            doc.apply_update(steps[i].update)
            i += 1
        after = str(text)
        if after == current:
            continue
        if author not in authors:
            authors.append(author)
        start, end_old, end_new = _edit(current, after)
        for gone in origin[start:end_old]:
            if gone is not None:
                deleted_by[gone] = author
        inserted_by[start:end_old] = [author] * (end_new - start)
        origin[start:end_old] = [None] * (end_new - start)
        current = after
    if current != newer.text:
        return plain_diff(older.text, newer.text)
    old_changed = [bool(a) for a in deleted_by]
    new_changed = [o is None for o in origin]
    return Comparison(
        _spans(older.text, deleted_by, old_changed),
        _spans(current, inserted_by, new_changed),
        attributed=True,
        authors=authors,
    )


def summary(comparison: Comparison) -> list[tuple[str, str, str]]:
    """What changed, for minutes: (author, "added" | "removed", text) in reading order,
    neighbouring pieces of one author joined."""
    out: list[tuple[str, str, str]] = []
    for kind, spans in (("added", comparison.newer), ("removed", comparison.older)):
        for span in spans:
            if not span.changed or not span.text.strip():
                continue
            if out and out[-1][0] == span.author and out[-1][1] == kind:
                out[-1] = (span.author, kind, out[-1][2] + " … " + span.text.strip())
            else:
                out.append((span.author, kind, span.text.strip()))
    return out



async def watch_quiet_moments(db: Any, realtime: RealtimeServer, every: float = 15.0) -> None:
    """While meetings are open: every ``every`` seconds, store a version of each section that
    changed and then went quiet, so "versions" has the moments in between open and close."""
    from workspace.meetings.models import Meeting, MeetingState

    while True:
        await asyncio.sleep(every)
        try:
            async with db.begin() as session:
                meetings = list(
                    await session.scalars(select(Meeting).where(Meeting.state == MeetingState.OPEN))
                )
            for meeting in meetings:
                async with db.begin() as session:
                    quiet = await quiet_sections(session, db.engine, meeting.case_id)
                    if quiet:
                        await capture(
                            session, realtime.store, quiet, VersionReason.QUIET, meeting.id
                        )
        except Exception:
            log.warning("capturing quiet versions failed; trying again later", exc_info=True)
