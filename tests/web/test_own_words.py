"""Words keep their author: a member writes as themselves; only the coordinator, or the chair
of the open meeting, writes down someone else's words, marked as such (issue 14, item 3)."""

from __future__ import annotations

from sqlalchemy import select

from tests.conftest import World, add_member
from tests.meetings.test_meetings import _open, plan_meeting
from tests.web.test_plan import as_role
from workspace.plan.models import DecisionEntry


async def _decision(b, world: World) -> str:
    response = await b.post(
        f"/cases/{world.case.id}/decisions",
        {
            "phase": "1",
            "kind": "ordinary",
            "question": "Vrijwillig kader voortzetten?",
            "proposal": "We gaan vrijwillig door.",
            "grounds": "Het gaat beter.",
            "regime": "vrijwillig",
            "decider": "De regisseur met het gezin",
            "audience": "all",
        },
    )
    assert response.status_code == 303, response.text
    return str(response.headers["location"])


async def _entries(db) -> list[DecisionEntry]:
    async with db.begin() as session:
        return list(await session.scalars(select(DecisionEntry)))


async def test_a_member_cannot_post_a_response_in_another_members_name(
    browser, world: World, db, settings
):
    erik = await add_member(db, world.case, world.coordinator, "Erik")
    chair = browser()
    await chair.login(world.coordinator.email)
    url = await _decision(chair, world)
    linda = await as_role("household", browser, world, settings, db)
    response = await linda.post(
        f"{url}/entries",
        {"kind": "response", "text": "Ik ben het eens.", "author_id": str(erik.id)},
    )
    assert response.status_code == 422
    assert "Alleen de regisseur of de voorzitter" in response.text
    assert await _entries(db) == []
    # Her own words, as herself, are fine - with or without naming herself.
    response = await linda.post(
        f"{url}/entries",
        {"kind": "response", "text": "Ik ben het eens.", "author_id": str(world.household.id)},
    )
    assert response.status_code == 303
    (entry,) = await _entries(db)
    assert entry.author_id == world.household.id and entry.recorded_by_id is None


async def test_the_coordinator_writes_down_a_members_words_marked_as_hers(
    browser, world: World, db
):
    chair = browser()
    await chair.login(world.coordinator.email)
    url = await _decision(chair, world)
    response = await chair.post(
        f"{url}/entries",
        {"kind": "response", "text": "Linda zegt: ja.", "author_id": str(world.household.id)},
    )
    assert response.status_code == 303
    (entry,) = await _entries(db)
    assert entry.author_id == world.household.id and entry.recorded_by_id is not None
    # A professional's own name is never the family's response.
    response = await chair.post(f"{url}/entries", {"kind": "response", "text": "Zelf."})
    assert response.status_code == 422


async def test_the_chair_of_an_open_meeting_may_write_down_words_others_may_not(
    browser, world: World, db
):
    coordinator = browser()
    await coordinator.login(world.coordinator.email)
    url = await _decision(coordinator, world)
    pro = browser()
    await pro.login(world.professional.email)
    data = {"kind": "response", "text": "Linda zegt: ja.", "author_id": str(world.household.id)}
    assert (await pro.post(f"{url}/entries", data)).status_code == 404
    meeting = await plan_meeting(
        coordinator, world, chair_id=str(world.professional_participant.id)
    )
    await _open(coordinator, meeting)
    meeting_id = meeting.rsplit("/", 1)[1]
    response = await pro.post(f"{url}/entries?overleg={meeting_id}", {**data, "meeting_id": meeting_id})
    assert response.status_code == 303, response.text
    (entry,) = await _entries(db)
    assert entry.author_id == world.household.id
    assert entry.recorded_by_id == world.professional_participant.id
