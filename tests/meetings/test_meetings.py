"""Meetings through HTTP on a real migrated database: planning, opening, the chair's screen,
joining with a code through the lobby, records made in the meeting, closing, minutes."""

from __future__ import annotations

import re
from datetime import date

from bs4 import BeautifulSoup
from sqlalchemy import select

from tests.conftest import World
from workspace.meetings.models import Meeting, Minutes
from workspace.models import AuditEvent, Participant, Session
from workspace.plan.models import Agreement, Score


def _pdf_text(data: bytes) -> str:
    import io

    from pypdf import PdfReader

    return " ".join(" ".join(p.extract_text().split()) for p in PdfReader(io.BytesIO(data)).pages)


def soup(response):
    return BeautifulSoup(response.text, "html.parser")


async def plan_meeting(b, world: World, **extra) -> str:
    data = {
        "title": "Gezinsplanoverleg 1",
        "starts_at": "2026-12-03T14:00",
        "place": "Bij het gezin thuis",
        "chair_id": str(await coordinator_participant(b, world)),
        **extra,
    }
    response = await b.post(f"/cases/{world.case.id}/meetings", data)
    assert response.status_code == 303, response.text
    return response.headers["location"]


async def coordinator_participant(b, world: World):
    page = soup(await b.get(f"/cases/{world.case.id}/meetings"))
    option = page.select_one("select[name=chair_id] option[selected]")
    return option["value"]


def version_of(page) -> str:
    return page.select_one("input[name=version]")["value"]


async def test_a_meeting_is_planned_with_a_default_agenda(browser, world, db):
    b = browser()
    await b.login(world.coordinator.email)
    url = await plan_meeting(b, world)
    page = soup(await b.get(url))
    items = [li.a.text.strip() for li in page.select("#agenda li")]
    assert items[0] == "Hoe gaat het? Schaalvragen"
    assert "Wat er gebeurde en wat moet stoppen" in items
    assert "Zo ziet ieder het" in items
    assert "Veiligheidsafspraken: hoe gaat het?" in items
    assert page.select_one("button", string="Overleg openen") is not None or "Overleg openen" in page.text
    async with db.begin() as session:
        actions = list(await session.scalars(select(AuditEvent.action)))
    assert "meeting.create" in actions and "meeting.view" in actions


async def test_planning_with_bad_input_keeps_what_was_typed(browser, world):
    b = browser()
    await b.login(world.coordinator.email)
    response = await b.post(
        f"/cases/{world.case.id}/meetings",
        {"title": "Overleg met oma", "starts_at": "morgen", "chair_id": ""},
    )
    assert response.status_code == 422
    page = soup(response)
    assert page.select_one("#f-title")["value"] == "Overleg met oma"
    assert page.select_one("#f-starts_at")["value"] == "morgen"
    assert "Dit is geen datum en tijd" in page.text
    assert "Kies wie het overleg leidt" in page.text


async def test_household_and_network_cannot_plan_or_chair(browser, world, db, settings):
    from tests.web.test_plan import as_role

    chair = browser()
    await chair.login(world.coordinator.email)
    url = await plan_meeting(chair, world)
    linda = await as_role("household", browser, world, settings, db)
    page = soup(await linda.get(url))
    assert "Overleg openen" not in page.text
    response = await linda.post(url + "/open", {"version": "1"})
    assert response.status_code == 404
    response = await linda.post(
        f"/cases/{world.case.id}/meetings",
        {"title": "x", "starts_at": "2026-12-03T14:00", "chair_id": ""},
    )
    assert response.status_code == 404
    observer = await as_role("observer", browser, world, settings, db)
    assert (await observer.get(url)).status_code == 404
    outsider = browser()
    await outsider.login(world.outsider.email)
    assert (await outsider.get(url)).status_code == 404


