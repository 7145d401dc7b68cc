"""The durable sync server, end to end: real app, real sessions, real websockets."""

from __future__ import annotations

import asyncio

import pytest
import websockets
from pycrdt import Doc, Text, get_state
from sqlalchemy import func, select

from realtime import protocol
from realtime.tables import updates
from tests.realtime.conftest import clock_in
from workspace.audit.coalesce import write_refusals
from workspace.models import AuditEvent
from workspace.notes import document_name


async def _rows(db, document: str) -> list:
    async with db.begin() as session:
        return (
            await session.execute(
                select(updates.c.author)
                .where(updates.c.document == document)
                .order_by(updates.c.id)
            )
        ).all()


async def test_two_participants_converge_and_updates_are_logged_with_author(connect, world, db):
    a = await connect("coordinator", world)
    b = await connect("household", world)
    await a.type("Wat moet stoppen: ")
    await b.wait_for(lambda: str(b.text) == "Wat moet stoppen: ")
    await b.type("het schreeuwen.")
    await a.wait_for(lambda: str(a.text) == "Wat moet stoppen: het schreeuwen.")
    authors = {row.author for row in await _rows(db, document_name(world.case.id))}
    assert authors == {
        f"participant:{world.household.id}",
        f"participant:{(await _coordinator(db, world)).id}",
    }


async def _coordinator(db, world):
    from workspace.models import Participant

    async with db.begin() as session:
        return await session.scalar(
            select(Participant).where(Participant.user_id == world.coordinator.id)
        )


async def _gated_store(server):  # type: ignore[no-untyped-def]
    """Make the store's next appends wait at a gate: (entered, release)."""
    entered, release = asyncio.Event(), asyncio.Event()
    original = server.store.append

    async def gated(document, batch):  # type: ignore[no-untyped-def]
        entered.set()
        await release.wait()
        return await original(document, batch)

    server.store.append = gated
    return entered, release


async def _round_trip(client) -> None:  # type: ignore[no-untyped-def]
    """Everything the server sent this client before now has arrived: ask for its state and
    wait for the answer (messages on one socket keep their order)."""
    before = client.received
    await client.send(protocol.sync_step1(client.doc.get_state()))
    await client.wait_for(lambda: client.received > before)


async def test_an_update_is_committed_before_anyone_receives_it(connect, world, db, app):
    a = await connect("coordinator", world)
    b = await connect("professional", world)
    await _round_trip(b)
    entered, release = await _gated_store(app.state.realtime)
    await a.type("x")
    await asyncio.wait_for(entered.wait(), 10)
    # While the update is being stored, nobody has it: not b, and a has no "stored".
    await _round_trip(b)
    await _round_trip(a)
    assert str(b.text) == ""
    assert not a.all_stored()
    assert await _rows(db, document_name(world.case.id)) == []
    release.set()
    await b.wait_for(lambda: str(b.text) == "x")
    assert len(await _rows(db, document_name(world.case.id))) == 1


async def test_saved_is_confirmed_only_after_storage(connect, world, app):
    a = await connect("coordinator", world)
    await _round_trip(a)
    entered, release = await _gated_store(app.state.realtime)
    await a.type("Opgeslagen?")
    await asyncio.wait_for(entered.wait(), 10)
    await _round_trip(a)
    assert not a.all_stored()
    release.set()
    await a.wait_for(a.all_stored)


async def test_read_only_participant_receives_but_cannot_write(connect, world, db, app):
    # The refusal is audited in the background: wait for that, not for a while.
    audited = asyncio.Event()
    audit_refusal = app.state.realtime.on_refused

    async def on_refused(grant, reason):  # type: ignore[no-untyped-def]
        await audit_refusal(grant, reason)
        audited.set()

    app.state.realtime.on_refused = on_refused
    writer = await connect("coordinator", world)
    observer = await connect("observer", world)
    await writer.type("alleen lezen")
    await observer.wait_for(lambda: str(observer.text) == "alleen lezen")
    await observer.type(" -- aangepast")
    await observer.wait_for(lambda: "readonly" in observer.errors)
    # A writer's next edit arrives, the observer's never does.
    await writer.type("!")
    await observer.wait_for(lambda: "!" in str(observer.text))
    await writer.wait_for(lambda: str(writer.text) == "alleen lezen!")
    assert "aangepast" not in str(writer.text)
    await asyncio.wait_for(audited.wait(), 5)
    async with db.begin() as session:
        refused = await session.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "notes.refused")
        )
    assert refused == 1


@pytest.mark.parametrize("who", [None, "outsider", "manager"])
async def test_no_access_means_no_socket(connect, world, who, db, app):
    with pytest.raises(websockets.InvalidStatus) as refused:
        await connect(who, world)
    assert refused.value.response.status_code == 403
    # Refusals before sign-in are counted and written once a minute (audit.coalesce).
    await write_refusals(db, app.state.refusals)
    async with db.begin() as session:
        denied = await session.scalar(
            select(func.sum(AuditEvent.count)).where(AuditEvent.action == "notes.denied")
        )
    assert denied >= 1


