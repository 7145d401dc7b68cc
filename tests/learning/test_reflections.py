"""Reflection logs and the manager's review through HTTP: private by default, shared per
entry without case-identifying data, unshared looks missing, every read audited."""

from __future__ import annotations

import io
import uuid

from pypdf import PdfReader
from sqlalchemy import func, select

from tests.learning.conftest import ANOUK, FATIMA, JOOST, MANAGER, MEHMET, SANNE, soup
from workspace.learning.models import Reflection, Response
from workspace.models import AuditEvent, User

NAMES = ["Erik", "Linda", "Bakker", "Noor", "Familie Bakker", "06-12345678"]


async def _write(browser, **values) -> str:
    data = {"audience": "private", **values}
    response = await browser.post("/leren/reflecties", data)
    assert response.status_code == 303, response.text
    return response.headers["location"].rsplit("/", 1)[1]


async def _reads(db, email: str) -> list[str]:
    async with db.begin() as session:
        user = await session.scalar(select(User).where(User.email == email))
        return list(
            await session.scalars(
                select(AuditEvent.object_id).where(
                    AuditEvent.user_id == user.id, AuditEvent.action == "reflection.read"
                )
            )
        )


async def test_a_reflection_is_private_until_shared_and_then_shown_without_the_family(
    db, demo, signed_in
):
    fatima = await signed_in(FATIMA)
    manager = await signed_in(MANAGER)
    private = await _write(
        fatima,
        title="Na het huisbezoek",
        body="Erik en Linda Bakker maakten ruzie; ik belde 06-12345678.",
        case_id=demo.case_id,
        **{"p-twijfel": "Had ik Noor apart moeten spreken?"},
    )
    missing = await manager.get(f"/leren/reflecties/{uuid.uuid4()}")
    unshared = await manager.get(f"/leren/reflecties/{private}")
    assert missing.status_code == unshared.status_code == 404
    assert soup(missing).select_one("main").text == soup(unshared).select_one("main").text

    page = soup(await fatima.get(f"/leren/reflecties/{private}"))
    version = page.select_one("input[name=version]")["value"]
    response = await fatima.post(
        f"/leren/reflecties/{private}",
        {
            "title": "Na het huisbezoek",
            "body": "Erik en Linda Bakker maakten ruzie; ik belde 06-12345678.",
            "case_id": demo.case_id,
            "p-twijfel": "Had ik Noor apart moeten spreken?",
            "audience": "manager",
            "version": version,
            "tags": "veiligheid",
        },
    )
    assert response.status_code == 303
    shown = await manager.get(f"/leren/reflecties/{private}")
    assert shown.status_code == 200
    main = soup(shown).select_one("main").get_text(" ")
    for name in NAMES:
        assert name not in main, name
    assert "vader" in main and "moeder" in main and "[telefoonnummer]" in main
    assert demo.case_id not in shown.text and "Familie" not in main
    # The author sees what others read, and still their own words.
    own = soup(await fatima.get(f"/leren/reflecties/{private}"))
    assert "vader" in own.select_one(".shared-preview").text
    assert "Erik" in own.select_one("#r-body").text
    assert private in await _reads(db, MANAGER)


async def test_the_manager_sees_only_what_their_team_shared_with_them(db, demo, signed_in):
    sanne = await signed_in(SANNE)
    mehmet = await signed_in(MEHMET)
    manager = await signed_in(MANAGER)
    to_manager = await _write(
        sanne, body="Gedeeld met de leidinggevende", audience="manager", tags="regels"
    )
    to_team = await _write(
        mehmet, body="Gedeeld met het team", audience="team", signal="Regels werken tegen"
    )
    private = await _write(mehmet, body="Alleen voor mij")
    # Joost is in another organisation: his shared entry is not this manager's to read.
    elsewhere = await _write(await signed_in(JOOST), body="Andere organisatie", audience="manager")

    page = await manager.get("/leren/overzicht")
    assert page.status_code == 200
    listed = {a["href"].rsplit("/", 1)[1] for a in soup(page).select("#main article h3 a")}
    assert {to_manager, to_team} <= listed
    assert private not in listed and elsewhere not in listed
    assert "Alleen voor mij" not in page.text and "Andere organisatie" not in page.text
    assert "Regels werken tegen" in soup(page).select_one("#signalen").text
    # Charts are SVG drawn on the server, with the numbers as a table too.
    assert soup(page).select("svg.learning-chart title")
    for reflection_id in (private, elsewhere):
        assert (await manager.get(f"/leren/reflecties/{reflection_id}")).status_code == 404
    # Every entry shown was audited as read by the manager, and the page itself too.
    reads = await _reads(db, MANAGER)
    assert {to_manager, to_team} <= set(reads) and private not in reads
    async with db.begin() as session:
        assert (
            await session.scalar(
                select(func.count())
                .select_from(AuditEvent)
                .where(AuditEvent.action == "review.view")
            )
            == 1
        )


