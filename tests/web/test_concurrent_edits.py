"""Stale forms on rows with a ``version``, when two requests run at the same time.

Two people (or two tabs) send a form rendered at the same version. On PostgreSQL (READ
COMMITTED) both transactions can read version N before either commits: the second must then
fail with the same conflict as a stale form, never commit on top of the first. SQLite's
BEGIN IMMEDIATE lets only one writer in at a time, so the interleaving cannot happen there;
its variant checks the sequential stale form."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from bs4 import BeautifulSoup
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import World
from workspace.access import Actor, CaseAccess, case_access
from workspace.db import Database
from workspace.errors import Conflict
from workspace.learning import reflection as rf
from workspace.learning.models import Reflection
from workspace.meetings import actions as meetings
from workspace.meetings.models import AgendaItem, Meeting
from workspace.models import User
from workspace.plan import actions as plan
from workspace.plan.models import Agreement, Decision, DecisionEntry, EntryKind, Section


async def _actor(session: AsyncSession, user: User) -> Actor:
    return Actor(uuid.uuid4(), await session.get(User, user.id), None, "test")


async def _coordinator(session: AsyncSession, world: World) -> CaseAccess:
    return await case_access(session, await _actor(session, world.coordinator), world.case.id)


@dataclass
class Kind:
    """One kind of versioned row: how to make one, edit it through its domain function with
    the version a form showed, and read back what an edit changed."""

    model: type[Any]
    make: Callable[[AsyncSession, World], Awaitable[uuid.UUID]]
    #: edit(session, world, row id, seen version, which edit: 0 first, 1 second)
    edit: Callable[[AsyncSession, World, uuid.UUID, str, int], Awaitable[None]]
    #: What the edit changed on the row, and what edit ``which`` sets it to.
    saved: Callable[[Any], object]
    expected: Callable[[AsyncSession, uuid.UUID, int], Awaitable[object]]


def constant(
    values: tuple[str, ...],
) -> Callable[[AsyncSession, uuid.UUID, int], Awaitable[object]]:
    async def expected(_session: AsyncSession, _row_id: uuid.UUID, which: int) -> object:
        return values[which]

    return expected


# -- an agreement's status (a plan record) ---------------------------------------------------

STATUSES = ("going_well", "not_working")


async def _make_agreement(session: AsyncSession, world: World) -> uuid.UUID:
    agreement = await plan.add_agreement(
        session,
        await _coordinator(session, world),
        {"phase": "1", "what": "Oma haalt de kinderen op", "who_does": "Oma", "checker": "Fatima"},
        plan.AudienceInput(),
    )
    return agreement.id


async def _edit_agreement(
    session: AsyncSession, world: World, row_id: uuid.UUID, seen: str, which: int
) -> None:
    who = await _coordinator(session, world)
    await plan.set_agreement_status(session, who, row_id, STATUSES[which], seen)


# -- a section's audience ---------------------------------------------------------------------

AUDIENCES = ("professionals", "except")


async def _make_section(session: AsyncSession, world: World) -> uuid.UUID:
    section = await plan.add_section(
        session,
        await _coordinator(session, world),
        {"phase": "1", "title": "Veiligheidsplan"},
        plan.AudienceInput(),
    )
    return section.id


async def _edit_section(
    session: AsyncSession, world: World, row_id: uuid.UUID, seen: str, which: int
) -> None:
    who = await _coordinator(session, world)
    # The second hides it from the mother only (an audience the first did not choose).
    chosen = plan.AudienceInput(AUDIENCES[which], (str(world.household.person_id),) * which)
    await plan.set_section_audience(session, who, row_id, chosen, seen)


# -- the focus of an open meeting -----------------------------------------------------------


async def _make_meeting(session: AsyncSession, world: World) -> uuid.UUID:
    who = await _coordinator(session, world)
    meeting = await meetings.plan_meeting(
        session,
        who,
        {
            "title": "Gezinsplanoverleg",
            "starts_at": "2026-12-03T14:00",
            "chair_id": str(who.participant.id),
        },
        [],
    )
    await meetings.open_meeting(session, who, meeting.id, str(meeting.version))
    return meeting.id


async def _agenda(session: AsyncSession, meeting_id: uuid.UUID) -> list[str]:
    items = await session.scalars(
        select(AgendaItem.id)
        .where(AgendaItem.meeting_id == meeting_id)
        .order_by(AgendaItem.position)
    )
    return [str(i) for i in items]


async def _focus_of(session: AsyncSession, meeting_id: uuid.UUID, which: int) -> object:
    # Item 0 has the focus once opened; the two chairs' screens move it to 1 and 2.
    return (await _agenda(session, meeting_id))[which + 1]


async def _edit_meeting(
    session: AsyncSession, world: World, row_id: uuid.UUID, seen: str, which: int
) -> None:
    who = await _coordinator(session, world)
    item = str(await _focus_of(session, row_id, which))
    await meetings.set_focus(session, who, row_id, item, seen)


# -- a reflection (learning) -------------------------------------------------------------------

TITLES = ("Na het huisbezoek", "Na het huisbezoek, tweede tab")


async def _make_reflection(session: AsyncSession, world: World) -> uuid.UUID:
    actor = await _actor(session, world.professional)
    made = await rf.write_reflection(
        session, actor, {"title": "Huisbezoek", "body": "Het ging goed.", "audience": "private"}, []
    )
    return made.id


async def _edit_reflection(
    session: AsyncSession, world: World, row_id: uuid.UUID, seen: str, which: int
) -> None:
    actor = await _actor(session, world.professional)
    values = {
        "title": TITLES[which],
        "body": "Het ging goed.",
        "audience": "private",
        "version": seen,
    }
    await rf.update_reflection(session, actor, row_id, values, [])


KINDS = {
    "agreement": Kind(
        Agreement, _make_agreement, _edit_agreement, lambda row: row.status, constant(STATUSES)
    ),
    "section": Kind(
        Section, _make_section, _edit_section, lambda row: row.audience, constant(AUDIENCES)
    ),
    "meeting": Kind(Meeting, _make_meeting, _edit_meeting, lambda row: row.focus, _focus_of),
    "reflection": Kind(
        Reflection, _make_reflection, _edit_reflection, lambda row: row.title, constant(TITLES)
    ),
}


async def _row(session: AsyncSession, kind: Kind, row_id: uuid.UUID) -> Any:
    row = await session.get(kind.model, row_id, populate_existing=True)
    assert row is not None
    return row


async def _edit(
    db: Database, world: World, kind: Kind, row_id: uuid.UUID, seen: str, which: int
) -> str:
    """One request's transaction: "saved" when it committed, "conflict" when refused."""
    try:
        async with db.begin() as session:
            await kind.edit(session, world, row_id, seen, which)
    except Conflict:
        return "conflict"
    return "saved"


