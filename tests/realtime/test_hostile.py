"""Hostile and broken clients: fuzzed messages, slow consumers."""

from __future__ import annotations

import asyncio
import contextlib

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pycrdt import Doc, Text

from realtime import protocol
from workspace.notes import document_name

VALID = [
    protocol.sync_step1(b"\x00"),
    protocol.sync_update(b"\x00\x00"),
    protocol.awareness_message(b"\x00"),
]


def _mutations() -> st.SearchStrategy[bytes]:
    doc = Doc()
    doc.get("text", type=Text).insert(0, "geldige tekst")
    seed = protocol.sync_update(doc.get_update())
    flips = st.lists(
        st.tuples(st.integers(0, len(seed) - 1), st.integers(0, 255)), min_size=1, max_size=4
    )
    mutated = flips.map(
        lambda fs: bytes(
            (v if i in dict(fs) and (v := dict(fs)[i]) is not None else b)
            for i, b in enumerate(seed)
        )
    )
    return st.one_of(
        st.binary(min_size=0, max_size=64),
        mutated,
        st.sampled_from(VALID).map(lambda m: m[:-1]),
        st.binary(max_size=8).map(lambda b: b"\x00\x02" + b),
    )


def test_message_parser_never_raises_anything_but_protocol_errors():
    @settings(max_examples=400, deadline=None)
    @given(_mutations())
    def check(message: bytes) -> None:
        with contextlib.suppress(protocol.ProtocolError):
            protocol.parse(message)

    check()


async def test_fuzzed_messages_leave_the_server_the_room_and_others_unharmed(connect, world, app):
    keeper = await connect("coordinator", world)
    await keeper.type("onaangetast")
    name = document_name(world.case.id)
    examples: list[bytes] = []

    @settings(
        max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), database=None
    )
    @given(_mutations())
    def collect(message: bytes) -> None:
        examples.append(message)

    collect()
    for message in examples:
        attacker = await connect("professional", world)
        with contextlib.suppress(Exception):  # the server may close it first: that is fine
            await attacker.send(message)
        await attacker.ws.close()
    room = app.state.realtime.rooms.rooms[name]
    await room.drain()
    # The document holds only what real clients wrote (a fuzzed message may be a valid update
    # of its own; it must never corrupt or remove the keeper's text).
    assert "onaangetast" in str(room.doc.get("text", type=Text))
    await keeper.type("!")
    late = await connect("household", world)
    await late.wait_for(lambda: "onaangetast" in str(late.text) and "!" in str(late.text))


async def test_a_slow_consumer_is_dropped_and_others_carry_on(connect, world, app):
    from realtime.room import Limits

    app.state.realtime.limits = Limits(
        send_queue=4,
        messages_per_second=1000,
        message_burst=1000,
        bytes_per_second=1e9,
        byte_burst=1e9,
    )
    writer = await connect("coordinator", world)
    reader = await connect("household", world)
    slow = await connect("professional", world, max_queue=1)
    slow._reader.cancel()  # stops reading: its TCP buffers fill, then its send queue
    chunk = "x" * 60_000
    rounds = 400
    for _ in range(rounds):
        await writer.type(chunk)
        await asyncio.sleep(0)
    await reader.wait_for(lambda: len(str(reader.text)) == rounds * 60_000, timeout=60)
    assert str(writer.text) == str(reader.text)
    room = app.state.realtime.rooms.rooms[document_name(world.case.id)]
    assert len(room.connections) == 2  # the slow one was dropped, the others carried on
    authors = {c.author for c in room.connections}
    assert f"participant:{world.professional_participant.id}" not in authors