async def test_colleagues_read_only_what_was_shared_with_the_team(db, demo, signed_in):
    sanne = await signed_in(SANNE)
    anouk = await signed_in(ANOUK)
    to_team = await _write(sanne, body="Voor het team", audience="team")
    to_manager = await _write(sanne, body="Voor de leidinggevende", audience="manager")
    page = await anouk.get("/leren/team")
    assert "Voor het team" in page.text and "Voor de leidinggevende" not in page.text
    assert (await anouk.get(f"/leren/reflecties/{to_team}")).status_code == 200
    assert (await anouk.get(f"/leren/reflecties/{to_manager}")).status_code == 404
    assert to_team in await _reads(db, ANOUK)
    # Managers have no reflection log of their own; members of a family never see any of it.
    assert (await (await signed_in(MANAGER)).get("/leren/team")).status_code == 404
    assert (await (await signed_in(SANNE)).get("/leren/overzicht")).status_code == 404


async def test_a_manager_responds_to_support_learning_and_marks_a_signal_raised(
    db, demo, signed_in
):
    fatima = await signed_in(FATIMA)
    manager = await signed_in(MANAGER)
    entry = await _write(
        fatima, body="Wachtlijst", audience="manager", signal="Schuldhulp duurt te lang"
    )
    page = soup(await manager.get(f"/leren/reflecties/{entry}"))
    assert "beweegredenen" in page.select_one("#reacties").text
    response = await manager.post(f"/leren/reflecties/{entry}/reactie", {"response": ""})
    assert response.status_code == 422
    assert "Schrijf je reactie op." in soup(response).select_one("#re-response-e").text
    response = await manager.post(
        f"/leren/reflecties/{entry}/reactie", {"response": "Wat heb je nodig?"}
    )
    assert response.status_code == 303
    assert "Wat heb je nodig?" in (await fatima.get(f"/leren/reflecties/{entry}")).text
    assert (await manager.post(f"/leren/reflecties/{entry}/agenderen")).status_code == 303
    async with db.begin() as session:
        reflection = await session.get(Reflection, uuid.UUID(entry))
        assert reflection.signal_raised_at is not None
        assert await session.scalar(select(func.count()).select_from(Response)) == 1
    # A colleague cannot answer what was not shared with them.
    response = await (await signed_in(SANNE)).post(
        f"/leren/reflecties/{entry}/reactie", {"response": "x"}
    )
    assert response.status_code == 404


async def test_bad_input_keeps_what_was_typed(demo, signed_in):
    fatima = await signed_in(FATIMA)
    response = await fatima.post(
        "/leren/reflecties",
        {"title": "Leeg", "audience": "iedereen", "more_tags": "x" * 40, "tags": "wachtlijst"},
    )
    assert response.status_code == 422
    page = soup(response)
    assert page.select_one("#r-title")["value"] == "Leeg"
    assert "Schrijf iets op" in page.select_one("#r-body-e").text
    assert page.select_one("input[name=tags][value=wachtlijst]").has_attr("checked")
    assert "30 tekens" in response.text and "Kies met wie je dit deelt" in response.text


async def test_the_digest_holds_lessons_and_signals_without_names_as_markdown_and_pdf(
    db, demo, signed_in
):
    manager = await signed_in(MANAGER)
    md = await manager.get("/leren/leeroverzicht.md")
    assert md.status_code == 200 and md.headers["content-type"].startswith("text/markdown")
    assert "schuldhulp hoort in fase 1" in md.text  # a lesson of the demo's closed session
    assert "wachtlijst voor schuldhulp" in md.text  # a signal shared with the manager
    for name in NAMES:
        assert name not in md.text, name
    pdf = await manager.get("/leren/leeroverzicht.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages)
    assert "Leeroverzicht" in text and "schuldhulp" in text
    assert (await (await signed_in(FATIMA)).get("/leren/leeroverzicht.md")).status_code == 404
    async with db.begin() as session:
        exports = await session.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "digest.export")
        )
    assert exports == 2


async def test_family_members_and_visitors_find_no_learning_pages(browser, db, demo, settings):
    visitor = browser()
    response = await visitor.get("/leren/reflecties")
    assert response.status_code == 303 and response.headers["location"].startswith("/login")
    member = browser()
    link = dict(demo.invitations)["Linda Bakker"]
    assert (await member.claim(link)).status_code == 303
    for path in ("/leren", "/leren/reflecties", "/leren/team", "/leren/overzicht", "/intervisie"):
        assert (await member.get(path)).status_code == 404, path
