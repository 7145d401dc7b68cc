"""Rooms: one per loaded document, its connections, group commit, fan-out, presence."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from pycrdt import Doc
from starlette.websockets import WebSocket

from realtime import protocol, updates
from realtime.protocol import AwarenessEntry, ProtocolError
from realtime.store import Loaded, Pending, UpdateStore, merge_all

log = logging.getLogger("kring.realtime")

EMPTY_UPDATE = b"\x00\x00"

#: From this many clients on, a room sends each client at most one update message a tick:
#: every message costs one send here and one applied Yjs transaction there, so a crowd gets
#: fewer, fuller messages. The tick grows with the room (0.1 ms per client: 200 -> 20 ms).
BUSY_ROOM = 32
TICK_PER_CLIENT = 0.0001
MAX_TICK = 0.02
#: A busy room serves its clients in groups of about this many, in turns spread over the tick
#: (200 clients: 4 groups, one every 5 ms), and commits at every turn. Each client still gets
#: one message a tick, but the room's sends - and the work they cause wherever many clients
#: share a machine - come in small waves instead of one burst; and an update waits for the
#: next turn's commit, not for the whole tick's, before it is stored.
GROUP_SIZE = 50
#: How long a presence renewal (same state, newer clock) may wait to be sent. y-protocols
#: renews every 15 s and drops a remote state after 30 s without one, so this must stay well
#: under 15 s; a second merges a crowd's renewals into one message a second.
PRESENCE_RENEWAL_DELAY = 1.0
#: A busy room sends renewals alone (nothing changed) to its clients in slices over this long.
#: Every client answers an awareness message with an echo of all of it, and a crowd that
#: joined together renews together: 200 echoes of 200 states each arrived within a few ms,
#: and applying and echoing them stalled every client at once (the crowd's worst second;
#: spread over 0.5 s it still was). A client renews 15-18 s after its last renewal and others
#: drop its state after 30 s: held up to 1 s and spread over 4 s, it still arrives by 23 s.
PRESENCE_SPREAD = 4.0
PRESENCE_SLICES = 20
#: A room sends presence changes (a caret moved, someone came or left) at most once in 1 ms
#: per client (8 clients: 8 ms; 200: 200 ms), and at most 250 ms apart. Every presence
#: message a stock y-websocket client applies it echoes back whole, so each send costs a room
#: as many messages out and echoes in as it has clients: a crowd of 200 whose carets each
#: moved every 5 s had a send every tick (10,000 messages out and 10,000 echoes in a second):
#: p95 60-65 ms in paired runs, 45-54 ms spaced like this. A room of any size then sends its
#: clients about 1,000 presence messages a second at most. (500 ms for 200 was no better.)
PRESENCE_PER_CLIENT = 0.001
MAX_PRESENCE_INTERVAL = 0.25
#: Presence client ids one connection may introduce (a page has one per document; a few
#: more for reloads of the editor); more are ignored.
MAX_CLIENT_IDS = 8
#: Retired client ids a room remembers (oldest forgotten first).
MAX_RETIRED = 10_000


class TokenBucket:
    """``rate`` tokens a second, up to ``burst``. take() says whether there was enough."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate, self.burst, self.tokens = rate, burst, burst
        self.stamp = time.monotonic()

    def take(self, amount: float = 1.0) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens < amount:
            return False
        self.tokens -= amount
        return True


@dataclass(frozen=True)
class Limits:
    max_message_bytes: int = 256 * 1024
    send_queue: int = 512
    #: Bytes queued for one connection before it counts as a slow consumer and is dropped.
    send_queue_bytes: int = 8 * 1024 * 1024
    messages_per_second: float = 100.0
    message_burst: float = 300.0
    bytes_per_second: float = 1024 * 1024
    byte_burst: float = 4 * 1024 * 1024
    max_client_ids: int = 8


