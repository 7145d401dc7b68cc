"""Several processes over one database: fan-out is lossy, resync by state vector repairs it."""

from __future__ import annotations

import os
import uuid

import pytest

from realtime.fanout import InProcessFanout, Published, RedisFanout, decode, encode


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
    message = Published("case/x/notes", b"\x01\x02\x00", "origin-1", 42)
    assert decode(encode(message)) == message


async def test_two_processes_converge_over_redis(standalone):
    url = os.environ.get("KRING_TEST_REDIS_URL")
    if not url:
        pytest.skip("Redis: set KRING_TEST_REDIS_URL (e.g. redis://127.0.0.1:6379/0) to run this")
    channel = f"kring:test:{uuid.uuid4().hex}"
    one = await standalone(fanout=RedisFanout(url, channel))
    two = await standalone(fanout=RedisFanout(url, channel))
    a, b = await one.connect(), await two.connect()
    await _synced(a, b)
    await a.type("via redis")
    await b.wait_for(lambda: str(b.text) == "via redis")
