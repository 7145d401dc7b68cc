"""Access that ends, ends everywhere at once (issue 14): logging out, revoking a participant
or an invitation and a closed meeting close that person's websockets and event streams, and
nothing they send after the revocation is stored."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
import websockets
from sqlalchemy import select

from realtime import protocol
from tests.conftest import SECRET, World, invite
from tests.realtime.conftest import Client
from workspace.models import Invitation
from workspace.notes import section_document
from workspace.plan.actions import ensure_sections
from workspace.plan.models import Section
from workspace.web import CSRF_COOKIE, SESSION_COOKIE, csrf_token_for


async def _document(db, world: World) -> str:
    async with db.begin() as session:
        await ensure_sections(session, world.case.id)
        section = await session.scalar(
            select(Section).where(
                Section.case_id == world.case.id, Section.key == "zorgen-krachten"
            )
        )
    assert section is not None
    return section_document(world.case.id, section.id)


class Member:
    """Linda on her phone, over the network: a signed-in HTTP client, her plan's event stream
    and a socket on one of her plan's documents."""

    def __init__(self, live: str, settings, document: str) -> None:
        self.http = httpx.AsyncClient(base_url=live.replace("ws://", "http://"), timeout=10)
        self.live = live
        self.settings = settings
        self.document = document
        self.events: asyncio.Queue[str] = asyncio.Queue()
        self.stream_ended = asyncio.Event()
        self._stream: asyncio.Task[None] | None = None

    async def claim(self, link: str) -> None:
        await self.http.get("/healthz")
        token = csrf_token_for(SECRET, self.http.cookies[CSRF_COOKIE])
        response = await self.http.post(
            "/uitnodiging", data={"token": link.rsplit("/", 1)[1], "csrf_token": token}
        )
        assert response.status_code == 303, response.text

    async def socket(self) -> Client:
        ws = await websockets.connect(
            f"{self.live}/realtime/{self.document}",
            additional_headers={
                "Origin": self.settings.origin,
                "Cookie": f"{SESSION_COOKIE}={self.http.cookies[SESSION_COOKIE]}",
            },
            compression=None,
        )
        client = Client(ws, hello=True)
        await ws.send(protocol.write_var_uint(protocol.KRING) + bytes([0]) + b"\x011")
        await ws.send(protocol.sync_step1(client.doc.get_state()))
        return client

    async def listen(self, case_id: uuid.UUID) -> None:
        opened = asyncio.Event()

        async def run() -> None:
            async with self.http.stream("GET", f"/cases/{case_id}/live") as response:
                assert response.status_code == 200
                opened.set()
                async for line in response.aiter_lines():
                    if line.startswith("event: "):
                        await self.events.put(line.removeprefix("event: "))
            self.stream_ended.set()

        self._stream = asyncio.create_task(run())
        await asyncio.wait_for(opened.wait(), 5)

    async def aclose(self) -> None:
        if self._stream is not None:
            self._stream.cancel()
        await self.http.aclose()


@pytest.fixture
async def linda(world, db, live, settings):
    member = Member(live, settings, await _document(db, world))
    await member.claim(await invite(db, settings, world, world.household))
    await member.listen(world.case.id)
    yield member
    await member.aclose()


async def _ends(linda: Member, socket: Client, app) -> None:
    """Her socket is closed by the server (access ended), her stream ends, she cannot come back."""
    assert await socket.wait_closed() == 4001
    await asyncio.wait_for(linda.stream_ended.wait(), 5)
    with pytest.raises(websockets.InvalidStatus):
        await linda.socket()
    assert app.state.events.streams == 0


async def test_revoking_a_participant_closes_her_sockets_and_streams(world, linda, browser, app):
    socket = await linda.socket()
    await socket.type("Ik wil dat de school het weet. ")
    await socket.wait_for(socket.all_stored)
    fatima = browser()
    await fatima.login(world.coordinator.email)
    response = await fatima.post(
        f"/cases/{world.case.id}/participants/{world.household.id}/revoke", {}
    )
    assert response.status_code == 303
    await _ends(linda, socket, app)
    # What she wrote while she took part stays.
    assert "de school" in await app.state.realtime.text(linda.document)


async def test_revoking_her_invitation_closes_her_sockets_and_streams(
    world, db, linda, browser, app
):
    socket = await linda.socket()
    async with db.begin() as session:
        invitation = await session.scalar(
            select(Invitation).where(Invitation.participant_id == world.household.id)
        )
    assert invitation is not None
    fatima = browser()
    await fatima.login(world.coordinator.email)
    response = await fatima.post(f"/cases/{world.case.id}/invitations/{invitation.id}/revoke", {})
    assert response.status_code == 303
    await _ends(linda, socket, app)


async def test_logging_out_closes_that_sessions_sockets_and_streams(world, linda, app):
    socket = await linda.socket()
    token = csrf_token_for(SECRET, linda.http.cookies[CSRF_COOKIE])
    cookie = linda.http.cookies[SESSION_COOKIE]
    response = await linda.http.post("/logout", data={"csrf_token": token})
    assert response.status_code == 303
    assert await socket.wait_closed() == 4001
    await asyncio.wait_for(linda.stream_ended.wait(), 5)
    # The old cookie (a copy kept elsewhere) opens nothing any more.
    linda.http.cookies.set(SESSION_COOKIE, cookie)
    with pytest.raises(websockets.InvalidStatus):
        await linda.socket()


async def test_logging_out_leaves_her_other_devices_open(world, db, settings, live, linda, app):
    laptop = Member(live, settings, linda.document)
    try:
        await laptop.claim(await invite(db, settings, world, world.household))
        on_laptop = await laptop.socket()
        on_phone = await linda.socket()
        token = csrf_token_for(SECRET, linda.http.cookies[CSRF_COOKIE])
        assert (await linda.http.post("/logout", data={"csrf_token": token})).status_code == 303
        assert await on_phone.wait_closed() == 4001
        await on_laptop.type("Nog open.")
        await on_laptop.wait_for(on_laptop.all_stored)
        assert on_laptop.closed is None
    finally:
        await laptop.aclose()


async def test_nothing_sent_after_a_revocation_is_stored(standalone):
    server = await standalone()
    writer = await server.connect("case/1/notes")
    await writer.type("voor ")
    await writer.wait_for(writer.all_stored)
    revoking = asyncio.create_task(server.server.revoke({"grant:writer"}))
    await asyncio.sleep(0)  # the revocation has begun: the grant is gone from here on
    before = writer.doc.get_state()
    writer.text += "na"
    # Sent before the client has seen the close: the server must not take it.
    await writer.ws.send(protocol.sync_update(writer.doc.get_update(before)))
    assert await revoking == 1
    assert await writer.wait_closed() == 4001
    assert await server.server.text("case/1/notes") == "voor "
