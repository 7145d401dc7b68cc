"""Case pages: creating a case, adding people, forms that keep what was typed, fragments."""

from __future__ import annotations

from bs4 import BeautifulSoup
from sqlalchemy import select

from workspace.cases.actions import CaseChanged
from workspace.models import Case, Participant, Person


def soup(response):
    return BeautifulSoup(response.text, "html.parser")


async def test_professional_creates_a_case_and_becomes_its_coordinator(browser, world, db):
    b = browser()
    await b.login(world.professional.email)
    response = await b.post("/cases", {"title": "Wijk Oost 12"})
    assert response.status_code == 303
    page = await b.get(response.headers["location"])
    assert "Wijk Oost 12" in page.text
    assert "Regisseur" in soup(page).find(id="title").text


async def test_empty_case_title_comes_back_with_a_message(browser, world, db):
    b = browser()
    await b.login(world.professional.email)
    response = await b.post("/cases", {"title": "   "})
    assert response.status_code == 422
    assert "korte naam" in soup(response).find(class_="error").text
    async with db.begin() as session:
        assert len((await session.scalars(select(Case))).all()) == 2


async def test_members_and_managers_cannot_start_cases(browser, world):
    b = browser()
    await b.login(world.manager.email)
    assert (await b.post("/cases", {"title": "X"})).status_code == 404


async def test_adding_a_person_with_bad_input_keeps_what_was_typed(browser, world):
    b = browser()
    await b.login(world.coordinator.email)
    response = await b.post(
        f"/cases/{world.case.id}/persons",
        {"name": "Noor", "kind": "household", "relation": "dochter", "birth_year": "twintig"},
    )
    assert response.status_code == 422
    form = soup(response).find("input", {"name": "birth_year"}).find_parent("form")
    assert form.find("input", {"name": "name"})["value"] == "Noor"
    assert form.find("input", {"name": "relation"})["value"] == "dochter"
    assert form.find("input", {"name": "birth_year"})["value"] == "twintig"
    assert "geboortejaar" in form.find(class_="error").text.lower()


async def test_adding_a_person_shows_them_in_wie_is_wie(browser, world, app):
    b = browser()
    await b.login(world.coordinator.email)
    response = await b.post(
        f"/cases/{world.case.id}/persons",
        {
            "name": "Noor",
            "kind": "household",
            "relation": "dochter",
            "birth_year": "2013",
            "participates": "1",
        },
    )
    assert response.status_code == 303
    page = await b.get(f"/cases/{world.case.id}")
    people = soup(page).find(id="people")
    assert "Noor" in people.text and "Gezinslid" in people.text
    assert CaseChanged(world.case.id, "people") in app.state.events.recent


async def test_htmx_request_gets_only_the_people_fragment(browser, world):
    b = browser()
    await b.login(world.coordinator.email)
    response = await b.post(
        f"/cases/{world.case.id}/persons",
        {"name": "Sem", "kind": "household", "relation": "zoon"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    assert response.text.lstrip().startswith('<section id="people"')
    assert "<html" not in response.text and "Sem" in response.text


async def test_a_person_can_be_recorded_without_taking_part(browser, world, db):
    b = browser()
    await b.login(world.coordinator.email)
    await b.post(f"/cases/{world.case.id}/persons", {"name": "Baby", "kind": "household"})
    async with db.begin() as session:
        person = await session.scalar(select(Person).where(Person.name == "Baby"))
        assert (
            await session.scalar(select(Participant).where(Participant.person_id == person.id))
            is None
        )
    page = await b.get(f"/cases/{world.case.id}")
    assert "doet niet zelf mee" in page.text


async def test_adding_an_unknown_professional_says_so(browser, world):
    b = browser()
    await b.login(world.coordinator.email)
    response = await b.post(
        f"/cases/{world.case.id}/participants",
        {"email": "niemand@example.org", "role": "professional", "case_function": "GGZ"},
    )
    assert response.status_code == 422
    form = soup(response).find("input", {"name": "case_function"}).find_parent("form")
    assert form.find("input", {"name": "email"})["value"] == "niemand@example.org"
    assert "geen professional" in form.text


async def test_invitation_shows_link_and_qr_once(browser, world):
    b = browser()
    await b.login(world.coordinator.email)
    response = await b.post(f"/cases/{world.case.id}/participants/{world.household.id}/invitations")
    assert response.status_code == 200
    page = soup(response)
    link = page.find(id="invite-url")["value"]
    assert link.startswith("http://testserver/uitnodiging/")
    assert page.find(class_="qr").find("svg") is not None
    again = await b.get(f"/cases/{world.case.id}")
    assert link not in again.text  # only its hash is kept


async def test_wie_is_wie_explains_each_role_from_the_policy(browser, world):
    from workspace.access import may_do
    from workspace.models import CaseRole

    b = browser()
    await b.login(world.observer.email)
    page = soup(await b.get(f"/cases/{world.case.id}"))
    roles = page.find("details", class_="roles").text
    for item in may_do(CaseRole.COORDINATOR):
        assert item in roles
    assert "Meelezer" in roles
    # An observer sees who is who but gets no forms to change it.
    assert page.find("form", {"action": f"/cases/{world.case.id}/persons"}) is None


async def test_english_second(browser, world):
    b = browser()
    await b.login(world.coordinator.email)
    await b.post("/taal", {"lang": "en", "next": "/cases"})
    page = await b.get("/cases")
    assert "My families" in page.text
    assert soup(page).html["lang"] == "en"
