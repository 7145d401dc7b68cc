"""Intervision groups and sessions through HTTP: 4 to 8 members without hierarchy, a method
walked through step by step on the shared screen, conclusions and lessons, exports."""

from __future__ import annotations

import io
import uuid

from pypdf import PdfReader
from sqlalchemy import select

from tests.learning.conftest import ANOUK, FATIMA, JOOST, MANAGER, MEHMET, SANNE, hidden, soup
from workspace.learning.models import Member, Session


async def test_a_group_has_four_to_eight_professionals(db, demo, signed_in):
    fatima = await signed_in(FATIMA)
    response = await fatima.post(
        "/intervisie/groepen", {"name": "Klein", "emails": f"{SANNE}\n{MEHMET}"}
    )
    assert response.status_code == 422
    page = soup(response)
    assert "4 tot 8" in page.select_one("#g-emails-e").text
    assert page.select_one("#g-emails").text == f"{SANNE}\n{MEHMET}"
    response = await fatima.post(
        "/intervisie/groepen",
        {"name": "Onbekend", "emails": f"{SANNE}\n{MEHMET}\nniemand@example.org"},
    )
    assert response.status_code == 422 and "Niet iedereen is gevonden" in response.text
    # A manager is not a member of intervision; professionals of any organisation are.
    response = await fatima.post(
        "/intervisie/groepen", {"name": "Met baas", "emails": f"{SANNE}\n{MEHMET}\n{MANAGER}"}
    )
    assert response.status_code == 422 and "Niet iedereen is gevonden" in response.text
    response = await fatima.post(
        "/intervisie/groepen",
        {"name": "Over de grenzen", "emails": f"{SANNE}, {MEHMET}\n{JOOST}"},
    )
    assert response.status_code == 303
    group_url = response.headers["location"]
    page = soup(await (await signed_in(JOOST)).get(group_url))
    assert len(page.select("#leden li")) == 4
    # Any member adds a colleague; an outsider sees the same 404 as for no group at all.
    assert (await (await signed_in(ANOUK)).get(group_url)).status_code == 404
    response = await (await signed_in(JOOST)).post(f"{group_url}/leden", {"email": ANOUK})
    assert response.status_code == 303
    assert (await (await signed_in(ANOUK)).get(group_url)).status_code == 200


async def test_a_session_walks_the_method_on_the_shared_screen_and_records_lessons(
    app, db, demo, demo_group, signed_in
):
    sanne = await signed_in(SANNE)
    anouk = await signed_in(ANOUK)
    response = await sanne.post(
        f"/intervisie/groepen/{demo_group.id}/sessies",
        {
            "method": "balint",
            "question": "Wat doet deze vader met mij?",
            "held_on": "2026-11-30",
            "copy_id": "",
        },
    )
    assert response.status_code == 303
    session_url = response.headers["location"]
    screen = soup(await anouk.get(f"{session_url}/scherm"))
    assert screen.select_one(".screen-title").text == "Vertellen"
    assert "stap 1 van 5" in screen.select_one(".screen-method").text
    version = hidden(screen, "/stap", "version")
    # Two people press "next" at the same time: the screen moves one step, not two.
    first = await anouk.post(
        f"{session_url}/stap", {"step": "1", "version": version, "from": "scherm"}
    )
    second = await sanne.post(
        f"{session_url}/stap", {"step": "1", "version": version, "from": "scherm"}
    )
    assert first.status_code == 303 and second.status_code == 409
    assert "Iemand anders zette het scherm" in second.text
    screen = soup(await sanne.get(f"{session_url}/scherm"))
    assert screen.select_one(".screen-title").text == "Verheldering"
    assert any(getattr(e, "what", "") == "step" for e in app.state.events.recent)
    # The step block alone, for the live screens.
    fragment = await sanne.get(
        f"{session_url}/scherm?fragment=step", headers={"HX-Request": "true"}
    )
    assert fragment.text.lstrip().startswith('<div id="stap"')

    page = soup(await sanne.get(session_url))
    version = page.select_one("#uitkomst input[name=version]")["value"]
    response = await sanne.post(
        f"{session_url}/uitkomst",
        {"conclusions": "Hij raakt mijn angst.", "lessons": "", "version": version, "close": "1"},
    )
    assert response.status_code == 422
    assert "Schrijf eerst op wat de groep heeft geleerd" in response.text
    response = await sanne.post(
        f"{session_url}/uitkomst",
        {
            "conclusions": "Hij raakt mijn angst.",
            "lessons": "Benoem je eigen angst in intervisie.",
            "version": version,
            "close": "1",
        },
    )
    assert response.status_code == 303
    # A stale form overwrites nothing.
    response = await anouk.post(
        f"{session_url}/uitkomst", {"conclusions": "oud", "lessons": "oud", "version": version}
    )
    assert response.status_code == 409
    async with db.begin() as session:
        row = await session.get(Session, uuid.UUID(session_url.rsplit("/", 1)[1]))
        assert row.state == "closed" and row.lessons == "Benoem je eigen angst in intervisie."
    md = await anouk.get(f"{session_url}/verslag.md")
    assert "Benoem je eigen angst" in md.text and "Balint" in md.text
    pdf = await anouk.get(f"{session_url}/verslag.pdf")
    assert "Benoem je eigen angst" in PdfReader(io.BytesIO(pdf.content)).pages[0].extract_text()
    assert (await (await signed_in(JOOST)).get(session_url)).status_code == 404


