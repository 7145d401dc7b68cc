"""Meetings with real websockets and real Yjs clients: who wrote what between two versions,
a guest's connection ending with the meeting (after what they typed is stored), and live
presence over the meeting's event stream."""

from __future__ import annotations

import asyncio

import httpx
import pytest
import websockets
from bs4 import BeautifulSoup
from sqlalchemy import select

from realtime import protocol
from tests.conftest import SECRET, World, signed_in_client
from tests.realtime.conftest import Client
from workspace.meetings.models import Attendance, SectionVersion
from workspace.notes import section_document
from workspace.plan.actions import ensure_sections
from workspace.plan.models import Section
from workspace.web import CSRF_COOKIE, SESSION_COOKIE, csrf_token_for


def soup(response):
    return BeautifulSoup(response.text, "html.parser")


async def _section(db, world: World, key: str) -> Section:
    async with db.begin() as session:
        await ensure_sections(session, world.case.id)
        section = await session.scalar(
            select(Section).where(Section.case_id == world.case.id, Section.key == key)
        )
    assert section is not None
    return section


async def _planned_and_open(b, world: World) -> str:
    page = soup(await b.get(f"/cases/{world.case.id}/meetings"))
    chair = page.select_one("select[name=chair_id] option[selected]")["value"]
    response = await b.post(
        f"/cases/{world.case.id}/meetings",
        {"title": "Overleg", "starts_at": "2026-12-03T14:00", "chair_id": chair},
    )
    url = response.headers["location"]
    version = soup(await b.get(url)).select_one("form[action$='/open'] input[name=version]")
    assert (await b.post(url + "/open", {"version": version["value"]})).status_code == 303
    return url


async def _close(b, url: str) -> None:
    form = soup(await b.get(url)).select_one("form[action$='/close']")
    version = form.select_one("input[name=version]")["value"]
    response = await b.post(form["action"], {"version": version, "reaction_days": "5"})
    assert response.status_code == 303


async def test_minutes_and_versions_say_who_wrote_what(world, db, connect, browser, app):
    section = await _section(db, world, "wat-gebeurde")
    document = section_document(world.case.id, section.id)
    fatima = await connect("coordinator", world, document)
    await fatima.type("Er was ruzie.")
    await fatima.wait_for(fatima.all_stored)
    chair = browser()
    await chair.login(world.coordinator.email)
    url = await _planned_and_open(chair, world)

    linda = await connect("household", world, document)
    await linda.wait_for(lambda: "ruzie" in str(linda.text))
    before = linda.doc.get_state()
    with linda.doc.transaction():
        linda.text.insert(len(linda.text), " Ik was bang.")
    await linda.send(protocol.sync_update(linda.doc.get_update(before)))
    await fatima.wait_for(lambda: "bang" in str(fatima.text))
    before = fatima.doc.get_state()
    with fatima.doc.transaction():
        del fatima.text[0:3]  # "Er " removed by Fatima
    await fatima.send(protocol.sync_update(fatima.doc.get_update(before)))
    await linda.wait_for(lambda: str(linda.text).startswith("was ruzie"))
    await app.state.realtime.rooms.rooms[document].drain()
    await _close(chair, url)

    minutes = soup(await chair.get(url + "/verslag"))
    changes = minutes.select_one(".minutes-section").text
    assert "Linda" in changes and "Ik was bang." in changes
    assert "Fatima" in changes and "haalde weg" in changes

    link = minutes.select_one(".minutes-section a")["href"]
    compare = soup(await chair.get(link))
    inserted = compare.select(".version-text ins")
    assert any("Ik was bang." in ins.text for ins in inserted)
    assert any("Linda" in ins["title"] for ins in inserted)
    deleted = compare.select(".version-text del")
    assert any("Er" in d.text and "Fatima" in d["title"] for d in deleted)
    async with db.begin() as session:
        reasons = {v.reason for v in await session.scalars(select(SectionVersion))}
    assert {"open", "close"} <= reasons