async def _open(b, url: str) -> BeautifulSoup:
    page = soup(await b.get(url))
    form = page.select_one("form[action$='/open']")
    response = await b.post(url + "/open", {"version": form.select_one("input[name=version]")["value"]})
    assert response.status_code == 303, response.text
    return soup(await b.get(url))


async def test_a_whole_meeting_over_http(browser, world, db, settings, app):
    """Open, a guest joins with the code and is admitted, records are made in the meeting,
    the chair closes it, and the minutes hold all of it."""
    chair = browser()
    await chair.login(world.coordinator.email)
    url = await plan_meeting(chair, world)
    page = await _open(chair, url)
    code = page.select_one(".join-code strong").text.strip()
    assert re.fullmatch(r"[A-Z2-9]{6}", code)
    meeting_id = url.rsplit("/", 1)[1]

    # A phone joins with the code: the lobby shows nothing of the plan.
    phone = browser()
    response = await phone.post("/meedoen", {"code": code.lower(), "name": "Hasan"})
    assert response.status_code == 303 and response.headers["location"] == "/meedoen/wacht"
    lobby = await phone.get("/meedoen/wacht")
    assert "Je wacht tot de voorzitter je binnenlaat" in lobby.text
    assert "Veiligheidsafspraken" not in lobby.text
    assert (await phone.get(url)).status_code in (303, 401, 404)

    # The chair sees the guest waiting and links them to their person.
    page = soup(await chair.get(url))
    waiting = page.select_one("#lobby .card")
    assert "Hasan" in waiting.text
    async with db.begin() as session:
        hasan = await session.get(Participant, world.network.id)
        person_id = hasan.person_id
    admit = waiting.select_one("form[action$='/admit']")["action"]
    response = await chair.post(admit, {"person_id": str(person_id)})
    assert response.status_code == 303
    lobby = soup(await phone.get("/meedoen/wacht"))
    assert "De voorzitter heeft je toegelaten" in lobby.text
    response = await phone.post("/meedoen/verder", {})
    assert response.status_code == 303 and response.headers["location"] == url
    page = soup(await phone.get(url))
    assert page.select_one("#meeting-h") is not None
    # Only once: the lobby cookie cannot mint a second session.
    assert (await phone.post("/meedoen/verder", {})).status_code == 404

    # Records made in the meeting are linked to it.
    response = await phone.post(
        f"/cases/{world.case.id}/plan/agreements",
        {"phase": "1", "what": "Hasan belt aan als hij geschreeuw hoort.", "who_does": "Hasan",
         "checker": "Fatima", "meeting_id": meeting_id},
    )
    assert response.status_code == 303 and response.headers["location"].startswith(url)
    questions = soup(await chair.get(url)).select_one("select[name=question_id] option")["value"]
    response = await chair.post(
        f"/cases/{world.case.id}/plan/scores",
        {"question_id": questions, "asked_on": date.today().isoformat(),
         f"score-{world.household.id}": "4", "meeting_id": meeting_id},
    )
    assert response.status_code == 303
    async with db.begin() as session:
        agreement = await session.scalar(select(Agreement))
        score = await session.scalar(select(Score))
        assert str(agreement.meeting_id) == meeting_id and str(score.meeting_id) == meeting_id

    # A stale chair screen is refused with an explanation.
    stale = soup(await chair.get(url))
    focus_forms = stale.select("form[action$='/focus']")
    first = focus_forms[0]
    data = {i["name"]: i.get("value", "") for i in first.select("input") if i.get("name") != "csrf_token"}
    assert (await chair.post(first["action"], data)).status_code == 303
    second = focus_forms[1]
    data = {i["name"]: i.get("value", "") for i in second.select("input") if i.get("name") != "csrf_token"}
    response = await chair.post(second["action"], data)
    assert response.status_code == 409
    assert "niet meer actueel" in response.text

    # Closing: the guest's session ends, the code stops working, minutes are made.
    page = soup(await chair.get(url))
    close = page.select_one("form[action$='/close']")
    response = await chair.post(
        close["action"], {"version": close.select_one("input[name=version]")["value"], "reaction_days": "5"}
    )
    assert response.status_code == 303 and response.headers["location"].endswith("/verslag")
    assert (await phone.get(url)).status_code in (303, 401, 404)
    again = await browser().post("/meedoen", {"code": code, "name": "Iemand"})
    assert again.status_code == 422 and "Deze code werkt niet (meer)" in again.text
    minutes = await chair.get(response.headers["location"])
    assert minutes.status_code == 200
    text = minutes.text
    assert "Hasan belt aan als hij geschreeuw hoort." in text
    assert "Linda: <strong>4</strong>" in text or "Linda" in text
    markdown = await chair.get(response.headers["location"] + ".md")
    assert "Hasan belt aan als hij geschreeuw hoort." in markdown.text
    pdf = await chair.get(response.headers["location"] + ".pdf")
    assert pdf.headers["content-type"] == "application/pdf"
    assert "Hasan belt aan als hij geschreeuw hoort." in _pdf_text(pdf.content)
    async with db.begin() as session:
        meeting = await session.scalar(select(Meeting))
        assert meeting.state == "closed" and meeting.code is None
        assert await session.scalar(select(Minutes)) is not None
        guest_sessions = list(await session.scalars(select(Session).where(Session.guest_id.is_not(None))))
        assert guest_sessions and all(s.revoked_at is not None for s in guest_sessions)


