"""Own words stay one's own (issue 15): "Zo ziet Linda het" and her recovery plan are written
by Linda, on the page and over the realtime socket; the coordinator (or a meeting's chair)
may write down her words. And an audience cannot be misread."""

from __future__ import annotations

import pytest
from bs4 import BeautifulSoup
from sqlalchemy import select

from tests.conftest import add_member, invite
from workspace.models import Participant
from workspace.plan.actions import ensure_sections
from workspace.plan.models import Agreement, Section


async def _perspective_of(db, world, participant_id) -> Section:
    async with db.begin() as session:
        await ensure_sections(session, world.case.id)
        person = (await session.get(Participant, participant_id)).person_id
        section = await session.scalar(
            select(Section).where(
                Section.case_id == world.case.id,
                Section.key == "perspectief",
                Section.person_id == person,
            )
        )
    assert section is not None
    return section


async def test_only_she_and_the_coordinator_write_her_perspective(world, db, settings, browser):
    erik = await add_member(db, world.case, world.coordinator, "Erik")
    hers = await _perspective_of(db, world, world.household.id)
    linda, erik_phone, petra, fatima = browser(), browser(), browser(), browser()
    await linda.claim(await invite(db, settings, world, world.household))
    await erik_phone.claim(await invite(db, settings, world, erik))
    await petra.login(world.professional.email)
    await fatima.login(world.coordinator.email)

    def readonly(page, section: Section) -> str:
        editor = BeautifulSoup(page.text, "html.parser").select_one(
            f"#section-{section.id} .notes-editor"
        )
        return editor["data-readonly"]

    plan = f"/cases/{world.case.id}/plan"
    assert readonly(await linda.get(plan), hers) == "false"
    assert readonly(await fatima.get(plan), hers) == "false"
    assert readonly(await erik_phone.get(plan), hers) == "true"
    assert readonly(await petra.get(plan), hers) == "true"
    # Without JavaScript: the form is not there for him, and a crafted post is refused.
    page = await erik_phone.get(plan)
    assert not BeautifulSoup(page.text, "html.parser").select(
        f"form[action$='/sections/{hers.id}/text']"
    )
    response = await erik_phone.post(
        f"{plan}/sections/{hers.id}/text", {"text": "Linda overdrijft.", "version": ""}
    )
    assert response.status_code == 404


@pytest.mark.parametrize("kind", ["except", "all"])
async def test_ticking_a_person_hides_it_from_them_even_if_the_choice_stayed_on_everyone(
    world, db, browser, kind
):
    async with db.begin() as session:
        hasan = (await session.get(Participant, world.network.id)).person_id
    fatima = browser()
    await fatima.login(world.coordinator.email)
    response = await fatima.post(
        f"/cases/{world.case.id}/plan/agreements",
        {
            "phase": "1",
            "what": "Linda slaapt bij oma",
            "who_does": "Linda",
            "checker": "Fatima",
            "audience": kind,
            "excluded": str(hasan),
        },
    )
    assert response.status_code == 303
    async with db.begin() as session:
        agreement = await session.scalar(select(Agreement).where(Agreement.what.like("Linda%")))
    assert agreement.audience == "except"
    assert agreement.excluded == [str(hasan)]


async def test_professionals_only_with_a_person_ticked_asks_which_was_meant(world, db, browser):
    async with db.begin() as session:
        hasan = (await session.get(Participant, world.network.id)).person_id
    fatima = browser()
    await fatima.login(world.coordinator.email)
    response = await fatima.post(
        f"/cases/{world.case.id}/plan/agreements",
        {
            "phase": "1",
            "what": "Geheim adres",
            "who_does": "Linda",
            "checker": "Fatima",
            "audience": "professionals",
            "excluded": str(hasan),
        },
    )
    assert response.status_code == 422
    assert "Kies een van de twee" in response.text
    assert "Geheim adres" in response.text  # what was typed comes back


async def test_the_coordinators_export_says_what_is_not_for_whom(world, db, browser):
    """Issue 15: printed at the kitchen table, an export without the label leaks."""
    async with db.begin() as session:
        hasan = (await session.get(Participant, world.network.id)).person_id
    fatima = browser()
    await fatima.login(world.coordinator.email)
    plan = f"/cases/{world.case.id}/plan"
    await fatima.post(
        f"{plan}/agreements",
        {
            "phase": "1",
            "what": "Linda slaapt bij oma",
            "who_does": "Linda",
            "checker": "Fatima",
            "audience": "except",
            "excluded": str(hasan),
        },
    )
    await fatima.post(
        f"{plan}/incidents",
        {
            "occurred_on": "2026-11-30",
            "what": "Ruzie",
            "reported_by": "Linda",
            "audience": "professionals",
        },
    )
    export = (await fatima.get(f"/cases/{world.case.id}/plan.md")).text
    line = next(x for x in export.splitlines() if "Linda slaapt bij oma" in x)
    assert "Niet voor: Hasan" in line
    line = next(x for x in export.splitlines() if "Ruzie" in x)
    assert "Alleen professionals" in line