class Connection:
    """One websocket. Sends go through a bounded queue and one writer task, so a slow client
    can never hold up a room: when its queue is full it is dropped (1013)."""

    def __init__(
        self,
        websocket: WebSocket,
        identity: dict[str, str],
        can_write: bool,
        author: str,
        limits: Limits,
        on_refused: Callable[[str], Coroutine[Any, Any, None]] | None = None,
    ) -> None:
        self.websocket = websocket
        self.on_refused = on_refused
        self.identity = identity
        self.can_write = can_write
        self.author = author
        self.hello = False
        self.refused_once = False
        self.client_ids: set[int] = set()
        #: The grant's keys (``Grant.keys``), and whether it was revoked: then nothing this
        #: connection sends is handled any more.
        self.keys: frozenset[str] = frozenset()
        self.revoked = False
        #: When it was let in (wall clock): a grant that ended after this moment ends it.
        self.opened_at = time.time()
        self.closed = False
        self.close_code: int | None = None
        #: Called once when the server drops this connection (e.g. a slow consumer), so it
        #: leaves its room at once instead of when its reader next wakes up.
        self.on_drop: Callable[[], None] | None = None
        self._queue: asyncio.Queue[bytes | None] = asyncio.Queue(limits.send_queue)
        self._queued_bytes = 0
        self._max_queued_bytes = limits.send_queue_bytes
        self._writer: asyncio.Task[None] | None = None
        self.messages = TokenBucket(limits.messages_per_second, limits.message_burst)
        self.bytes = TokenBucket(limits.bytes_per_second, limits.byte_burst)

    def start(self) -> None:
        self._writer = asyncio.create_task(self._write())

    async def _write(self) -> None:
        try:
            while (data := await self._queue.get()) is not None:
                self._queued_bytes -= len(data)
                await self.websocket.send_bytes(data)
        except Exception:  # the socket went away; the reader notices and cleans up
            self.closed = True

    def send(self, data: bytes) -> None:
        if self.closed:
            return
        try:
            # One message alone may exceed the bound (a large document's first sync step 2).
            if self._queued_bytes and self._queued_bytes + len(data) > self._max_queued_bytes:
                raise asyncio.QueueFull
            self._queue.put_nowait(data)
            self._queued_bytes += len(data)
        except asyncio.QueueFull:
            log.warning("dropping a slow consumer (send queue full)")
            self.closed = True
            if self.on_drop is not None:
                self.on_drop()
            asyncio.get_running_loop().create_task(self.close(1013))

    async def close(self, code: int = 1000) -> None:
        """Flush what is queued (best effort), then close the socket with ``code``.

        Never waits long: a client that stopped reading must not hold anything up (uvicorn's
        ping timeout ends such a socket for good)."""
        if self.close_code is not None:
            return
        self.close_code = code
        if self._writer is not None and not self._writer.done():
            if code == 1013:
                self._writer.cancel()
            else:
                with contextlib.suppress(asyncio.QueueFull):
                    self._queue.put_nowait(None)
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(asyncio.shield(self._writer), 2)
                self._writer.cancel()
        self.closed = True
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.websocket.close(code), 2)


OnStored = Callable[[str, bytes], Awaitable[None]]
#: Told the presence entries a room accepted from its own connections (to relay them).
OnPresence = Callable[[str, list[AwarenessEntry]], None]
#: Given a batch's senders, returns those whose access ended meanwhile elsewhere.
Admit = Callable[[set["Connection"]], Awaitable[set["Connection"]]]
#: A presence state relayed from another process is forgotten after this long without news
#: (that process may have died; y-protocols clients drop a state after 30 s themselves).
REMOTE_PRESENCE_SECONDS = 35.0