async def _close(b, url: str) -> str:
    form = soup(await b.get(url)).select_one("form[action$='/close']")
    response = await b.post(
        form["action"],
        {"version": form.select_one("input[name=version]")["value"], "reaction_days": "5"},
    )
    assert response.status_code == 303
    return response.headers["location"]


async def test_minutes_show_each_reader_only_their_share(browser, world, db, settings):
    from tests.web.test_plan import as_role

    chair = browser()
    await chair.login(world.coordinator.email)
    url = await plan_meeting(chair, world)
    await _open(chair, url)
    meeting_id = url.rsplit("/", 1)[1]
    async with db.begin() as session:
        linda = (await session.get(Participant, world.household.id)).person_id
    for what, audience, excluded in (
        ("VOOR-IEDEREEN", "all", ""),
        ("NIET-VOOR-LINDA", "except", str(linda)),
        ("ALLEEN-PROFS", "professionals", ""),
    ):
        response = await chair.post(
            f"/cases/{world.case.id}/plan/agreements",
            {"phase": "1", "what": what, "who_does": "Fatima", "checker": "Joost",
             "audience": audience, "excluded": excluded, "meeting_id": meeting_id},
        )
        assert response.status_code == 303
    minutes_url = await _close(chair, url)
    expected = {
        "coordinator": {"VOOR-IEDEREEN", "NIET-VOOR-LINDA", "ALLEEN-PROFS"},
        "household": {"VOOR-IEDEREEN"},
        "network": {"VOOR-IEDEREEN", "NIET-VOOR-LINDA"},
    }
    for role, sees in expected.items():
        b = chair if role == "coordinator" else await as_role(role, browser, world, settings, db)
        page = (await b.get(minutes_url)).text
        markdown = (await b.get(minutes_url + ".md")).text
        for word in expected["coordinator"]:
            assert (word in page) == (word in sees), (role, word)
            assert (word in markdown) == (word in sees), (role, word, "md")
    observer = await as_role("observer", browser, world, settings, db)
    assert (await observer.get(minutes_url)).status_code == 404
    # Printed at the kitchen table, the coordinator's minutes say what is not for whom.
    page = soup(await chair.get(minutes_url))
    card = next(li for li in page.select("li.card") if "NIET-VOOR-LINDA" in li.text)
    assert "Niet voor: Linda" in " ".join(card.text.split())
    card = next(li for li in page.select("li.card") if "ALLEEN-PROFS" in li.text)
    assert "Alleen professionals" in card.text
    markdown = (await chair.get(minutes_url + ".md")).text
    line = next(x for x in markdown.splitlines() if "NIET-VOOR-LINDA" in x)
    assert "Niet voor: Linda" in line


