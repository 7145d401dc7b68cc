"""Several processes over one database: fan-out is lossy, resync by state vector repairs it."""

from __future__ import annotations

import asyncio
import logging
import os
import uuid

import pytest

from realtime import protocol
from realtime.fanout import (
    PRESENCE,
    SIGNAL,
    InProcessFanout,
    Published,
    QuietLog,
    RedisFanout,
    decode,
    encode,
)


class LossyFanout(InProcessFanout):
    """The in-process hub, except that it loses messages while ``drop`` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.drop = False
        self.lost = 0

    async def publish(self, message: Published) -> None:
        if self.drop:
            self.lost += 1
            return
        await super().publish(message)


async def _synced(*clients) -> None:
    for client in clients:
        await client.wait_for(lambda c=client: c.stored is not None)


async def test_two_processes_over_one_database_converge_and_store_once(standalone):
    hub = InProcessFanout()
    one, two = await standalone(fanout=hub), await standalone(fanout=hub)
    a, b = await one.connect(), await two.connect()
    await _synced(a, b)
    await a.type("van een ")
    await b.wait_for(lambda: str(b.text) == "van een ")
    await b.type("naar twee")
    await a.wait_for(lambda: str(a.text) == "van een naar twee")
    # Each update is in the log once: a process never stores what another one published.
    assert len(await one.server.store.history("case/1/notes")) == 2


async def test_a_lost_message_is_repaired_when_the_next_one_shows_the_gap(standalone):
    hub = LossyFanout()
    one, two = await standalone(fanout=hub), await standalone(fanout=hub)
    a, b = await one.connect(), await two.connect()
    await _synced(a, b)
    await a.type("een ")
    await b.wait_for(lambda: str(b.text) == "een ")
    hub.drop = True
    await a.type("twee ")
    await a.wait_for(lambda: a.stored != b"" and a.doc.get_state() == a.stored)
    assert hub.lost == 1 and str(b.text) == "een "
    hub.drop = False
    await a.type("drie")
    await b.wait_for(lambda: str(b.text) == "een twee drie")


async def test_a_lost_last_message_is_repaired_by_the_periodic_resync(standalone):
    hub = LossyFanout()
    one = await standalone(fanout=hub)
    two = await standalone(fanout=hub, resync_every=0.1)
    a, b = await one.connect(), await two.connect()
    await _synced(a, b)
    hub.drop = True
    await a.type("toch aangekomen")
    await b.wait_for(lambda: str(b.text) == "toch aangekomen")
    assert hub.lost == 1


def test_fanout_messages_round_trip_through_their_wire_format():
    for message in (
        Published("case/x/notes", b"\x01\x02\x00", "origin-1", 42),
        Published("case/x/notes", b"\x00", "origin-1", 0, PRESENCE),
        Published("revoke", b'["session:1"]', "origin-2", 0, SIGNAL),
    ):
        assert decode(encode(message)) == message
    with pytest.raises(ValueError, match="kind"):
        decode(b"\x09" + encode(message)[1:])


def _awareness(client_id: int, clock: int, state: str) -> bytes:
    entry = protocol.AwarenessEntry(client_id, clock, state)
    return protocol.awareness_message(protocol.encode_awareness([entry]))


def _entries(client) -> list[protocol.AwarenessEntry]:
    return [e for update in client.awareness for e in protocol.decode_awareness(update)]


async def test_editor_presence_crosses_processes_with_the_identity_its_own_process_gave(
    standalone,
):
    hub = InProcessFanout()
    one, two = await standalone(fanout=hub), await standalone(fanout=hub)
    a = await one.connect(who="writer")
    b = await two.connect(who="reader")
    await _synced(a, b)
    await a.send(_awareness(1001, 1, '{"user":{"name":"Ik"},"cursor":3}'))
    await b.wait_for(lambda: any(e.client_id == 1001 for e in _entries(b)))
    (seen,) = [e for e in _entries(b) if e.client_id == 1001]
    # Stamped by process one (the writer's grant), not taken from the client.
    assert '"name":"Writer"' in seen.state and '"cursor":3' in seen.state
    # A newcomer on process two gets the remote cursor in its first snapshot.
    late = await two.connect(who="reader")
    await late.wait_for(lambda: any(e.client_id == 1001 for e in _entries(late)))
    # The reader's stock client echoes what it applied: that must not become process two's own.
    await b.send(_awareness(1001, 1, seen.state))
    await a.close()
    await b.wait_for(lambda: any(e.client_id == 1001 and e.state == "null" for e in _entries(b)))
    assert 1001 not in {
        e.client_id for e in two.server.rooms.rooms["case/1/notes"].presence_states()
    }


async def test_a_revocation_in_one_process_closes_its_connections_in_the_other(standalone):
    hub = InProcessFanout()
    one, two = await standalone(fanout=hub), await standalone(fanout=hub)
    stays = await two.connect(who="writer-1")
    goes = await two.connect(who="writer-2")
    await _synced(stays, goes)
    assert await one.server.revoke({"grant:writer-2"}) == 0  # none of theirs on process one
    assert await goes.wait_closed() == 4001
    await stays.type("nog open")
    await stays.wait_for(stays.all_stored)


async def test_a_process_that_missed_the_revocation_refuses_what_its_connection_sends_next(
    standalone,
):
    hub = LossyFanout()
    one, two = await standalone(fanout=hub), await standalone(fanout=hub)
    goes = await two.connect(who="writer-2")
    await _synced(goes)
    hub.drop = True  # the revocation's signal is lost on the way
    await one.server.revoke({"grant:writer-2"})
    assert goes.closed is None
    # The very next batch: the revocation is in the database both processes share.
    await goes.type("na het intrekken")
    assert await goes.wait_closed() == 4001
    assert await one.server.text("case/1/notes") == ""
    # The same person let in again later (a new grant, a new connection) may write.
    hub.drop = False
    again = await two.connect(who="writer-2")
    await _synced(again)
    await again.type("opnieuw toegelaten")
    await again.wait_for(again.all_stored)
    assert await one.server.text("case/1/notes") == "opnieuw toegelaten"


class HangingFanout(InProcessFanout):
    """A fan-out whose publish never returns (a Redis that accepts the socket, then hangs)."""

    def __init__(self) -> None:
        super().__init__()
        self.attempts = 0

    async def publish(self, message: Published) -> None:
        self.attempts += 1
        await asyncio.Event().wait()


async def test_a_hung_fanout_never_delays_delivery_or_storage_in_its_own_process(
    standalone, caplog
):
    served = await standalone(fanout=HangingFanout())
    a, b = await served.connect(), await served.connect()
    await _synced(a, b)
    with caplog.at_level(logging.WARNING, logger="kring.realtime"):
        for word in ("een ", "twee ", "drie "):
            await a.type(word)
        # Each publish waits up to 2 s for the hung fan-out; three of them would take 6 s if
        # delivery waited for them: the default wait here is 5 s.
        await b.wait_for(lambda: str(b.text) == "een twee drie ")
        await a.wait_for(a.all_stored)
    tracebacks = [r for r in caplog.records if r.exc_info]
    assert not tracebacks


def test_a_recurring_failure_is_logged_once_a_while_with_a_count(caplog):
    quiet = QuietLog("fan-out publish", every=3600)
    with caplog.at_level(logging.WARNING, logger="kring.realtime"):
        for _ in range(200):
            quiet.failed(ConnectionError("Connection refused"))
    (record,) = caplog.records
    assert "fan-out publish failed 1 time(s): ConnectionError: Connection refused" in (
        record.getMessage()
    )
    assert record.exc_info is None


async def test_signals_reach_the_other_processes_and_not_their_sender(standalone):
    hub = InProcessFanout()
    one, two = await standalone(fanout=hub), await standalone(fanout=hub)
    heard: dict[str, list[bytes]] = {"one": [], "two": []}

    def on(name: str):
        async def handler(payload: bytes) -> None:
            heard[name].append(payload)

        return handler

    one.server.on_signal("test", on("one"))
    two.server.on_signal("test", on("two"))
    one.server.signal("test", b"hallo")
    for _ in range(100):
        if heard["two"]:
            break
        await asyncio.sleep(0.02)
    assert heard == {"one": [], "two": [b"hallo"]}


async def test_two_processes_converge_over_redis(standalone):
    url = os.environ.get("KRING_TEST_REDIS_URL")
    if not url:
        pytest.skip("Redis: set KRING_TEST_REDIS_URL (e.g. redis://127.0.0.1:6379/0) to run this")
    prefix = f"kring-test-{uuid.uuid4().hex}"
    one = await standalone(fanout=RedisFanout(url, prefix))
    two = await standalone(fanout=RedisFanout(url, prefix))
    a, b = await one.connect(), await two.connect()
    await _synced(a, b)
    await a.type("via redis")
    await b.wait_for(lambda: str(b.text) == "via redis")
    # A revocation crosses too, and is marked for a process that would miss it.
    goes = await two.connect(who="writer-2")
    await _synced(goes)
    await one.server.revoke({"grant:writer-2"})
    assert await goes.wait_closed() == 4001
    ended = await two.server.store.ended(frozenset({"grant:writer-2", "grant:writer"}))
    assert set(ended) == {"grant:writer-2"}


async def test_an_unreachable_redis_does_not_keep_a_process_from_serving(standalone):
    # Nothing listens on port 9 (discard): connecting is refused at once.
    served = await standalone(fanout=RedisFanout("redis://127.0.0.1:9/0", timeout=0.5))
    a, b = await served.connect(), await served.connect()
    await _synced(a, b)
    await a.type("alleen hier")
    await b.wait_for(lambda: str(b.text) == "alleen hier")
    await a.wait_for(a.all_stored)