async def test_a_flood_of_anonymous_upgrades_is_counted_not_written(connect, world, db, app):
    async def rows() -> tuple[int, int]:
        async with db.begin() as session:
            found = (
                await session.execute(
                    select(func.count(), func.coalesce(func.sum(AuditEvent.count), 0)).where(
                        AuditEvent.action == "notes.denied"
                    )
                )
            ).one()
        return int(found[0]), int(found[1])

    for _ in range(60):
        with pytest.raises(websockets.InvalidStatus):
            await connect(None, world)
    assert await rows() == (0, 0)
    await write_refusals(db, app.state.refusals)
    written, counted = await rows()
    assert written == 1
    assert counted == 60


async def test_reopening_a_document_in_one_visit_is_audited_once(connect, world, db):
    for _ in range(5):
        client = await connect("coordinator", world)
        await client.close()
    async with db.begin() as session:
        opens = await session.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "notes.open")
        )
    assert opens == 1


async def test_a_foreign_origin_is_refused(connect, world):
    with pytest.raises(websockets.InvalidStatus):
        await connect("coordinator", world, origin="https://evil.example")


async def test_a_participant_cannot_open_another_cases_document(connect, world):
    with pytest.raises(websockets.InvalidStatus):
        await connect("household", world, document_name(world.other_case.id))
    with pytest.raises(websockets.InvalidStatus):
        await connect("household", world, "case/not-a-uuid/notes")


async def test_a_malformed_message_closes_only_its_own_connection(connect, world):
    good = await connect("coordinator", world)
    bad = await connect("professional", world)
    await good.type("blijft")
    await bad.wait_for(lambda: str(bad.text) == "blijft")
    await bad.send(b"\x00\x02\x05garbage")  # a sync update that does not decode
    assert await bad.wait_closed() == 1007
    await good.type(" staan")
    await good.wait_for(lambda: str(good.text) == "blijft staan")
    other = await connect("household", world)
    await other.wait_for(lambda: str(other.text) == "blijft staan")


async def test_text_frames_and_unknown_types_close_the_connection(connect, world):
    a = await connect("coordinator", world)
    await a.ws.send("hallo")
    assert await a.wait_closed() == 1003
    b = await connect("coordinator", world)
    await b.send(b"\x07\x00")
    assert await b.wait_closed() == 1007


async def test_oversized_message_is_refused(connect, world, app):
    a = await connect("coordinator", world)
    limit = app.state.realtime.limits.max_message_bytes
    doc = Doc()
    text = doc.get("text", type=Text)
    text += "x" * (limit + 10)
    await a.send(protocol.sync_update(doc.get_update()))
    await a.wait_for(lambda: "too_large" in a.errors)
    assert await a.wait_closed() == 1009
    b = await connect("coordinator", world)
    await b.wait_for(lambda: b.stored is not None)
    assert str(b.text) == ""


async def test_flooding_is_rate_limited(connect, world, app):
    from realtime.room import Limits

    app.state.realtime.limits = Limits(messages_per_second=5, message_burst=10)
    a = await connect("coordinator", world)
    for _ in range(30):
        try:
            await a.type("x")
        except websockets.ConnectionClosed:
            break
    await a.wait_for(lambda: "rate_limited" in a.errors)
    assert await a.wait_closed() == 1008


async def test_store_failure_broadcasts_nothing_and_the_sender_resyncs(connect, world, app):
    server = app.state.realtime
    a = await connect("coordinator", world)
    b = await connect("professional", world)
    await a.type("bewaard ")
    await b.wait_for(lambda: str(b.text) == "bewaard ")
    original = server.store.append

    async def failing(document, batch):
        raise OSError("disk full")

    server.store.append = failing
    await a.type("verloren?")
    assert await a.wait_closed() == 1011
    assert str(b.text) == "bewaard "
    room = server.rooms.rooms[document_name(world.case.id)]
    assert str(room.doc.get("text", type=Text)) == "bewaard "
    # The store recovers; the client reconnects with its local edits and they arrive.
    server.store.append = original
    again = await connect("coordinator", world)
    before = again.doc.get_state()
    again.doc.apply_update(a.doc.get_update())
    await again.send(protocol.sync_update(again.doc.get_update(before)))
    await b.wait_for(lambda: str(b.text) == "bewaard verloren?")


async def test_failed_load_refuses_instead_of_serving_an_empty_document(connect, world, app):
    server = app.state.realtime
    a = await connect("coordinator", world)
    await a.type("echte inhoud")
    await a.wait_for(lambda: a.stored is not None and clock_in(a.stored, a.doc.client_id) > 0)
    await a.close()
    room = server.rooms.rooms[document_name(world.case.id)]
    await room.drain()
    del server.rooms.rooms[document_name(world.case.id)]  # as if unloaded
    original = server.store.load

    async def broken(document):
        raise OSError("database unreachable")

    server.store.load = broken
    b = await connect("coordinator", world)
    assert await b.wait_closed() == 1011
    assert document_name(world.case.id) not in server.rooms.rooms
    server.store.load = original
    c = await connect("coordinator", world)
    await c.wait_for(lambda: str(c.text) == "echte inhoud")