async def test_reactions_until_the_minutes_are_final(browser, world, db, settings):
    from datetime import timedelta

    from tests.web.test_plan import as_role
    from workspace.models import utcnow

    chair = browser()
    await chair.login(world.coordinator.email)
    url = await plan_meeting(chair, world)
    await _open(chair, url)
    minutes_url = await _close(chair, url)
    linda = await as_role("household", browser, world, settings, db)
    page = soup(await linda.get(minutes_url))
    assert "Dit is een concept" in page.text
    empty = await linda.post(minutes_url + "/reacties", {"text": "  "})
    assert empty.status_code == 422 and "Schrijf je reactie op." in empty.text
    response = await linda.post(minutes_url + "/reacties", {"text": "Noor was er ook bij."})
    assert response.status_code == 303
    assert "Noor was er ook bij." in (await chair.get(minutes_url)).text
    async with db.begin() as session:
        record = await session.scalar(select(Minutes))
        record.reactions_until = utcnow() - timedelta(minutes=1)
    page = soup(await linda.get(minutes_url))
    assert "Definitief" in page.text and "Noor was er ook bij." in page.text
    assert page.select_one("form[action$='/reacties']") is None
    late = await linda.post(minutes_url + "/reacties", {"text": "Nog iets."})
    assert late.status_code == 422 and "Het verslag is definitief" in late.text
    async with db.begin() as session:
        record = await session.scalar(select(Minutes))
        assert record.state == "final"


async def test_the_shared_screen_shows_only_what_is_for_everyone(browser, world, db, settings):
    from workspace.plan.actions import ensure_sections
    from workspace.plan.models import Section

    chair = browser()
    await chair.login(world.coordinator.email)
    async with db.begin() as session:
        await ensure_sections(session, world.case.id)
        plan = await session.scalar(
            select(Section).where(Section.case_id == world.case.id, Section.key == "veiligheidsplan")
        )
        linda = (await session.get(Participant, world.household.id)).person_id
        plan.audience = "except"
        plan.excluded = [str(linda)]
    url = await plan_meeting(chair, world)
    page = await _open(chair, url)
    item = next(li for li in page.select("#agenda li") if "Veiligheidsplan" in li.text)
    assert "niet voor iedereen" in item.text
    form = item.select_one("form[action$='/focus']")
    data = {i["name"]: i.get("value", "") for i in form.select("input") if i["name"] != "csrf_token"}
    assert (await chair.post(form["action"], data)).status_code == 303
    screen = soup(await chair.get(url + "/scherm"))
    focus = screen.select_one("#screen-focus")
    assert "niet voor iedereen bedoeld" in focus.text
    assert "Veiligheidsplan" not in focus.text
    assert "Veiligheidsplan" not in screen.select_one("#screen-agenda").text
    assert focus.select("[data-document]") == []
    code = screen.select_one(".screen-code").text.strip()
    assert code and screen.select_one(".qr svg") is not None


async def test_a_wrong_or_expired_code_says_what_to_do(browser, world, db):
    phone = browser()
    response = await phone.post("/meedoen", {"code": "ZZZZZZ", "name": "Noor"})
    assert response.status_code == 422
    page = soup(response)
    assert "Deze code werkt niet (meer)" in page.text
    assert page.select_one("#f-name")["value"] == "Noor"
    async with db.begin() as session:
        assert await session.scalar(select(AuditEvent).where(AuditEvent.action == "meeting.guest.join")) is None
    # Guessing is throttled like signing in.
    for _ in range(30):
        response = await phone.post("/meedoen", {"code": "ZZZZZZ", "name": "Noor"})
        if response.status_code == 429:
            break
    assert response.status_code == 429 and "Te veel mislukte pogingen" in response.text