async def test_a_group_below_four_cannot_start_a_session(db, demo, demo_group, signed_in):
    for email in (MEHMET, ANOUK):
        response = await (await signed_in(email)).post(
            f"/intervisie/groepen/{demo_group.id}/verlaten"
        )
        assert response.status_code == 303
    async with db.begin() as session:
        left = list(await session.scalars(select(Member).where(Member.left_at.is_not(None))))
    assert len(left) == 2
    response = await (await signed_in(SANNE)).post(
        f"/intervisie/groepen/{demo_group.id}/sessies",
        {"method": "incident", "question": "Vraag", "held_on": "2026-11-30"},
    )
    assert response.status_code == 422 and "minstens 4 deelnemers" in response.text
    assert (
        await (await signed_in(MEHMET)).get(f"/intervisie/groepen/{demo_group.id}")
    ).status_code == 404


async def test_the_demo_has_a_session_on_the_bakker_copy_with_annotations(
    db, demo, demo_group, signed_in
):
    page = soup(await (await signed_in(ANOUK)).get(f"/intervisie/groepen/{demo_group.id}"))
    links = [a["href"] for a in page.select("a[href*='/intervisie/sessies/']")]
    assert len(links) == 2
    session_pages = [soup(await (await signed_in(ANOUK)).get(link)) for link in links]
    with_notes = [p for p in session_pages if p.select("li.annotation")]
    assert with_notes
    assert "Bakker" not in with_notes[0].select_one("main").text
    assert "kind 2 zegt weinig" in with_notes[0].text


async def test_every_learning_page_that_shows_data_writes_an_audit_row(
    db, demo, demo_group, signed_in
):
    from sqlalchemy import func

    from workspace.learning.models import Copy, Reflection
    from workspace.models import AuditEvent

    async with db.begin() as session:
        copy = await session.scalar(select(Copy))
        meeting = await session.scalar(select(Session))
        shared = await session.scalar(select(Reflection).where(Reflection.audience == "manager"))
    pages = [
        (SANNE, "/leren/reflecties"),
        (SANNE, "/leren/team"),
        (SANNE, "/intervisie"),
        (SANNE, f"/intervisie/groepen/{demo_group.id}"),
        (SANNE, f"/intervisie/kopieen/{copy.id}"),
        (SANNE, f"/intervisie/sessies/{meeting.id}"),
        (SANNE, f"/intervisie/sessies/{meeting.id}/scherm"),
        (SANNE, f"/intervisie/sessies/{meeting.id}/verslag.md"),
        (MANAGER, "/leren/overzicht"),
        (MANAGER, f"/leren/reflecties/{shared.id}"),
        (MANAGER, "/leren/leeroverzicht.md"),
    ]
    for email, path in pages:
        async with db.begin() as session:
            before = await session.scalar(select(func.count()).select_from(AuditEvent))
        response = await (await signed_in(email)).get(path)
        assert response.status_code == 200, path
        async with db.begin() as session:
            after = await session.scalar(select(func.count()).select_from(AuditEvent))
        assert after > before, path
