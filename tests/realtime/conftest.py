"""Realtime fixtures: the real app served by uvicorn on a free port, signed-in participants,
and a small pycrdt client that speaks the y-websocket protocol over a real websocket."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import uvicorn
import websockets
from pycrdt import Decoder, Doc, Text, handle_sync_message
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket

from realtime import protocol
from realtime.server import Grant, RealtimeServer
from tests.conftest import invite
from workspace.db import Database
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
        #: How many messages arrived (to wait for a round trip).
        self.received = 0
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
        self.received += 1
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

    def all_stored(self) -> bool:
        """Whether the server said it stored everything this client typed. (Not just "said
        stored": the server also sends its state in answer to the first sync step.)"""
        own = clock_in(self.doc.get_state(), self.doc.client_id)
        return self.stored is not None and clock_in(self.stored, self.doc.client_id) >= own

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


def clock_in(state_vector: bytes | None, client_id: int) -> int:
    """``client_id``'s clock in an encoded state vector (0 if absent)."""
    if not state_vector:
        return 0
    decoder = Decoder(state_vector)
    for _ in range(decoder.read_var_uint()):
        cid, clock = decoder.read_var_uint(), decoder.read_var_uint()
        if cid == client_id:
            return int(clock)
    return 0


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


# -- a realtime server on its own: a minimal app, a fake authorizer, no web app at all --------

TEST_ORIGIN = "http://kring.test"


class Standalone:
    """One RealtimeServer (as if one process) served by uvicorn on a free port."""

    def __init__(self, server: RealtimeServer, url: str) -> None:
        self.server = server
        self.url = url
        self.clients: list[Client] = []

    async def connect(
        self, document: str = "case/1/notes", who: str = "writer", *, hello: bool = True
    ) -> Client:
        """who: 'writer' | 'reader' (a read-only grant) | anything else (refused)."""
        ws = await websockets.connect(
            f"{self.url}/realtime/{document}",
            additional_headers={"Origin": TEST_ORIGIN, "X-Test-Grant": who},
            max_size=None,
            compression=None,
        )
        client = Client(ws, hello)
        if hello:
            await ws.send(protocol.write_var_uint(protocol.KRING) + bytes([0]) + b"\x011")
        await ws.send(protocol.sync_step1(client.doc.get_state()))
        self.clients.append(client)
        return client


async def _fake_authorize(websocket: WebSocket, document: str) -> Grant | None:
    who = websocket.headers.get("x-test-grant", "")
    # "writer", "writer-2"...: writers, each their own person; "reader": read-only.
    if not (who == "reader" or who.startswith("writer")):
        return None
    return Grant(
        document=document,
        can_write=who != "reader",
        author=f"test:{who}",
        name=who.title(),
        role="professional" if who != "reader" else "observer",
        colour="#336699",
        keys=frozenset({f"grant:{who}"}),
    )


@pytest.fixture
async def standalone(database_url: str) -> AsyncIterator[Callable[..., Awaitable[Standalone]]]:
    """standalone(**RealtimeServer options) -> a served server over the test's fresh migrated
    database (SQLite, or PostgreSQL with KRING_TEST_DATABASE_URL). Call it twice for two
    "processes" over one database (give both the same ``fanout``)."""
    async with contextlib.AsyncExitStack() as stack:

        async def make(**options: Any) -> Standalone:
            database = Database(database_url)
            stack.push_async_callback(database.dispose)
            server = RealtimeServer(
                database.engine,
                _fake_authorize,
                allowed_origins={TEST_ORIGIN},
                **options,
            )
            await stack.enter_async_context(server)
            port = _free_port()
            config = uvicorn.Config(
                Starlette(routes=[WebSocketRoute("/realtime/{document:path}", server.endpoint)]),
                host="127.0.0.1",
                port=port,
                lifespan="off",
                log_level="warning",
                ws_per_message_deflate=False,
                ws_max_size=server.limits.max_message_bytes * 2,
            )
            userver = uvicorn.Server(config)
            task = asyncio.create_task(userver.serve())

            async def stop() -> None:
                for client in standalone.clients:
                    if client.closed is None:
                        await client.close()
                userver.should_exit = True
                await task

            while not userver.started:  # noqa: ASYNC110 - uvicorn offers no event for this
                await asyncio.sleep(0.01)
            standalone = Standalone(server, f"ws://127.0.0.1:{port}")
            stack.push_async_callback(stop)
            return standalone

        yield make


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
