"""Realtime fixtures: the real app served by uvicorn on a free port, signed-in participants,
and a small pycrdt client that speaks the y-websocket protocol over a real websocket."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

import pytest
import websockets
from pycrdt import Decoder, Doc, Text, handle_sync_message

from realtime import protocol
from tests.conftest import invite
from workspace.notes import document_name
from workspace.web import SESSION_COOKIE


class Client:
    """A y-websocket peer: a pycrdt Doc kept in sync, with what the server said."""

    def __init__(self, ws: Any, hello: bool) -> None:
        self.ws = ws
        self.doc = Doc()
        self.text = self.doc.get("text", type=Text)
        self.stored: bytes | None = None
        self.errors: list[str] = []
        self.awareness: list[bytes] = []
        self.closed: int | None = None
        self._changed = asyncio.Condition()
        self._reader = asyncio.create_task(self._read())
        self.hello = hello

    async def _read(self) -> None:
        try:
            # A closed connection ends the loop; its close code is what tests look at.
            with contextlib.suppress(websockets.ConnectionClosed):
                async for message in self.ws:
                    await self._on(message)
        finally:
            self.closed = self.ws.close_code if self.ws.close_code is not None else 1006
            async with self._changed:
                self._changed.notify_all()

    async def _on(self, message: bytes) -> None:
        kind = message[0]
        if kind == 0:
            reply = handle_sync_message(message[1:], self.doc)
            if reply is not None:
                await self.ws.send(reply)
        elif kind == 1:
            self.awareness.append(Decoder(message[1:]).read_message())
        elif message[:1] == protocol.kring_stored(b"")[:1]:
            decoder = Decoder(message)
            decoder.read_var_uint()
            sub = decoder.read_var_uint()
            if sub == 1:
                self.stored = decoder.read_message()
            elif sub == 2:
                self.errors.append(decoder.read_var_string())
        async with self._changed:
            self._changed.notify_all()

    async def type(self, text: str) -> None:
        before = self.doc.get_state()
        self.text += text
        await self.ws.send(protocol.sync_update(self.doc.get_update(before)))

    async def send(self, data: bytes) -> None:
        await self.ws.send(data)

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:  # noqa: ASYNC109
        async def wait() -> None:
            async with self._changed:
                await self._changed.wait_for(lambda: predicate() or self.closed is not None)

        await asyncio.wait_for(wait(), timeout)
        assert predicate(), f"connection closed ({self.closed}) before the condition held"

    async def wait_closed(self, timeout: float = 5.0) -> int:  # noqa: ASYNC109
        await asyncio.wait_for(self._reader, timeout)
        assert self.closed is not None
        return self.closed

    async def close(self) -> None:
        await self.ws.close()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(self._reader, 5)


@pytest.fixture
async def connect(live, app, browser, settings, db):
    """connect(who, document=None, hello=True) -> Client, signed in as ``who``:
    'coordinator' | 'professional' | 'observer' | 'outsider' | 'household' | 'network'."""
    clients: list[Client] = []
    cookies: dict[str, str] = {}

    async def session_for(who: str, world: Any) -> str:
        if who not in cookies:
            b = browser()
            if who in ("household", "network"):
                participant = world.household if who == "household" else world.network
                await b.claim(await invite(db, settings, world, participant))
            else:
                await b.login(getattr(world, who).email)
            cookies[who] = b.http.cookies[SESSION_COOKIE]
        return cookies[who]

    async def make(
        who: str | None,
        world: Any,
        document: str | None = None,
        *,
        hello: bool = True,
        origin: str | None = None,
        max_queue: int = 16,
    ) -> Client:
        headers = {"Origin": origin or settings.origin}
        if who is not None:
            headers["Cookie"] = f"{SESSION_COOKIE}={await session_for(who, world)}"
        ws = await websockets.connect(
            f"{live}/realtime/{document or document_name(world.case.id)}",
            additional_headers=headers,
            max_size=None,
            compression=None,
            max_queue=max_queue,
        )
        client = Client(ws, hello)
        if hello:
            await ws.send(protocol.write_var_uint(protocol.KRING) + bytes([0]) + b"\x011")
        # As a y-websocket client does on open: ask for what the server has.
        await ws.send(protocol.sync_step1(client.doc.get_state()))
        clients.append(client)
        return client

    yield make
    for client in clients:
        if client.closed is None:
            await client.close()