@pytest.mark.parametrize("name", list(KINDS))
async def test_two_edits_from_one_version_the_second_is_refused(
    db: Database, world: World, name: str
) -> None:
    kind = KINDS[name]
    async with db.begin() as session:
        row_id = await kind.make(session, world)
    async with db.begin() as session:
        version = (await _row(session, kind, row_id)).version
    seen = str(version)

    if db.is_sqlite:
        # One writer at a time: the second transaction starts after the first committed.
        first = await _edit(db, world, kind, row_id, seen, 0)
        second = await _edit(db, world, kind, row_id, seen, 1)
    else:
        first, second = "not run", "saved"
        try:
            # A deadlock here would hang the test: give up loudly instead.
            async with asyncio.timeout(30), db.begin() as late:
                # The second request reads the row at version N before the first commits
                # (held: the session keeps only weak references to what it loaded)...
                stale = await _row(late, kind, row_id)
                assert stale.version == version
                # ...the first reads it at N too, edits and commits...
                first = await _edit(db, world, kind, row_id, seen, 0)
                # ...then the second edits from N, with its row still at N.
                await kind.edit(late, world, row_id, seen, 1)
                del stale
        except Conflict:
            second = "conflict"

    async with db.begin() as session:
        row = await _row(session, kind, row_id)
        result = (first, second, kind.saved(row), row.version)
        expected = ("saved", "conflict", await kind.expected(session, row_id, 0), version + 1)
    # The first edit stays; the second was refused, not written over it.
    assert result == expected