async def _guest(live: str, code: str) -> httpx.AsyncClient:
    """A phone that joins with the code (it waits in the lobby)."""
    base = live.replace("ws://", "http://")
    phone = httpx.AsyncClient(base_url=base, timeout=10)
    await phone.get("/healthz")
    token = csrf_token_for(SECRET, phone.cookies[CSRF_COOKIE])
    response = await phone.post("/meedoen", data={"code": code, "name": "Hasan", "csrf_token": token})
    assert response.status_code == 303
    return phone


async def test_a_guests_connection_ends_with_the_meeting_and_nothing_typed_is_lost(
    world, db, browser, live, settings, app
):
    section = await _section(db, world, "zorgen-krachten")
    document = section_document(world.case.id, section.id)
    chair = browser()
    await chair.login(world.coordinator.email)
    url = await _planned_and_open(chair, world)
    code = soup(await chair.get(url)).select_one(".join-code strong").text.strip()
    phone = await _guest(live, code)
    try:
        waiting = soup(await chair.get(url)).select_one("#lobby form[action$='/admit']")
        async with db.begin() as session:
            from workspace.models import Participant

            person = (await session.get(Participant, world.network.id)).person_id
        assert (await chair.post(waiting["action"], {"person_id": str(person)})).status_code == 303
        token = csrf_token_for(SECRET, phone.cookies[CSRF_COOKIE])
        response = await phone.post("/meedoen/verder", data={"csrf_token": token})
        assert response.status_code == 303
        cookie = phone.cookies[SESSION_COOKIE]

        async def open_socket() -> Client:
            ws = await websockets.connect(
                f"{live}/realtime/{document}",
                additional_headers={"Origin": settings.origin, "Cookie": f"{SESSION_COOKIE}={cookie}"},
                compression=None,
            )
            client = Client(ws, hello=True)
            await ws.send(protocol.write_var_uint(protocol.KRING) + bytes([0]) + b"\x011")
            await ws.send(protocol.sync_step1(client.doc.get_state()))
            return client

        guest = await open_socket()
        await guest.type("Hasan helpt met boodschappen.")
        await _close(chair, url)
        assert await guest.wait_closed() == 4001
        assert "Hasan helpt met boodschappen." in await app.state.realtime.text(document)
        with pytest.raises(websockets.InvalidStatus):
            await open_socket()
    finally:
        await phone.aclose()


async def _listen(response: httpx.Response, out: asyncio.Queue[str]) -> None:
    async for line in response.aiter_lines():
        if line.startswith("event: "):
            await out.put(line.removeprefix("event: "))


async def _next(queue: asyncio.Queue[str], what: str) -> None:
    """Wait for the event ``what``; others that come first are skipped."""
    heard = ""
    while heard != what:
        heard = await asyncio.wait_for(queue.get(), 5)


async def test_an_open_meeting_screen_counts_as_present(world, db, browser, live):
    chair = browser()
    await chair.login(world.coordinator.email)
    url = await _planned_and_open(chair, world)
    base = live.replace("ws://", "http://")
    watcher = await signed_in_client(base, world.coordinator.email)
    petra = await signed_in_client(base, world.professional.email)
    heard: asyncio.Queue[str] = asyncio.Queue()
    try:
        async with watcher.stream("GET", url + "/live") as watching:
            listener = asyncio.create_task(_listen(watching, heard))
            try:
                await _next(heard, "meeting-presence")  # the watcher's own arrival
                async with petra.stream("GET", url + "/live") as response:
                    assert response.status_code == 200
                    await _next(heard, "meeting-presence")
                    page = soup(await chair.get(url))
                    assert any("Petra" in li.text for li in page.select("#people li.here"))
                await _next(heard, "meeting-presence")  # Petra's screen closed
                page = soup(await chair.get(url))
                assert not any("Petra" in li.text for li in page.select("#people li.here"))
                assert any("Petra" in li.text for li in page.select("#people li.was-here"))
            finally:
                listener.cancel()
        async with db.begin() as session:
            rows = list(await session.scalars(select(Attendance)))
        assert any(
            r.participant_id == world.professional_participant.id and r.present for r in rows
        )
    finally:
        await watcher.aclose()
        await petra.aclose()
