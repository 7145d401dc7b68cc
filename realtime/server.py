"""The websocket endpoint and room registry: the durable Yjs sync server.

The contract (shared/architecture.md, "The durability contract"): an update is validated,
then committed to the log, then applied and broadcast - never the other way round."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from pycrdt import Doc, Text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.websockets import WebSocket, WebSocketDisconnect

from realtime import protocol
from realtime.fanout import (
    PRESENCE,
    SIGNAL,
    UPDATE,
    Fanout,
    InProcessFanout,
    Published,
    QuietLog,
)
from realtime.protocol import AwarenessEntry, ProtocolError
from realtime.room import Connection, Limits, Room
from realtime.store import UpdateStore

log = logging.getLogger("kring.realtime")


@dataclass(frozen=True)
class Grant:
    """What the authorizer allows one connection. Identity comes from here, not the client."""

    document: str
    can_write: bool
    author: str
    name: str
    role: str
    colour: str
    #: What the grant hangs on ("session:<id>", "participant:<id>"...): ``revoke`` with any of
    #: them closes the connection.
    keys: frozenset[str] = frozenset()


Authorizer = Callable[[WebSocket, str], Awaitable[Grant | None]]
OnRefused = Callable[[Grant, str], Awaitable[None]]
#: A handler of a signal from another process: its payload.
OnSignal = Callable[[bytes], Awaitable[None]]

#: Messages waiting to be published; beyond this the oldest go (a receiver notices the gap).
OUTBOX = 10_000
#: Published together (one round trip to Redis) at most.
OUTBOX_BATCH = 500
#: How long an ended grant stays marked for every process to check (the longest a session
#: lives, a member's: 14 days, plus a margin).
ENDED_FOR_SECONDS = 15 * 24 * 3600


class Rooms:
    """Loaded documents. Each is loaded exactly once, even when many clients open it at the same
    moment (they all await the same load), and unloaded a while after its last client left."""

    def __init__(
        self,
        store: UpdateStore,
        *,
        unload_after: float,
        compact_after: int,
        on_stored: Callable[[str, bytes], Awaitable[None]],
        on_presence: Callable[[str, list[AwarenessEntry]], None] | None = None,
        admit: Callable[[set[Connection]], Awaitable[set[Connection]]] | None = None,
    ) -> None:
        self.store = store
        self.unload_after = unload_after
        self.compact_after = compact_after
        self.on_stored = on_stored
        self.on_presence = on_presence
        self.admit = admit
        self.rooms: dict[str, Room] = {}
        self._loading: dict[str, asyncio.Task[Room]] = {}
        #: Updates from other processes that arrived while their room was loading: applied
        #: once it is loaded, so none falls between the load's read and the room's creation.
        self._arrived_while_loading: dict[str, list[bytes]] = {}
        self.loads = 0  # how many loads from the store happened (tests, metrics)

    def deliver_remote(self, document: str, update: bytes) -> None:
        """An update another process stored: apply it if the room is here (or loading)."""
        room = self.rooms.get(document)
        if room is not None:
            room.apply_remote(update)
        elif document in self._loading:
            self._arrived_while_loading.setdefault(document, []).append(update)

    async def join(self, name: str, conn: Connection) -> Room:
        room = self.rooms.get(name)
        if room is None:
            task = self._loading.get(name)
            if task is None:
                task = asyncio.create_task(self._load(name))
                self._loading[name] = task
            room = await asyncio.shield(task)
        if room.unload_task is not None:
            room.unload_task.cancel()
            room.unload_task = None
        room.add(conn)
        return room

    async def _load(self, name: str) -> Room:
        try:
            loaded = await self.store.load(name)  # raises: never an empty stand-in document
            self.loads += 1
            doc: Doc[Any] = Doc()
            if loaded.state is not None:
                doc.apply_update(loaded.state)
            for update in self._arrived_while_loading.pop(name, []):
                doc.apply_update(update)
            room = Room(
                name,
                self.store,
                doc=doc,
                tail=loaded.tail_length,
                compact_after=self.compact_after,
                on_stored=self.on_stored,
                on_presence=self.on_presence,
                admit=self.admit,
            )
            self.rooms[name] = room
            if loaded.tail_length >= self.compact_after:
                # A long tail (a crash before compaction, an import): the merge is done, store
                # it as the snapshot so the next load is quick.
                room.compact_soon(loaded)
            return room
        finally:
            self._loading.pop(name, None)
            self._arrived_while_loading.pop(name, None)

    def leave(self, room: Room, conn: Connection) -> None:
        if conn not in room.connections:
            return  # already gone (dropped earlier)
        room.forget(conn)
        if not room.connections and room.unload_task is None:
            room.unload_task = asyncio.create_task(self._unload_later(room))

    async def _unload_later(self, room: Room) -> None:
        await asyncio.sleep(self.unload_after)
        await room.drain()
        if room.connections or self.rooms.get(room.name) is not room:
            return
        del self.rooms[room.name]  # no await since the check: nobody joined in between
        try:
            await self.store.compact(room.name)
        except Exception:
            log.exception("compaction on unload failed; the log still holds everything")

    async def close(self) -> None:
        for room in list(self.rooms.values()):
            if room.unload_task is not None:
                room.unload_task.cancel()
            with contextlib.suppress(Exception):
                await room.drain()


class _Holder:
    """Stands in for a connection while the server itself edits a room."""

    client_ids: set[int] = set()  # noqa: RUF012 - never written: a holder has no cursors

    def send(self, data: bytes) -> None:
        return None


class RealtimeServer:
    """Create in the app's lifespan (``async with``), mount ``endpoint`` at
    ``/realtime/{document:path}``. Run uvicorn with ``ws_per_message_deflate=False`` and
    ``ws_max_size`` at least ``max_message_bytes``."""

    def __init__(
        self,
        engine: AsyncEngine,
        authorize: Authorizer,
        *,
        allowed_origins: set[str],
        max_message_bytes: int = 256 * 1024,
        fanout: Fanout | None = None,
        on_refused: OnRefused | None = None,
        on_denied: Callable[[WebSocket, str, str], Awaitable[None]] | None = None,
        unload_after: float = 30.0,
        compact_after: int = 1000,
        prune_after: timedelta | None = None,
        resync_every: float = 60.0,
        limits: Limits | None = None,
        store: UpdateStore | None = None,
    ) -> None:
        self.authorize = authorize
        self.allowed_origins = allowed_origins
        self.limits = limits or Limits(max_message_bytes=max_message_bytes)
        self.store = store or UpdateStore(engine, prune_after=prune_after)
        #: With no fan-out given this process is alone: no other process can write, so there is
        #: nothing to resync from. Given one, rooms also resync every ``resync_every`` seconds.
        self.distributed = fanout is not None
        self.fanout: Fanout = fanout or InProcessFanout()
        self.resync_every = resync_every
        #: This process, as other processes see it in fan-out messages.
        self.origin = uuid.uuid4().hex
        self._published: dict[str, int] = {}
        self._heard: dict[tuple[str, str], int] = {}
        #: Published off the commit path: a slow or dead fan-out never delays local delivery.
        self._outbox: collections.deque[Published] = collections.deque(maxlen=OUTBOX)
        self._outbox_ready = asyncio.Event()
        self._publish_failures = QuietLog("fan-out publish")
        self._check_failures = QuietLog("checking ended grants")
        #: Batches waiting for the check of their senders' grants (``_admit``): one query
        #: answers every room that commits at the same moment.
        self._checks: list[tuple[frozenset[str], asyncio.Future[dict[str, float]]]] = []
        self._checker: asyncio.Task[None] | None = None
        #: Handlers of signals from other processes, by topic (``on_signal``).
        self._signals: dict[str, OnSignal] = {
            "revoke": self._heard_revoke,
            "reauthorize": self._heard_reauthorize,
            "disconnect": self._heard_disconnect,
        }
        #: Told the keys of every grant that ended in another process (the app ends its
        #: event streams with it).
        self.on_remote_revoke: Callable[[frozenset[str]], object] | None = None
        self._background: set[asyncio.Task[None]] = set()
        self._exit = contextlib.AsyncExitStack()
        self.on_refused = on_refused
        self.on_denied = on_denied
        self.rooms = Rooms(
            self.store,
            unload_after=unload_after,
            compact_after=compact_after,
            on_stored=self._publish,
            on_presence=self._publish_presence if self.distributed else None,
            admit=self._admit if self.distributed else None,
        )

    async def __aenter__(self) -> RealtimeServer:
        await self._exit.enter_async_context(self.fanout.subscribe(self._receive))
        if self.distributed:
            self._spawn(self._resync_periodically())
            self._spawn(self._publish_outbox())
        return self

    async def __aexit__(self, *exc: object) -> None:
        for task in list(self._background):
            task.cancel()
        for task in list(self._background):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self._exit.aclose()
        await self.rooms.close()
        self.store.close()

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # -- fan-out ----------------------------------------------------------------------------

    async def _publish(self, document: str, update: bytes) -> None:
        """After a commit: tell the other processes (queued; losing the message is allowed)."""
        if not self.distributed:
            return
        seq = self._published.get(document, 0) + 1
        self._published[document] = seq
        self._send(Published(document, update, self.origin, seq))

    def _send(self, message: Published) -> None:
        self._outbox.append(message)
        self._outbox_ready.set()

    async def _publish_outbox(self) -> None:
        while True:
            await self._outbox_ready.wait()
            self._outbox_ready.clear()
            while self._outbox:
                count = min(len(self._outbox), OUTBOX_BATCH)
                messages = [self._outbox.popleft() for _ in range(count)]
                try:
                    async with asyncio.timeout(2):
                        await self.fanout.publish_many(messages)
                except Exception as exc:
                    # Lost: updates are repaired by the receivers' resync (gap or periodic),
                    # presence by the next change; a revocation is also recorded (``_admit``).
                    self._publish_failures.failed(exc)

    def signal(self, topic: str, payload: bytes = b"") -> None:
        """Tell the other processes ``topic`` (their ``on_signal`` handler runs). Lossy."""
        if self.distributed:
            self._send(Published(topic, payload, self.origin, 0, SIGNAL))

    def on_signal(self, topic: str, handler: OnSignal) -> None:
        """Run ``handler(payload)`` for each ``topic`` signal from another process."""
        self._signals[topic] = handler

    def _publish_presence(self, document: str, entries: list[AwarenessEntry]) -> None:
        self._send(
            Published(document, protocol.encode_awareness(entries), self.origin, 0, PRESENCE)
        )

    async def _admit(self, senders: set[Connection]) -> set[Connection]:
        """The senders of a batch whose grant ended (in any process) after they were let in.
        A revocation reaches the other processes by signal, which may be lost or come late;
        it is also recorded in the database every process shares (``revoke``), and checked
        here before anything a connection sent is stored. One query serves every room that
        commits at the same moment. If the check fails, the batch is taken (the append that
        follows reports the database's trouble itself)."""
        keys = frozenset(key for conn in senders for key in conn.keys)
        if not keys:
            return set()
        done: asyncio.Future[dict[str, float]] = asyncio.get_running_loop().create_future()
        self._checks.append((keys, done))
        if self._checker is None or self._checker.done():
            self._checker = asyncio.create_task(self._check_waiting())
        try:
            ended = await done
        except Exception as exc:
            self._check_failures.failed(exc)
            return set()
        return {
            conn
            for conn in senders
            if any(ended.get(key, float("-inf")) >= conn.opened_at for key in conn.keys)
        }

    async def _check_waiting(self) -> None:
        while self._checks:
            waiting, self._checks = self._checks, []
            try:
                found = await self.store.ended(frozenset().union(*(k for k, _ in waiting)))
            except Exception as exc:
                for _, done in waiting:
                    if not done.done():
                        done.set_exception(exc)
                continue
            for _, done in waiting:
                if not done.done():
                    done.set_result(found)

    async def _receive(self, message: Published) -> None:
        if message.origin == self.origin:
            return
        if message.kind == SIGNAL:
            handler = self._signals.get(message.document)
            if handler is not None:
                await handler(message.update)
            return
        if message.kind == PRESENCE:
            room = self.rooms.rooms.get(message.document)
            if room is not None:
                room.apply_remote_presence(protocol.decode_awareness(message.update))
            return
        if message.kind != UPDATE:
            return
        key = (message.origin, message.document)
        last = self._heard.pop(key, None)
        if message.document not in self.rooms.rooms:
            # Not loaded here: a later load reads the database, which already has it. Keeping
            # no sequence for unloaded documents keeps this bookkeeping bounded.
            self.rooms.deliver_remote(message.document, message.update)
            return
        self._heard[key] = message.seq
        self.rooms.deliver_remote(message.document, message.update)
        if last is not None and message.seq != last + 1 and message.document in self.rooms.rooms:
            log.info("fan-out gap for a document (%s after %s); resyncing", message.seq, last)
            self._spawn(self._resync_quietly(message.document))

    async def _heard_revoke(self, payload: bytes) -> None:
        keys = frozenset(json.loads(payload))
        closed = await self.revoke(keys, relay=False)
        streams = self.on_remote_revoke(keys) if self.on_remote_revoke is not None else 0
        log.info(
            "access ended in another process: %d realtime connection(s), %s event stream(s)"
            " closed here",
            closed,
            streams,
        )

    async def _heard_reauthorize(self, payload: bytes) -> None:
        await self.reauthorize(payload.decode(), relay=False)

    async def _heard_disconnect(self, payload: bytes) -> None:
        await self.disconnect(payload.decode(), relay=False)

    async def _resync_quietly(self, document: str) -> None:
        try:
            await self.resync(document)
        except Exception:
            log.warning("resync failed; the next one tries again", exc_info=True)

    async def _resync_periodically(self) -> None:
        while True:
            await asyncio.sleep(self.resync_every)
            for document in list(self.rooms.rooms):
                await self._resync_quietly(document)

    async def text(self, document: str, name: str = "text") -> str:
        """The document's shared text as stored (for read views, exports and minutes)."""
        room = self.rooms.rooms.get(document)
        if room is not None:
            return str(room.doc.get(name, type=Text))
        loaded = await self.store.load(document)
        doc: Doc[Any] = Doc()
        if loaded.state is not None:
            doc.apply_update(loaded.state)
        return str(doc.get(name, type=Text))

    async def reauthorize(self, document: str, *, relay: bool = True) -> None:
        """Close every connection to ``document`` (in every process) so each client reconnects
        and is authorized again: called after the document's audience changed. Stock clients
        reconnect on any close; one that may no longer see it is refused with 1008."""
        if relay:
            self.signal("reauthorize", document.encode())
        room = self.rooms.rooms.get(document)
        if room is None:
            return
        # Nothing arriving on the old grants is taken any more; a client that still may write
        # sends it again after its reconnect (sync step 1 and 2 carry whatever is missing).
        for conn in room.connections:
            conn.revoked = True
        await asyncio.gather(*(conn.close(4001) for conn in list(room.connections)))

    async def disconnect(self, author: str, code: int = 4001, *, relay: bool = True) -> int:
        """Close every connection (in every process) written as ``author``, in every room: their
        access ended (a meeting guest when the meeting closes, a revoked participant). What they
        sent before is stored first: closing never drops a received update. Clients reconnect
        and are refused if they may no longer come in. Returns how many were closed here."""
        if relay:
            self.signal("disconnect", author.encode())
        doomed = [
            conn
            for room in self.rooms.rooms.values()
            for conn in list(room.connections)
            if getattr(conn, "author", None) == author
        ]
        await asyncio.gather(*(conn.close(code) for conn in doomed))
        return len(doomed)

    async def revoke(self, keys: Iterable[str], code: int = 4001, *, relay: bool = True) -> int:
        """Close every connection (in every process) whose grant hangs on any of ``keys``: that
        access ended (4001, as ``disconnect``). From this call on nothing they send is handled;
        what they sent before it is stored. Their reconnect is refused at the upgrade.
        Returns how many were closed here.

        Other processes hear it by signal, and the keys are marked ended for them to check
        on every batch their connections send (``_admit``), in case the signal is lost."""
        wanted = frozenset(keys)
        if self.distributed and wanted and relay:
            self.signal("revoke", json.dumps(sorted(wanted)).encode())
            # Recorded before this returns: whatever the revoking request answers, every
            # process refuses the next batch of those connections from then on.
            try:
                await self.store.mark_ended(wanted, time.time(), ENDED_FOR_SECONDS)
            except Exception:
                log.warning("recording an ended grant failed; the signal still goes")
        doomed = [
            (room, conn)
            for room in self.rooms.rooms.values()
            for conn in list(room.connections)
            if conn.keys & wanted
        ]
        for _, conn in doomed:
            conn.revoked = True
        await asyncio.gather(*(conn.close(code) for _, conn in doomed))
        # What they sent before is stored before this returns, so a version or the minutes
        # made right after (a meeting's close) hold it.
        await asyncio.gather(*(room.drain() for room in {id(r): r for r, _ in doomed}.values()))
        return len(doomed)

    async def replace_text(self, document: str, new: str, author: str, name: str = "text") -> None:
        """Make the shared text equal ``new`` with the smallest edit (common prefix and suffix
        kept, so others' cursors and authorship survive), through the same durable path as a
        client's update. Returns after the commit; raises if storing failed."""
        async with self._held(document) as room:
            ytext = room.doc.get(name, type=Text)
            old = str(ytext)
            if old == new:
                return
            start = 0
            while start < min(len(old), len(new)) and old[start] == new[start]:
                start += 1
            end_old, end_new = len(old), len(new)
            while end_old > start and end_new > start and old[end_old - 1] == new[end_new - 1]:
                end_old -= 1
                end_new -= 1
            # pycrdt's Text counts UTF-8 bytes, not characters: "één" is 5 long to it.
            at, to = len(old[:start].encode()), len(old[:end_old].encode())
            # Build the edit on a copy: the room's document only ever holds committed state.
            scratch: Doc[Any] = Doc()
            scratch.apply_update(room.doc.get_update())
            text = scratch.get(name, type=Text)
            before = scratch.get_state()
            with scratch.transaction():
                if to > at:
                    del text[at:to]
                if end_new > start:
                    text.insert(at, new[start:end_new])
            await room.submit(scratch.get_update(before), author)

    @asynccontextmanager
    async def _held(self, document: str) -> AsyncIterator[Room]:
        """The room, loaded if need be and kept from unloading while in use."""
        holder = _Holder()
        room = await self.rooms.join(document, holder)  # type: ignore[arg-type]
        try:
            yield room
        finally:
            self.rooms.leave(room, holder)  # type: ignore[arg-type]

    async def resync(self, document: str) -> None:
        """After a possible fan-out gap: apply what the store has and the room lacks (by state
        vector), and relay it to the room's clients. Never stores anything."""
        room = self.rooms.rooms.get(document)
        if room is None:
            return
        loaded = await self.store.load(document)
        if loaded.state is not None:
            scratch: Doc[Any] = Doc()
            scratch.apply_update(loaded.state)
            missing = scratch.get_update(room.doc.get_state())
            if missing != b"\x00\x00":
                room.apply_remote(missing)

    async def _deny(self, websocket: WebSocket, document: str, reason: str) -> None:
        if self.on_denied is not None:
            with contextlib.suppress(Exception):
                await self.on_denied(websocket, document, reason)
        # Before accept: the client gets no socket at all (the handshake is refused).
        await websocket.close(1008)

    async def endpoint(self, websocket: WebSocket) -> None:
        document = str(websocket.path_params.get("document", ""))
        origin = websocket.headers.get("origin", "")
        if origin not in self.allowed_origins:
            log.info("websocket refused: origin not allowed")
            await self._deny(websocket, document, "origin")
            return
        if not document or len(document) > 200:
            await self._deny(websocket, document, "document")
            return
        grant = await self.authorize(websocket, document)
        if grant is None or grant.document != document:
            await self._deny(websocket, document, "access")
            return
        await websocket.accept()
        on_refused = None
        if self.on_refused is not None:
            hook, g = self.on_refused, grant

            async def on_refused(reason: str) -> None:
                with contextlib.suppress(Exception):
                    await hook(g, reason)

        identity = {
            "name": grant.name,
            "color": grant.colour,
            "colorLight": grant.colour + "33",
            "role": grant.role,
        }
        conn = Connection(
            websocket, identity, grant.can_write, grant.author, self.limits, on_refused
        )
        conn.keys = grant.keys
        conn.start()
        try:
            room = await self.rooms.join(document, conn)
        except Exception:
            log.exception("loading a document failed; refusing the connection")
            await conn.close(1011)
            return
        conn.on_drop = lambda: self.rooms.leave(room, conn)
        try:
            conn.send(protocol.sync_step1(room.doc.get_state()))
            if room.presence_states():
                conn.send(room.awareness_snapshot())
            await self._read(conn, room)
        finally:
            self.rooms.leave(room, conn)
            await conn.close(conn.close_code or 1000)

    async def _read(self, conn: Connection, room: Room) -> None:
        limits = self.limits
        while not conn.closed:
            try:
                message = await conn.websocket.receive()
            except (WebSocketDisconnect, RuntimeError):
                return
            if message["type"] == "websocket.disconnect":
                return
            data = message.get("bytes")
            if data is None:
                await conn.close(1003)  # text frames are not part of the protocol
                return
            if len(data) > limits.max_message_bytes:
                if conn.hello:
                    conn.send(protocol.kring_error("too_large"))
                await conn.close(1009)
                return
            if not conn.messages.take() or not conn.bytes.take(len(data)):
                if conn.hello:
                    conn.send(protocol.kring_error("rate_limited"))
                await conn.close(1008)
                return
            try:
                room.handle(conn, data)
            except ProtocolError as exc:
                log.info("closing a connection after a bad message: %s", exc)
                await conn.close(1007)
                return