async def _someone_waits_for_a_lock(db: Database) -> bool:
    async with db.engine.connect() as conn:
        waiting = await conn.scalar(
            text(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
        )
    return bool(waiting)


@pytest.fixture
def postgresql_only(database_template: tuple[str, str]) -> None:
    # Before ``world``: no case is made only to be skipped.
    if database_template[0] == "sqlite":
        pytest.skip("SQLite lets one writer in at a time: the second never reads version N")


@pytest.mark.parametrize("name", list(KINDS))
async def test_an_edit_waiting_for_the_first_to_commit_is_refused(
    postgresql_only: None, db: Database, world: World, name: str
) -> None:
    """Both in flight at once: the second's UPDATE waits for the first's row lock, and once
    the first commits PostgreSQL re-checks its WHERE against the new row: no match."""
    kind = KINDS[name]
    async with db.begin() as session:
        row_id = await kind.make(session, world)
    async with db.begin() as session:
        version = (await _row(session, kind, row_id)).version
    seen = str(version)
    flushed, commit = asyncio.Event(), asyncio.Event()

    async def first() -> str:
        async with db.begin() as session:
            await kind.edit(session, world, row_id, seen, 0)
            await session.flush()  # its UPDATE holds the row until it commits
            flushed.set()
            await commit.wait()
        return "saved"

    async def second() -> str:
        await flushed.wait()
        return await _edit(db, world, kind, row_id, seen, 1)

    async with asyncio.timeout(30):
        tasks = asyncio.gather(first(), second())
        while not tasks.done() and not await _someone_waits_for_a_lock(db):  # noqa: ASYNC110
            await asyncio.sleep(0.02)
        commit.set()
        outcome = tuple(await tasks)

    async with db.begin() as session:
        row = await _row(session, kind, row_id)
        result = (*outcome, kind.saved(row), row.version)
        expected = ("saved", "conflict", await kind.expected(session, row_id, 0), version + 1)
    assert result == expected


# -- through HTTP: the page a person sees when their request lost the race ------------------


async def test_a_status_change_that_loses_the_race_gets_the_conflict_page(
    postgresql_only: None, db: Database, world: World, browser: Any, monkeypatch: Any
) -> None:
    async with db.begin() as session:
        agreement_id = await _make_agreement(session, world)
    real = plan.set_agreement_status

    async def racing(
        session: AsyncSession, who: CaseAccess, row_id: uuid.UUID, status: str, seen: str
    ) -> Agreement:
        read = await session.get(Agreement, row_id)  # this request reads version 1...
        async with db.begin() as other:  # ...and another one commits meanwhile
            await real(other, await _coordinator(other, world), row_id, "going_well", seen)
        assert read is not None and read.version == 1
        return await real(session, who, row_id, status, seen)

    monkeypatch.setattr(plan, "set_agreement_status", racing)
    b = browser()
    await b.login(world.coordinator.email)
    response = await b.post(
        f"/cases/{world.case.id}/plan/agreements/{agreement_id}/status",
        {"status": "not_working", "version": "1"},
    )
    assert response.status_code == 409
    shown = BeautifulSoup(response.text, "html.parser").select_one(f"#agreement-{agreement_id}")
    assert shown is not None and "intussen veranderd" in shown.text
    async with db.begin() as session:
        row = await session.get(Agreement, agreement_id)
        assert row is not None and (row.status, row.version) == ("going_well", 2)


async def test_a_reflection_edit_that_loses_the_race_gets_the_conflict_page(
    postgresql_only: None, db: Database, world: World, browser: Any, monkeypatch: Any
) -> None:
    async with db.begin() as session:
        reflection_id = await _make_reflection(session, world)
    real = rf.update_reflection

    async def racing(
        session: AsyncSession,
        actor: Actor,
        row_id: uuid.UUID,
        values: dict[str, str],
        tags: list[str],
    ) -> Reflection:
        read = await session.get(Reflection, row_id)
        async with db.begin() as other:
            other_actor = await _actor(other, world.professional)
            await real(other, other_actor, row_id, {**values, "title": TITLES[0]}, tags)
        assert read is not None and read.version == 1
        return await real(session, actor, row_id, values, tags)

    monkeypatch.setattr(rf, "update_reflection", racing)
    b = browser()
    await b.login(world.professional.email)
    response = await b.post(
        f"/leren/reflecties/{reflection_id}",
        {"title": TITLES[1], "body": "Het ging goed.", "audience": "private", "version": "1"},
    )
    assert response.status_code == 409
    assert "Er is niets overschreven" in response.text
    async with db.begin() as session:
        row = await session.get(Reflection, reflection_id)
        assert row is not None and (row.title, row.version) == (TITLES[0], 2)


async def test_dissent_that_loses_the_race_comes_back_with_what_was_typed(
    postgresql_only: None, db: Database, world: World, browser: Any, monkeypatch: Any
) -> None:
    """Each entry bumps its decision's version (so a stale "take" is refused): of two entries
    sent at once the second is refused too, and its text must not be lost."""
    async with db.begin() as session:
        who = await _coordinator(session, world)
        decision = await plan.propose_decision(
            session,
            who,
            {
                "phase": "1",
                "kind": "ordinary",
                "question": "Dagbesteding proberen?",
                "proposal": "Twee ochtenden per week",
                "grounds": "Ze is veel alleen",
                "regime": who.case.regime,
                "decider": "Fatima",
            },
            plan.AudienceInput(),
        )
    real = plan.add_entry

    async def racing(
        session: AsyncSession,
        who: CaseAccess,
        decision_id: uuid.UUID,
        kind: EntryKind,
        values: dict[str, str],
    ) -> DecisionEntry:
        read = await session.get(Decision, decision_id)
        async with db.begin() as other:
            mine = {**values, "text": "Ik ben het er niet mee eens."}
            await real(other, await _coordinator(other, world), decision_id, kind, mine)
        assert read is not None and read.version == 1
        return await real(session, who, decision_id, kind, values)

    monkeypatch.setattr(plan, "add_entry", racing)
    b = browser()
    await b.login(world.coordinator.email)
    typed = "Eerst met haar zelf praten."
    response = await b.post(
        f"/cases/{world.case.id}/decisions/{decision.id}/entries",
        {"kind": "dissent", "text": typed},
    )
    assert response.status_code == 409
    page = BeautifulSoup(response.text, "html.parser")
    assert "intussen veranderd" in page.text
    assert [t.text for t in page.select("textarea[name=text]") if t.text == typed] == [typed]
    async with db.begin() as session:
        texts = list(await session.scalars(select(DecisionEntry.text)))
    assert texts == ["Ik ben het er niet mee eens."]
