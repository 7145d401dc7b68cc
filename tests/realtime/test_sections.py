"""Plan sections over real websockets: each section is its own document with its own audience,
checked on the upgrade and again after the audience changes."""

from __future__ import annotations

import pytest
import websockets
from sqlalchemy import select

from tests.conftest import World
from workspace.notes import section_document
from workspace.plan.actions import ensure_sections
from workspace.plan.models import Section


async def _section(db, world: World, key: str) -> Section:
    async with db.begin() as session:
        await ensure_sections(session, world.case.id)
        section = await session.scalar(
            select(Section).where(Section.case_id == world.case.id, Section.key == key)
        )
    assert section is not None
    return section


async def test_sections_are_co_edited_and_stored(world, db, connect, app):
    section = await _section(db, world, "wat-gebeurde")
    document = section_document(world.case.id, section.id)
    linda = await connect("household", world, document)
    fatima = await connect("coordinator", world, document)
    await linda.type("Erik gooide een stoel. ")
    await fatima.wait_for(lambda: "stoel" in str(fatima.text))
    assert "stoel" in await app.state.realtime.text(document)


async def test_an_observer_cannot_open_plan_sections(world, db, connect):
    section = await _section(db, world, "wat-gebeurde")
    with pytest.raises(websockets.InvalidStatus) as refused:
        await connect("observer", world, section_document(world.case.id, section.id))
    # Closed (1008) before accept: the handshake itself is refused.
    assert refused.value.response.status_code == 403


async def test_narrowing_the_audience_closes_and_then_refuses_the_excluded(
    world, db, connect, browser
):
    section = await _section(db, world, "veiligheidsplan")
    document = section_document(world.case.id, section.id)
    linda = await connect("household", world, document)
    await linda.type("Telefoon oma Ria: 06-12345678")
    await linda.wait_for(linda.all_stored)
    async with db.begin() as session:
        person = (await session.get(type(world.household), world.household.id)).person_id
    b = browser()
    await b.login(world.coordinator.email)
    response = await b.post(
        f"/cases/{world.case.id}/plan/sections/{section.id}/audience",
        {"audience": "except", "excluded": str(person), "version": str(section.version)},
    )
    assert response.status_code == 303
    assert await linda.wait_closed() == 4001
    with pytest.raises(websockets.InvalidStatus):
        await connect("household", world, document)
    hasan = await connect("network", world, document)
    await hasan.wait_for(lambda: "oma Ria" in str(hasan.text))


async def test_a_section_of_another_case_is_refused(world, db, connect):
    section = await _section(db, world, "wat-gebeurde")
    # The section id under another case's name: the case part must match the section's case.
    with pytest.raises(websockets.InvalidStatus):
        await connect("household", world, section_document(world.other_case.id, section.id))


async def test_own_words_her_perspective_is_read_only_for_others_over_the_socket(
    world, db, connect, app
):
    """Issue 15: "Zo ziet Linda het" was editable by every household member over the socket."""
    from workspace.models import Participant

    async with db.begin() as session:
        await ensure_sections(session, world.case.id)
        person = (await session.get(Participant, world.household.id)).person_id
        hers = await session.scalar(
            select(Section).where(
                Section.case_id == world.case.id,
                Section.key == "perspectief",
                Section.person_id == person,
            )
        )
    document = section_document(world.case.id, hers.id)
    linda = await connect("household", world, document)
    await linda.type("Ik ben bang als hij boos wordt.")
    await linda.wait_for(linda.all_stored)
    hasan = await connect("network", world, document)
    await hasan.wait_for(lambda: "bang" in str(hasan.text))
    await hasan.type(" Valt wel mee.")
    await hasan.wait_for(lambda: "readonly" in hasan.errors)
    assert await app.state.realtime.text(document) == "Ik ben bang als hij boos wordt."