@dataclass
class Room:
    """A loaded document. ``doc`` only ever holds committed updates: incoming ones wait in
    ``pending`` until the log has them, so a failed store leaves the room as it was."""

    name: str
    store: UpdateStore
    doc: Doc[Any] = field(default_factory=Doc)
    connections: set[Connection] = field(default_factory=set)
    #: (sender or None for a server-side edit, update, author, future resolved after commit)
    pending: list[tuple[Connection | None, bytes, str, asyncio.Future[None] | None]] = field(
        default_factory=list
    )
    tail: int = 0
    compact_after: int = 1000
    on_stored: OnStored | None = None
    on_presence: OnPresence | None = None
    admit: Admit | None = None
    unload_task: asyncio.Task[None] | None = None
    _flusher: asyncio.Task[None] | None = None
    #: When the last turn began (the event loop's clock), for the tick of a busy room.
    _last_turn: float = float("-inf")
    _turns: int = 0
    #: Committed updates (one merged update per commit) not yet sent to every connection:
    #: ``_log[0]`` is commit number ``_log_start``; ``_commits`` counts all commits so far.
    _log: list[bytes] = field(default_factory=list)
    _log_start: int = 0
    _commits: int = 0
    #: Per connection: how many commits it has been sent (or had when it joined: its sync
    #: step 2 comes from ``doc``, which holds them), and its place in the turns.
    _sent: dict[Connection, int] = field(default_factory=dict)
    _seat: dict[Connection, int] = field(default_factory=dict)
    _seats: int = 0
    _states: dict[int, AwarenessEntry] = field(default_factory=dict)
    _owners: dict[int, Connection] = field(default_factory=dict)
    #: Client ids whose connection left, with whose they were (``Connection.author``): only
    #: the same person may use one again (a reconnect). Everyone else sending one is echoing
    #: a state we relayed, or trying to speak as someone who left.
    _retired: dict[int, str] = field(default_factory=dict)
    #: Presence changes not sent yet (the newest entry per client id), and when they go.
    _presence: dict[int, AwarenessEntry] = field(default_factory=dict)
    _presence_timer: asyncio.Handle | None = None
    _presence_due: float = 0.0
    #: Whether anything queued is a change (not only renewals): then it goes to all at once.
    _presence_changed: bool = False
    #: When presence last went out (the event loop's clock).
    _presence_sent: float = float("-inf")
    _compacting: asyncio.Task[None] | None = None
    #: Presence from other processes' connections: client id -> (entry, when heard).
    _remote: dict[int, tuple[AwarenessEntry, float]] = field(default_factory=dict)

    # -- incoming -------------------------------------------------------------------------

    def handle(self, conn: Connection, message: bytes) -> None:
        """Act on one client message. Raises ProtocolError (the caller closes the connection)."""
        if conn.revoked:
            return
        incoming = protocol.parse(message)
        if incoming.type == 0:
            if incoming.subtype == 0:
                conn.send(protocol.sync_step2(self.doc.get_update(incoming.payload)))
                if conn.hello:
                    conn.send(protocol.kring_stored(self.doc.get_state()))
            else:
                if incoming.contextual:
                    try:
                        updates.check_against(self.doc, incoming.payload)
                    except updates.BadUpdate as exc:
                        raise ProtocolError(f"update refused: {exc}") from None
                self._receive_update(conn, incoming.payload)
        elif incoming.type == 1:
            self._receive_awareness(conn, incoming.payload)
        elif incoming.type == 3:
            if self.presence_states():
                conn.send(self.awareness_snapshot())
        elif incoming.type == protocol.KRING and incoming.subtype == protocol.KringMessage.HELLO:
            # Other kring subtypes from a client are ignored: newer clients may send more.
            conn.hello = True

    def _receive_update(self, conn: Connection, update: bytes) -> None:
        if update == EMPTY_UPDATE:
            return
        if not conn.can_write:
            if not conn.refused_once:
                conn.refused_once = True
                if conn.hello:
                    conn.send(protocol.kring_error("readonly"))
                if conn.on_refused is not None:
                    asyncio.get_running_loop().create_task(conn.on_refused("readonly"))
            return
        self._enqueue(conn, update, conn.author, None)

    def _enqueue(
        self, conn: Connection | None, update: bytes, author: str, done: asyncio.Future[None] | None
    ) -> None:
        self.pending.append((conn, update, author, done))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())

    async def submit(self, update: bytes, author: str) -> None:
        """A server-side edit (e.g. a form saved without JavaScript): stored, applied and
        broadcast like any client's update. Returns after the commit; raises if it failed."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._enqueue(None, update, author, done)
        await done

    # -- group commit ---------------------------------------------------------------------

    async def _flush(self) -> None:
        """Store what is pending, apply it, and send each connection what it has not had yet.

        A quiet room does all three at once. A busy one works in turns (see ``GROUP_SIZE``):
        each turn commits whatever arrived since the last, and serves one group of
        connections everything committed since that group's previous turn."""
        loop = asyncio.get_running_loop()
        while self.pending or self._log:
            groups = self._groups()
            # One turn of the event loop first: updates that arrived in the same network read
            # (a burst of keystrokes, many clients at once) join this commit. A busy room keeps
            # its turns tick / groups apart: an update that finds the room quiet is stored at
            # once, one that arrives just after a turn waits for the next.
            await asyncio.sleep(max(0.0, self._last_turn + self._tick() / groups - loop.time()))
            self._last_turn = loop.time()
            try:
                if self.pending:
                    await self._commit()
                self._serve(self._turns % groups, groups)
            except Exception:
                # This task is the room's only way to store and send: it must outlive any one
                # failure, or every later update would wait unstored and unacknowledged.
                log.exception("a room's turn failed; the room goes on")
            self._turns += 1

    async def _commit(self) -> None:
        """Store the pending updates in one transaction; only then apply them and log them
        for sending. If storing fails, nothing is applied or sent and the senders are closed."""
        batch, self.pending = self.pending, []
        # A sender whose earlier group failed was closed: its later updates depend on the
        # lost ones, and its client sends them all again when it reconnects. (A revoked
        # sender's updates here came in while it still had access, so they are kept; what it
        # sends after the revocation never reaches this list, see ``handle``.)
        batch = [item for item in batch if item[0] is None or item[0].close_code != 1011]
        if not batch:
            return
        senders = {c for c, _, _, _ in batch if c is not None}
        if self.admit is not None and senders:
            ended = await self.admit(senders)
            if ended:
                # Their access ended in another process and this one missed the signal.
                for conn in ended:
                    conn.revoked = True
                await asyncio.gather(*(conn.close(4001) for conn in ended))
                batch = [item for item in batch if item[0] not in ended]
                senders -= ended
                if not batch:
                    return
        try:
            await self.store.append(self.name, [Pending(u, a) for _, u, a, _ in batch])
        except Exception as exc:
            log.exception("storing %d update(s) failed; closing their senders", len(batch))
            await self._fail(batch, senders, exc)
            return
        updates = [u for _, u, _, _ in batch]
        try:
            merged = merge_all(updates)
            self.doc.apply_update(merged)
        except Exception as exc:
            # Stored but not readable: ``updates.check`` lets nothing like this in, so this is
            # a bug, not input. Its senders are closed (they resync and send again); others'
            # work goes on, and the store leaves such an update out when it next loads.
            log.exception("applying %d stored update(s) failed; closing their senders", len(batch))
            await self._fail(batch, senders, exc)
            return
        self.tail += len(updates)
        self._log.append(merged)
        self._commits += 1
        stored = protocol.kring_stored(self.doc.get_state())
        for sender in senders:
            if sender.hello:
                sender.send(stored)
        for _, _, _, done in batch:
            if done is not None and not done.done():
                done.set_result(None)
        if self.on_stored is not None:
            await self.on_stored(self.name, merged)
        if self.tail >= self.compact_after and (
            self._compacting is None or self._compacting.done()
        ):
            self.tail = 0
            self._compacting = asyncio.create_task(self._compact())

    @staticmethod
    async def _fail(batch: list[Any], senders: set[Connection], exc: Exception) -> None:
        for _, _, _, done in batch:
            if done is not None and not done.done():
                done.set_exception(exc)
        # 1011 (not 44xx): the client reconnects, resyncs and keeps its edits.
        await asyncio.gather(*(sender.close(1011) for sender in senders))

    def _serve(self, group: int, groups: int) -> None:
        """Send the connections of ``group`` (of ``groups``) every logged update they lack,
        merged into one message; then drop from the log what every connection has had."""
        waiting: dict[int, list[Connection]] = {}
        for conn in self.connections:
            sent = self._sent.get(conn, self._commits)
            if sent < self._commits and self._seat.get(conn, 0) % groups == group:
                waiting.setdefault(sent, []).append(conn)
        for sent, conns in waiting.items():
            message = protocol.sync_update(merge_all(self._log[sent - self._log_start :]))
            for conn in conns:
                conn.send(message)
                self._sent[conn] = self._commits
        oldest = min(
            (self._sent.get(conn, self._commits) for conn in self.connections),
            default=self._commits,
        )
        del self._log[: oldest - self._log_start]
        self._log_start = oldest

    def _groups(self) -> int:
        """In how many turns a tick serves this room's connections."""
        return max(1, -(-len(self.connections) // GROUP_SIZE)) if self._tick() else 1

    def add(self, conn: Connection) -> None:
        """A connection joins. Its sync step 2 will come from ``doc``, which already holds
        every commit so far: it is sent only later ones."""
        self.connections.add(conn)
        self._sent[conn] = self._commits
        self._seat[conn] = self._seats
        self._seats += 1

    def _tick(self) -> float:
        """The least time between two update messages to one client (0: no limit)."""
        clients = len(self.connections)
        if clients < BUSY_ROOM:
            return 0.0
        return min(MAX_TICK, clients * TICK_PER_CLIENT)

    async def _compact(self, loaded: Loaded | None = None) -> None:
        try:
            if loaded is None:
                await self.store.compact(self.name)
            else:
                await self.store.write_snapshot(self.name, loaded)
        except Exception:
            log.exception("compaction failed; the log still holds everything")

    def compact_soon(self, loaded: Loaded) -> None:
        """Write ``loaded`` (what this room was loaded from) as the snapshot, in the background."""
        if self._compacting is None or self._compacting.done():
            self.tail = 0
            self._compacting = asyncio.create_task(self._compact(loaded))

    async def drain(self) -> None:
        """Wait until nothing is pending or being stored."""
        while self._flusher is not None and not self._flusher.done():
            await asyncio.shield(self._flusher)
        if self._compacting is not None and not self._compacting.done():
            await asyncio.shield(self._compacting)

    def apply_remote(self, update: bytes) -> None:
        """An update another process already stored: apply and relay, never store again."""
        self.doc.apply_update(update)
        message = protocol.sync_update(update)
        for conn in list(self.connections):
            conn.send(message)

    # -- presence -------------------------------------------------------------------------

    def _receive_awareness(self, conn: Connection, payload: bytes) -> None:
        for entry in protocol.decode_awareness(payload):
            owner = self._owners.get(entry.client_id)
            if owner is None and entry.client_id in self._remote:
                continue  # an echo of a state relayed from another process
            if owner is None:
                # A connection owns only the client ids it introduced. Stock y-websocket
                # clients re-send every state they apply, also after its owner left: such an
                # echo (an id retired by someone else) is ignored, never a reason to close.
                if entry.state == "null" or len(conn.client_ids) >= MAX_CLIENT_IDS:
                    continue
                if self._retired.get(entry.client_id, conn.author) != conn.author:
                    continue
                self._retired.pop(entry.client_id, None)
                self._owners[entry.client_id] = conn
                conn.client_ids.add(entry.client_id)
            elif owner is not conn:
                # Echoes of live states: dropped here, or one renewal turns into
                # C + (C-1)*C messages.
                continue
            known = self._states.get(entry.client_id)
            if known is not None and entry.clock <= known.clock:
                continue
            entry.state = protocol.with_identity(entry.state, conn.identity)
            if entry.state == "null":
                self._states.pop(entry.client_id, None)
                self._owners.pop(entry.client_id, None)
                conn.client_ids.discard(entry.client_id)
                self._retired[entry.client_id] = conn.author
            else:
                self._states[entry.client_id] = entry
            renewal = known is not None and known.state == entry.state
            self._queue_presence([entry], renewal=renewal)
            if self.on_presence is not None:
                self.on_presence(self.name, [entry])

    def _queue_presence(self, entries: list[AwarenessEntry], *, renewal: bool = False) -> None:
        """Send ``entries`` to every connection soon, merged with whatever else is queued: one
        awareness message per room per send, the same bytes for all.

        A change goes out with the next tick, but no sooner than ``PRESENCE_PER_CLIENT`` per
        client after the room's previous presence send. A renewal (the same state, a newer
        clock: y-protocols sends one every 15 s so that others do not time the state out
        after 30 s) waits up to ``PRESENCE_RENEWAL_DELAY``, unless a change takes it along.

        Every message a y-websocket client applies, it sends back (its echo), so merging
        presence matters twice: a crowd of 200 whose renewals went out one by one received
        40,000 messages and sent 40,000 echoes within the 3 s in which they fell due."""
        for entry in entries:
            self._presence[entry.client_id] = entry
        self._presence_changed |= not renewal
        loop = asyncio.get_running_loop()
        now = loop.time()
        if renewal:
            due = now + PRESENCE_RENEWAL_DELAY
        else:
            spacing = min(MAX_PRESENCE_INTERVAL, len(self.connections) * PRESENCE_PER_CLIENT)
            due = max(now + self._tick(), self._presence_sent + spacing)
        if self._presence_timer is not None:
            if self._presence_due <= due:
                return
            self._presence_timer.cancel()
        self._presence_due = due
        self._presence_timer = loop.call_at(due, self._send_presence)

    def _send_presence(self) -> None:
        self._presence_timer = None
        entries, self._presence = list(self._presence.values()), {}
        changed, self._presence_changed = self._presence_changed, False
        if not entries:
            return
        self._presence_sent = asyncio.get_running_loop().time()
        message = protocol.awareness_message(protocol.encode_awareness(entries))
        # The sender gets its own state back too: harmless, and it keeps a lone client's
        # 30-second liveness check fed.
        connections = list(self.connections)
        if changed or not self._tick():
            self._send_to(connections, message)
            return
        # Renewals only, in a busy room: they may take a while (a state lasts 30 s without
        # one), so a slice of the clients gets them at a time. Out of order is harmless: a
        # client keeps the state with the highest clock.
        slices = min(PRESENCE_SLICES, len(connections))
        loop = asyncio.get_running_loop()
        for i in range(slices):
            loop.call_later(
                i * PRESENCE_SPREAD / slices, self._send_to, connections[i::slices], message
            )

    @staticmethod
    def _send_to(connections: list[Connection], message: bytes) -> None:
        for conn in connections:
            conn.send(message)

    def awareness_snapshot(self) -> bytes:
        return protocol.awareness_message(protocol.encode_awareness(self.presence_states()))

    def presence_states(self) -> list[AwarenessEntry]:
        """Every state this room knows: its own connections' and other processes'."""
        cutoff = time.monotonic() - REMOTE_PRESENCE_SECONDS
        for client_id in [c for c, (_, heard) in self._remote.items() if heard < cutoff]:
            del self._remote[client_id]
        return [*self._states.values(), *(entry for entry, _ in self._remote.values())]

    def apply_remote_presence(self, entries: list[AwarenessEntry]) -> None:
        """Presence another process accepted (its identity already stamped there): relay it to
        this room's connections. Never taken as this process's own: only sending it on."""
        fresh = []
        now = time.monotonic()
        for entry in entries:
            if entry.client_id in self._owners:
                continue  # ours: a connection here owns it
            known = self._remote.get(entry.client_id)
            if known is not None and entry.clock <= known[0].clock:
                continue
            if entry.state == "null":
                self._remote.pop(entry.client_id, None)
            else:
                self._remote[entry.client_id] = (entry, now)
            renewal = known is not None and known[0].state == entry.state
            fresh.append((entry, renewal))
        if fresh:
            self._queue_presence(
                [entry for entry, _ in fresh], renewal=all(renewal for _, renewal in fresh)
            )

    def forget(self, conn: Connection) -> None:
        """A connection left: tell the others its cursors are gone."""
        self.connections.discard(conn)
        self._sent.pop(conn, None)
        self._seat.pop(conn, None)
        gone = []
        for client_id in conn.client_ids:
            if self._owners.get(client_id) is conn:
                known = self._states.pop(client_id, None)
                del self._owners[client_id]
                self._retired[client_id] = conn.author
                if len(self._retired) > MAX_RETIRED:
                    del self._retired[next(iter(self._retired))]
                gone.append(AwarenessEntry(client_id, (known.clock if known else 0) + 1, "null"))
        if gone:
            self._queue_presence(gone)
            if self.on_presence is not None:
                self.on_presence(self.name, gone)