async def test_many_clients_opening_a_document_at_once_load_it_once(connect, world, app):
    server = app.state.realtime
    loads_before = server.rooms.loads
    clients = await asyncio.gather(*(connect("coordinator", world) for _ in range(12)))
    await clients[0].type("samen")
    for client in clients:
        await client.wait_for(lambda c=client: str(c.text) == "samen")
    assert server.rooms.loads == loads_before + 1


async def test_an_idle_room_unloads_and_reloads_from_the_store(connect, world, app):
    server = app.state.realtime
    server.rooms.unload_after = 0.05
    name = document_name(world.case.id)
    a = await connect("coordinator", world)
    await a.type("na het sluiten")
    await a.wait_for(lambda: a.stored is not None and clock_in(a.stored, a.doc.client_id) > 0)
    await a.close()
    room = server.rooms.rooms[name]
    await asyncio.wait_for(room.unload_task, 5)
    assert name not in server.rooms.rooms
    b = await connect("professional", world)
    await b.wait_for(lambda: str(b.text) == "na het sluiten")


async def test_a_reconnect_cancels_the_unload(connect, world, app):
    server = app.state.realtime
    server.rooms.unload_after = 0.5
    name = document_name(world.case.id)
    a = await connect("coordinator", world)
    await a.type("blijf")
    await a.wait_for(lambda: a.stored is not None)
    await a.close()
    room = server.rooms.rooms[name]
    b = await connect("coordinator", world)
    await b.wait_for(lambda: str(b.text) == "blijf")
    assert room.unload_task is None and server.rooms.rooms[name] is room


async def test_presence_identity_comes_from_the_server(connect, world):
    import json

    a = await connect("household", world)
    b = await connect("coordinator", world)
    claimed = json.dumps({"user": {"name": "De Baas", "color": "#000000"}, "cursor": None})
    entry = protocol.AwarenessEntry(a.doc.client_id, 1, claimed)
    await a.send(protocol.awareness_message(protocol.encode_awareness([entry])))
    await b.wait_for(lambda: any(b"Linda" in m for m in b.awareness))
    received = protocol.decode_awareness(next(m for m in b.awareness if b"Linda" in m))
    user = json.loads(received[0].state)["user"]
    assert user["name"] == "Linda" and user["role"] == "Gezinslid"
    assert user["color"].startswith("#") and user["color"] != "#000000"
    # An echo of that state (as y-websocket clients send) is not relayed again.
    count = len(a.awareness)
    await b.send(protocol.awareness_message(protocol.encode_awareness(received)))
    await b.type(".")  # something that does reach a, to know b's messages were processed
    await a.wait_for(lambda: str(a.text) == ".")
    assert len(a.awareness) == count


async def test_leaving_removes_the_cursor_for_others(connect, world):
    import json

    a = await connect("household", world)
    b = await connect("coordinator", world)
    entry = protocol.AwarenessEntry(a.doc.client_id, 1, json.dumps({"cursor": None}))
    await a.send(protocol.awareness_message(protocol.encode_awareness([entry])))
    await b.wait_for(lambda: len(b.awareness) >= 1)
    await a.close()
    await b.wait_for(
        lambda: any(e.state == "null" for m in b.awareness for e in protocol.decode_awareness(m))
    )


async def test_updates_only_reach_their_own_document(connect, world, db, app):
    from tests.conftest import make_case

    second = await make_case(db, world.coordinator, "Tweede")
    a = await connect("coordinator", world)
    elsewhere = await connect("coordinator", world, document_name(second.id))
    await a.type("alleen hier")
    await a.wait_for(lambda: clock_in(a.stored, a.doc.client_id) > 0)
    await elsewhere.type("?")
    await elsewhere.wait_for(
        lambda: (
            elsewhere.stored is not None and clock_in(elsewhere.stored, elsewhere.doc.client_id) > 0
        )
    )
    assert str(elsewhere.text) == "?"
    stored = await app.state.realtime.store.load(document_name(second.id))
    check = Doc()
    check.apply_update(stored.state)
    assert str(check.get("text", type=Text)) == "?"


def test_parse_refuses_undecodable_updates():
    with pytest.raises(protocol.ProtocolError):
        protocol.parse(b"\x00\x02\x03abc")
    with pytest.raises(protocol.ProtocolError):
        protocol.parse(b"\x00\x00\x02\xff\xff")
    doc = Doc()
    doc.get("text", type=Text).insert(0, "ok")
    parsed = protocol.parse(protocol.sync_update(doc.get_update()))
    assert get_state(parsed.payload)
