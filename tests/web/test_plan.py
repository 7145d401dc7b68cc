"""The family plan through HTTP on a real migrated database: records, decisions with organised
dissent, regime and phase changes, visibility per role, stale forms, audit."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

from bs4 import BeautifulSoup
from sqlalchemy import select

from tests.conftest import World, invite
from workspace.models import AuditEvent, Case
from workspace.plan.models import Agreement, Decision, DecisionEntry, Milestone, Section


def soup(response):
    return BeautifulSoup(response.text, "html.parser")


async def as_role(role: str, browser, world: World, settings, db):
    b = browser()
    if role in ("household", "network"):
        participant = world.household if role == "household" else world.network
        response = await b.claim(await invite(db, settings, world, participant))
        assert response.status_code == 303
    else:
        await b.login(getattr(world, role).email)
    return b


async def audit_actions(db, case_id) -> list[str]:
    async with db.begin() as session:
        return list(
            await session.scalars(
                select(AuditEvent.action).where(AuditEvent.case_id == case_id).order_by(AuditEvent.id)
            )
        )


def plan_url(world: World) -> str:
    return f"/cases/{world.case.id}/plan"


async def test_plan_page_shows_three_phases_sections_per_person_and_the_regime(browser, world, db):
    b = browser()
    await b.login(world.coordinator.email)
    page = soup(await b.get(plan_url(world)))
    phases = page.select("section.phase")
    assert [p["id"] for p in phases] == ["phase-1", "phase-2", "phase-3"]
    assert "current" in phases[0]["class"]
    assert page.select_one(".regime strong").text == "Vrijwillig"
    titles = [h.text.strip() for h in page.select(".plan-section h4")]
    assert "Zo ziet Linda het" in titles and "Zo ziet Hasan het" in titles
    assert "Herstelplan van Linda" in titles and "Herstelplan van Hasan" not in titles
    assert "Inkomen en schulden" in titles and "Wat beschermt" in titles
    editors = page.select("[data-document]")
    assert all(e["data-document"].startswith(f"case/{world.case.id}/section/") for e in editors)
    # Guidance is there, and nothing blocks on it.
    assert "Vraagverheldering" in page.select_one(".guidance").text
    assert "plan.view" in await audit_actions(db, world.case.id)


async def test_the_whole_flow_agreement_incident_scores_decision_dissent_regime_phase(
    browser, world, db, settings
):
    b = browser()
    await b.login(world.coordinator.email)
    case = f"/cases/{world.case.id}"

    response = await b.post(
        f"{case}/plan/agreements",
        {
            "phase": "1",
            "what": "Erik gaat naar buiten als de spanning oploopt en belt Kees.",
            "who_does": "Erik",
            "when": "als de spanning oploopt",
            "checker": "Kees",
            "if_it_fails": "Linda belt oma Ria",
            "audience": "all",
        },
    )
    assert response.status_code == 303 and response.headers["location"].endswith("#agreements")
    yesterday = (date.today() - timedelta(days=3)).isoformat()
    response = await b.post(
        f"{case}/plan/incidents",
        {"occurred_on": yesterday, "what": "Ruzie over geld, deur dichtgeslagen.", "audience": "all"},
    )
    assert response.status_code == 303
    page = soup(await b.get(plan_url(world)))
    assert "3 dagen" in page.select_one(".quiet").text
    question = page.select_one("select[name=question_id] option")["value"]
    response = await b.post(
        f"{case}/plan/scores",
        {
            "question_id": question,
            "asked_on": date.today().isoformat(),
            f"score-{world.household.id}": "4",
            f"score-{world.professional_participant.id}": "3",
        },
    )
    assert response.status_code == 303
    chart = soup(await b.get(plan_url(world))).select_one("#scores svg")
    assert chart is not None and chart.get("role") == "img"

    # A core decision that changes the regime: proposed, put to dissent, dissent answered.
    response = await b.post(
        f"{case}/decisions",
        {
            "phase": "1",
            "kind": "core",
            "question": "Inzet bevoegdheden?",
            "proposal": "Het regionaal veiligheidsteam zet bevoegdheden in.",
            "grounds": "Afspraken worden niet nagekomen.",
            "regime": "vrijwillig",
            "new_regime": "bevoegdheden",
            "decider": "De regisseur",
            "counter_id": str(world.professional_participant.id),
            "principle-subsidiariteit": "Lichtere middelen zijn geprobeerd.",
            "audience": "all",
        },
    )
    assert response.status_code == 303, response.text
    decision_url = response.headers["location"]
    decision_id = uuid.UUID(decision_url.rsplit("/", 1)[1])

    pro = browser()
    await pro.login(world.professional.email)
    response = await pro.post(
        f"{decision_url}/entries", {"kind": "dissent", "text": "Te zwaar: geef het gezin nog een maand."}
    )
    assert response.status_code == 303
    household = await as_role("household", browser, world, settings, db)
    response = await household.post(
        f"{decision_url}/entries", {"kind": "response", "text": "Wij willen het zelf nog proberen."}
    )
    assert response.status_code == 303

    page = soup(await b.get(decision_url))
    version = page.select_one("input[name=version]")["value"]
    response = await b.post(f"{decision_url}/step", {"step": "take", "version": version})
    assert response.status_code == 422
    assert "tegenspraak zonder antwoord" in soup(response).select_one("#thread").text
    async with db.begin() as session:
        assert (await session.get(Case, world.case.id)).regime == "vrijwillig"
        dissent = await session.scalar(select(DecisionEntry).where(DecisionEntry.kind == "dissent"))

    response = await b.post(
        f"{decision_url}/entries",
        {"kind": "answer", "answers": str(dissent.id), "text": "Een maand is te lang voor Noor."},
    )
    assert response.status_code == 303
    page = soup(await b.get(decision_url))
    version = page.select_one("input[name=version]")["value"]
    response = await b.post(f"{decision_url}/step", {"step": "take", "version": version})
    assert response.status_code == 303

    async with db.begin() as session:
        case_row = await session.get(Case, world.case.id)
        assert case_row.regime == "bevoegdheden"
        decision = await session.get(Decision, decision_id)
        assert decision.state == "taken"
        milestones = list(await session.scalars(select(Milestone)))
        assert [(m.kind, m.before, m.after) for m in milestones] == [
            ("regime", "vrijwillig", "bevoegdheden")
        ]
    page = soup(await b.get(plan_url(world)))
    assert page.select_one(".regime strong").text == "Inzet bevoegdheden"
    timeline = soup(await household.get(f"{case}/timeline"))
    marked = timeline.select("li.marked")
    assert marked and "Het kader veranderde van Vrijwillig naar Inzet bevoegdheden" in marked[0].text

    # Closing phase 1 is a decision that cites the phase's result.
    form = soup(await b.get(f"{case}/decisions/new?sluit=1"))
    assert form.select_one("input[name=closes_phase]")["value"] == "1"
    assert "stress" in form.text or "spanning" in form.text
    response = await b.post(
        f"{case}/decisions",
        {
            "phase": "1",
            "kind": "ordinary",
            "closes_phase": "1",
            "question": "Fase 1 afsluiten?",
            "proposal": "Door naar fase 2.",
            "grounds": "Zes weken geen geweld; afspraken werken.",
            "regime": "bevoegdheden",
            "decider": "De regisseur met het gezin",
        },
    )
    assert response.status_code == 303
    close_url = response.headers["location"]
    version = soup(await b.get(close_url)).select_one("input[name=version]")["value"]
    response = await b.post(f"{close_url}/step", {"step": "dissent", "version": version})
    assert response.status_code == 303
    version = soup(await b.get(close_url)).select_one("input[name=version]")["value"]
    response = await b.post(f"{close_url}/step", {"step": "take", "version": version})
    assert response.status_code == 303
    async with db.begin() as session:
        assert (await session.get(Case, world.case.id)).phase == 2
    page = soup(await b.get(plan_url(world)))
    assert "current" in page.select_one("#phase-2")["class"]

    actions = await audit_actions(db, world.case.id)
    for action in (
        "agreement.create",
        "incident.create",
        "score.create",
        "decision.create",
        "dissent.create",
        "response.create",
        "answer.create",
        "decision.take",
        "case.regime",
        "case.phase",
        "decision.view",
        "timeline.view",
    ):
        assert action in actions, action


async def test_bad_input_comes_back_with_what_was_typed_and_a_dutch_message(browser, world, db):
    b = browser()
    await b.login(world.coordinator.email)
    response = await b.post(
        f"/cases/{world.case.id}/plan/agreements",
        {"phase": "1", "what": "Linda belt oma", "who_does": "", "checker": "", "audience": "all"},
    )
    assert response.status_code == 422
    page = soup(response)
    form = page.select_one("#phase-1 details.add[open] form")
    assert form.select_one("textarea[name=what]").text == "Linda belt oma"
    assert "Schrijf op wie het doet." in form.text
    assert "Schrijf op wie controleert of het lukt." in form.text
    async with db.begin() as session:
        assert list(await session.scalars(select(Agreement))) == []
    response = await b.post(
        f"/cases/{world.case.id}/plan/incidents",
        {"occurred_on": "morgen", "what": "iets"},
    )
    assert response.status_code == 422
    assert "Dit is geen datum" in response.text
    response = await b.post(
        f"/cases/{world.case.id}/plan/scores",
        {"question_id": "x", "asked_on": date.today().isoformat(), f"score-{world.household.id}": "11"},
    )
    assert response.status_code == 422
    assert "Kies een getal van 0 tot en met 10." in response.text


async def test_a_stale_status_change_is_refused_and_shown(browser, world, db):
    b = browser()
    await b.login(world.coordinator.email)
    await b.post(
        f"/cases/{world.case.id}/plan/agreements",
        {"phase": "1", "what": "Afspraak", "who_does": "Erik", "checker": "Kees", "audience": "all"},
    )
    async with db.begin() as session:
        agreement = await session.scalar(select(Agreement))
    url = f"/cases/{world.case.id}/plan/agreements/{agreement.id}/status"
    assert (await b.post(url, {"status": "going_well", "version": "1"})).status_code == 303
    response = await b.post(url, {"status": "not_working", "version": "1"})
    assert response.status_code == 409
    assert "intussen veranderd" in soup(response).select_one(f"#agreement-{agreement.id}").text
    async with db.begin() as session:
        assert (await session.get(Agreement, agreement.id)).status == "going_well"


async def test_dissent_is_corrected_by_a_new_version_and_the_old_stays_visible(
    browser, world, db, settings
):
    b = browser()
    await b.login(world.coordinator.email)
    response = await b.post(
        f"/cases/{world.case.id}/decisions",
        {"phase": "1", "kind": "ordinary", "question": "Vraag?", "proposal": "Voorstel",
         "grounds": "Reden", "regime": "vrijwillig", "decider": "Regisseur"},
    )
    url = response.headers["location"]
    household = await as_role("household", browser, world, settings, db)
    await household.post(f"{url}/entries", {"kind": "dissent", "text": "Eerste versie"})
    async with db.begin() as session:
        first = await session.scalar(select(DecisionEntry))
    response = await household.post(
        f"{url}/entries", {"kind": "dissent", "text": "Verbeterde versie", "supersedes": str(first.id)}
    )
    assert response.status_code == 303
    # Nobody else can correct it; a second correction of the same version is stale.
    response = await b.post(
        f"{url}/entries", {"kind": "dissent", "text": "Door een ander", "supersedes": str(first.id)}
    )
    assert response.status_code == 409
    async with db.begin() as session:
        rows = list(await session.scalars(select(DecisionEntry).order_by(DecisionEntry.created_at)))
    assert [r.text for r in rows] == ["Eerste versie", "Verbeterde versie"]
    page = soup(await b.get(url))
    thread = page.select_one("#thread")
    assert "Verbeterde versie" in thread.text
    assert "Eerste versie" in thread.select_one(".versions").text
    assert "gecorrigeerd" in thread.text


async def test_visibility_per_role_on_pages_fragments_and_exports(browser, world, db, settings):
    coordinator = browser()
    await coordinator.login(world.coordinator.email)
    async with db.begin() as session:
        linda = (await session.get(type(world.household), world.household.id)).person_id
    case = f"/cases/{world.case.id}"
    await coordinator.post(
        f"{case}/plan/agreements",
        {"phase": "1", "what": "GEHEIM-VOOR-LINDA", "who_does": "Fatima", "checker": "Joost",
         "audience": "except", "excluded": str(linda)},
    )
    await coordinator.post(
        f"{case}/plan/agreements",
        {"phase": "1", "what": "ALLEEN-PROFS", "who_does": "Fatima", "checker": "Joost",
         "audience": "professionals"},
    )
    await coordinator.post(
        f"{case}/plan/agreements",
        {"phase": "1", "what": "VOOR-IEDEREEN", "who_does": "Erik", "checker": "Kees",
         "audience": "all"},
    )
    response = await coordinator.post(
        f"{case}/decisions",
        {"phase": "1", "kind": "ordinary", "question": "PROF-BESLUIT", "proposal": "p",
         "grounds": "g", "regime": "vrijwillig", "decider": "d", "audience": "professionals"},
    )
    decision_url = response.headers["location"]

    expected = {
        "coordinator": {"GEHEIM-VOOR-LINDA", "ALLEEN-PROFS", "VOOR-IEDEREEN", "PROF-BESLUIT"},
        "professional": {"GEHEIM-VOOR-LINDA", "ALLEEN-PROFS", "VOOR-IEDEREEN", "PROF-BESLUIT"},
        "household": {"VOOR-IEDEREEN"},
        "network": {"GEHEIM-VOOR-LINDA", "VOOR-IEDEREEN"},
        # "Everyone except Linda" includes the teacher who follows the agreements.
        "observer": {"GEHEIM-VOOR-LINDA", "VOOR-IEDEREEN"},
    }
    everything = expected["coordinator"]
    for role, sees in expected.items():
        b = coordinator if role == "coordinator" else await as_role(role, browser, world, settings, db)
        page = (await b.get(plan_url(world))).text
        fragment = (
            await b.get(f"{plan_url(world)}?fragment=agreements-1", headers={"HX-Request": "true"})
        ).text
        export = await b.get(f"{case}/plan.md")
        timeline = await b.get(f"{case}/timeline")
        for word in everything:
            assert (word in page) == (word in sees), (role, word, "page")
            if word.startswith(("GEHEIM", "ALLEEN", "VOOR")):
                assert (word in fragment) == (word in sees), (role, word, "fragment")
            if export.status_code == 200:
                assert (word in export.text) == (word in sees), (role, word, "export")
            if timeline.status_code == 200:
                assert (word in timeline.text) == (word in sees), (role, word, "timeline")
        decision = await b.get(decision_url)
        assert decision.status_code == (200 if "PROF-BESLUIT" in sees else 404), role
    # Observers follow the agreements only: the rest of the plan is not for their role.
    observer = await as_role("observer", browser, world, settings, db)
    assert (await observer.get(f"{case}/plan.md")).status_code == 200
    assert "Zo ziet" not in (await observer.get(plan_url(world))).text


async def test_household_cannot_decide_and_outsider_gets_the_same_404(browser, world, db, settings):
    coordinator = browser()
    await coordinator.login(world.coordinator.email)
    response = await coordinator.post(
        f"/cases/{world.case.id}/decisions",
        {"phase": "1", "kind": "ordinary", "question": "Vraag?", "proposal": "Voorstel",
         "grounds": "Reden", "regime": "vrijwillig", "decider": "Regisseur"},
    )
    url = response.headers["location"]
    household = await as_role("household", browser, world, settings, db)
    assert (await household.post(f"{url}/step", {"step": "dissent", "version": "1"})).status_code == 404
    assert (await household.post(f"/cases/{world.case.id}/decisions", {"question": "x"})).status_code == 404
    outsider = await as_role("outsider", browser, world, settings, db)
    missing = await outsider.get(f"/cases/{world.case.id}/decisions/{uuid.uuid4()}")
    forbidden = await outsider.get(url)
    assert missing.status_code == forbidden.status_code == 404
    assert soup(missing).select_one("main").text == soup(forbidden).select_one("main").text


async def test_an_extra_section_with_its_own_audience_is_its_own_document(browser, world, db, settings):
    coordinator = browser()
    await coordinator.login(world.coordinator.email)
    async with db.begin() as session:
        linda = (await session.get(type(world.household), world.household.id)).person_id
    response = await coordinator.post(
        f"/cases/{world.case.id}/plan/sections",
        {"phase": "1", "title": "Veiligheidsplan van Hasan", "audience": "except", "excluded": str(linda)},
    )
    assert response.status_code == 303
    async with db.begin() as session:
        section = await session.scalar(select(Section).where(Section.key == "extra"))
    document = f"case/{world.case.id}/section/{section.id}"
    assert document in (await coordinator.get(plan_url(world))).text
    household = await as_role("household", browser, world, settings, db)
    page = (await household.get(plan_url(world))).text
    assert "Veiligheidsplan van Hasan" not in page and str(section.id) not in page
    response = await household.post(
        f"/cases/{world.case.id}/plan/sections/{section.id}/text", {"text": "x", "version": ""}
    )
    assert response.status_code == 404