async def test_the_timeline_lists_meetings(browser, world):
    b = browser()
    await b.login(world.coordinator.email)
    url = await plan_meeting(b, world)
    page = soup(await b.get(f"/cases/{world.case.id}/timeline?soort=meeting"))
    link = page.select_one(".timeline .kind-meeting a")
    assert link is not None and link["href"] == url


async def test_quiet_sections_get_a_version_in_between(app, world, db):
    from datetime import timedelta

    from sqlalchemy import update

    from realtime.tables import updates
    from workspace.meetings import versions
    from workspace.meetings.models import SectionVersion
    from workspace.models import utcnow
    from workspace.notes import section_document
    from workspace.plan.actions import ensure_sections
    from workspace.plan.models import Section

    async with db.begin() as session:
        await ensure_sections(session, world.case.id)
        section = await session.scalar(
            select(Section).where(Section.case_id == world.case.id, Section.key == "beschermend")
        )
    document = section_document(world.case.id, section.id)
    await app.state.realtime.replace_text(document, "Oma Ria.", "participant:x")
    async with db.begin() as session:
        assert await versions.quiet_sections(session, db.engine, world.case.id) == []
    async with db.engine.begin() as conn:
        await conn.execute(update(updates).values(created_at=utcnow() - timedelta(minutes=5)))
    async with db.begin() as session:
        quiet = await versions.quiet_sections(session, db.engine, world.case.id)
        assert [s.id for s in quiet] == [section.id]
        made = await versions.capture(session, app.state.realtime.store, quiet, "quiet", None)
        assert made[0].text == "Oma Ria."
    async with db.begin() as session:
        assert await versions.quiet_sections(session, db.engine, world.case.id) == []
        assert len(list(await session.scalars(select(SectionVersion)))) == 1


async def test_the_chair_can_show_any_part_of_the_plan(browser, world, db):
    chair = browser()
    await chair.login(world.coordinator.email)
    url = await plan_meeting(chair, world)
    page = await _open(chair, url)
    section = page.select_one("#phase-2 .plan-section", string=None)
    form = next(
        f for f in page.select("#sections-2 form[action$='/focus']")
        if "Inkomen en schulden" in f.find_parent("section").text
    )
    data = {i["name"]: i.get("value", "") for i in form.select("input") if i["name"] != "csrf_token"}
    assert data["target"].startswith("section:") and section is not None
    assert (await chair.post(form["action"], data)).status_code == 303
    page = soup(await chair.get(url))
    assert page.select_one("#agenda li.focus").text.strip().startswith("Inkomen en schulden")
    screen = soup(await chair.get(url + "/scherm"))
    assert "Inkomen en schulden" in screen.select_one("#screen-focus h2").text
    # Someone else's section id, or nonsense, is not a target.
    data["version"] = soup(await chair.get(url)).select_one("form[action$='/focus'] input[name=version]")["value"]
    data["target"] = f"section:{world.case.id}"
    assert (await chair.post(form["action"], data)).status_code == 404


async def test_meeting_fragments_are_blocks_with_the_meetings_context(browser, world):
    chair = browser()
    await chair.login(world.coordinator.email)
    url = await plan_meeting(chair, world)
    await _open(chair, url)
    htmx = {"HX-Request": "true"}
    people = await chair.get(url + "?fragment=meeting-presence", headers=htmx)
    assert people.status_code == 200 and people.text.lstrip().startswith('<section id="people"')
    agreements = soup(await chair.get(url + "?fragment=agreements-1", headers=htmx))
    # A plan block fetched for the meeting page keeps linking what it records to the meeting.
    assert agreements.select_one("#agreements-1") is not None
    assert (await chair.get(url + "?fragment=meeting-presence")).status_code == 404
    assert (await chair.get(url + "?fragment=nope", headers=htmx)).status_code == 404
    page = soup(await chair.get(url))
    form = page.select_one("#phase-1 form[action$='/plan/agreements']")
    assert form.select_one("input[name=meeting_id]")["value"] == url.rsplit("/", 1)[1]
