"""The server on its own (minimal app, fake authorizer): protocol details the web app can't see."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from pycrdt import Doc, Text

from realtime import protocol
from realtime.store import Pending, UpdateStore


async def test_stock_clients_never_receive_kring_messages(standalone):
    refused: list[tuple[str, str]] = []

    async def on_refused(grant, reason):
        refused.append((grant.author, reason))

    served = await standalone(on_refused=on_refused)
    stock_reader = await served.connect(who="reader", hello=False)
    stock_writer = await served.connect(hello=False)
    await stock_reader.type("mag niet")
    await stock_writer.type("mag wel")
    # The reader's refused update was handled before the writer's update reached it.
    await stock_reader.wait_for(lambda: "mag wel" in str(stock_reader.text))
    await stock_writer.wait_for(lambda: str(stock_writer.text) == "mag wel")
    assert stock_reader.errors == [] and stock_reader.stored is None
    assert stock_writer.errors == [] and stock_writer.stored is None
    assert refused == [("test:reader", "readonly")]
    # (The writer's sync step 2 may carry "mag wel" again: stored twice is harmless in Yjs.)
    assert {a for (a,) in await _authors(served)} == {"test:writer"}


async def _authors(served):
    return [(author,) for _, author, _ in await served.server.store.history("case/1/notes")]


async def test_a_reader_is_told_once_and_stays_connected(standalone):
    served = await standalone()
    reader = await served.connect(who="reader")
    writer = await served.connect()
    for word in ("een", "twee", "drie"):
        await reader.type(word)
    await reader.wait_for(lambda: reader.errors == ["readonly"])
    await writer.type("gezien")
    await reader.wait_for(lambda: "gezien" in str(reader.text))
    assert reader.errors == ["readonly"] and reader.closed is None
    assert str(writer.text) == "gezien"


def _awareness(client_id: int, clock: int, state: str) -> bytes:
    entry = protocol.AwarenessEntry(client_id, clock, state)
    return protocol.awareness_message(protocol.encode_awareness([entry]))


def _entries(client) -> list[protocol.AwarenessEntry]:
    return [e for update in client.awareness for e in protocol.decode_awareness(update)]


async def test_presence_of_a_reader_is_relayed_with_the_servers_identity_and_echoes_dropped(
    standalone,
):
    served = await standalone()
    writer = await served.connect()
    reader = await served.connect(who="reader")
    claimed = '{"user":{"name":"Ik ben de baas","role":"coordinator"},"cursor":7}'
    await reader.send(_awareness(1001, 1, claimed))
    await writer.wait_for(lambda: any(e.client_id == 1001 for e in _entries(writer)))
    (seen,) = [e for e in _entries(writer) if e.client_id == 1001]
    assert '"name":"Reader"' in seen.state and '"role":"observer"' in seen.state
    assert '"cursor":7' in seen.state and "baas" not in seen.state
    # A y-websocket client re-sends every state it applies: the echo must go nowhere.
    await writer.send(_awareness(1001, 1, seen.state))
    await writer.send(_awareness(2002, 1, '{"cursor":1}'))
    await reader.wait_for(lambda: any(e.client_id == 2002 for e in _entries(reader)))
    assert [e.client_id for e in _entries(reader)].count(1001) == 1
    # Leaving removes the reader's cursor for the others.
    await reader.close()
    await writer.wait_for(
        lambda: any(e.client_id == 1001 and e.state == "null" for e in _entries(writer))
    )


async def test_presence_renewals_wait_and_go_out_merged_with_the_next_change(
    standalone, monkeypatch
):
    # Every awareness message a y-websocket client applies, it sends back: renewals (the same
    # state, a newer clock) are held back and merged, so a crowd's renewals are not
    # multiplied by the crowd twice over. Held "forever" here: only a change sends them.
    monkeypatch.setattr("realtime.room.PRESENCE_RENEWAL_DELAY", 3600.0)
    served = await standalone()
    a, b = await served.connect(), await served.connect()
    watcher = await served.connect(who="reader")
    await a.send(_awareness(1001, 1, '{"cursor":1}'))
    await b.send(_awareness(2002, 1, '{"cursor":2}'))
    await watcher.wait_for(lambda: {1001, 2002} <= {e.client_id for e in _entries(watcher)})
    before = len(watcher.awareness)
    await a.send(_awareness(1001, 2, '{"cursor":1}'))
    await b.send(_awareness(2002, 2, '{"cursor":2}'))
    # Each connection is read in order: once their typing arrives, the renewals were handled.
    await a.type("a")
    await b.type("b")
    await watcher.wait_for(lambda: len(str(watcher.text)) == 2)
    assert len(watcher.awareness) == before
    # A change goes out with the next tick and takes the waiting renewal along: one message.
    await a.send(_awareness(1001, 3, '{"cursor":5}'))
    await watcher.wait_for(lambda: len(watcher.awareness) > before)
    (message,) = watcher.awareness[before:]
    clocks = {e.client_id: e.clock for e in protocol.decode_awareness(message)}
    assert clocks == {1001: 3, 2002: 2}
    assert '"cursor":5' in next(
        e.state for e in protocol.decode_awareness(message) if e.client_id == 1001
    )


async def test_a_busy_room_spreads_renewals_over_its_clients(standalone, monkeypatch):
    # A crowd renews together, and every client echoes what it applies: a busy room sends
    # renewals to a slice of its clients at a time. Changes still go to all at once.
    monkeypatch.setattr("realtime.room.BUSY_ROOM", 2)
    monkeypatch.setattr("realtime.room.PRESENCE_RENEWAL_DELAY", 0.05)
    monkeypatch.setattr("realtime.room.PRESENCE_SPREAD", 1.2)
    served = await standalone()
    a = await served.connect()
    watchers = [await served.connect(who="reader") for _ in range(3)]
    loop = asyncio.get_running_loop()

    async def seen(watcher, clock: int) -> float:
        await watcher.wait_for(
            lambda: any(e.client_id == 1001 and e.clock == clock for e in _entries(watcher))
        )
        return loop.time()

    async def spread(clock: int, state: str) -> float:
        waiting = [asyncio.create_task(seen(w, clock)) for w in watchers]
        await a.send(_awareness(1001, clock, state))
        times = await asyncio.gather(*waiting)
        return max(times) - min(times)

    assert await spread(1, '{"cursor":1}') < 0.25  # a new state: everyone at once
    # A renewal (same state, newer clock): four connections, four slices 0.3 s apart.
    assert await spread(2, '{"cursor":1}') >= 0.5
    assert await spread(3, '{"cursor":2}') < 0.25  # a change again: everyone at once


async def test_presence_changes_are_spaced_by_the_size_of_the_room(standalone, monkeypatch):
    # Every presence message a stock client applies, it echoes back: a room sends changes no
    # more often than once per PRESENCE_PER_CLIENT per client (here 3 clients: 0.6 s), and
    # what changed meanwhile goes out merged, the newest state per client id.
    monkeypatch.setattr("realtime.room.PRESENCE_PER_CLIENT", 0.2)
    monkeypatch.setattr("realtime.room.MAX_PRESENCE_INTERVAL", 10.0)
    served = await standalone()
    a, b = await served.connect(), await served.connect()
    watcher = await served.connect(who="reader")
    loop = asyncio.get_running_loop()

    def clocks(client_id: int) -> list[int]:
        return [e.clock for e in _entries(watcher) if e.client_id == client_id]

    sent = loop.time()
    await a.send(_awareness(1001, 1, '{"cursor":1}'))
    await watcher.wait_for(lambda: clocks(1001) == [1])
    first = loop.time()
    assert first - sent < 0.4  # the room was quiet: at once
    before = len(watcher.awareness)
    for clock in (2, 3, 4):
        await a.send(_awareness(1001, clock, f'{{"cursor":{clock}}}'))
    await b.send(_awareness(2002, 1, '{"cursor":9}'))
    await watcher.wait_for(lambda: 4 in clocks(1001) and 1 in clocks(2002))
    assert loop.time() - first >= 0.45
    (message,) = watcher.awareness[before:]
    assert {(e.client_id, e.clock) for e in protocol.decode_awareness(message)} == {
        (1001, 4),
        (2002, 1),
    }
    assert clocks(1001) == [1, 4]


async def test_updates_arriving_together_are_committed_together(standalone):
    served = await standalone()
    store = served.server.store
    original = store.append
    release = asyncio.Event()
    groups: list[int] = []

    async def gated(document, batch):
        groups.append(len(batch))
        if len(groups) == 1:
            await release.wait()  # hold the first commit while the rest arrive
        return await original(document, batch)

    store.append = gated
    a, b = await served.connect(), await served.connect()
    await asyncio.gather(
        a.wait_for(lambda: a.stored is not None), b.wait_for(lambda: b.stored is not None)
    )
    await a.type("0")
    await _until(lambda: groups == [1])
    for i in range(1, 25):
        await (a if i % 2 else b).type(str(i % 10))
    room = served.server.rooms.rooms["case/1/notes"]
    await _until(lambda: len(room.pending) == 24)
    received_before = len(b.doc.get_state())
    release.set()
    await a.wait_for(lambda: len(str(a.text)) == 25)
    await b.wait_for(lambda: len(str(b.text)) == 25)
    assert groups == [1, 24]
    assert received_before > 0
    assert len(await store.history("case/1/notes")) == 25


async def test_a_busy_room_broadcasts_at_most_once_a_tick(standalone, monkeypatch):
    # Made "busy" from 2 clients, with a tick long enough that three keystrokes typed right
    # after a broadcast certainly fall into the same next one.
    monkeypatch.setattr("realtime.room.BUSY_ROOM", 2)
    monkeypatch.setattr("realtime.room.TICK_PER_CLIENT", 1.0)
    monkeypatch.setattr("realtime.room.MAX_TICK", 2.0)
    served = await standalone()
    store = served.server.store
    original = store.append
    groups: list[int] = []

    async def counted(document, batch):
        groups.append(len(batch))
        return await original(document, batch)

    store.append = counted
    writer, watcher = await served.connect(), await served.connect()
    await writer.type("a")  # the room was quiet: stored and sent at once
    await watcher.wait_for(lambda: str(watcher.text) == "a")
    for key in "bcd":
        await writer.type(key)
    await watcher.wait_for(lambda: str(watcher.text) == "abcd")
    # (The writer's sync step 2 may carry "a" once more, in either group.)
    assert len(groups) == 2 and groups[-1] >= 3


def _every_client_its_own_group(monkeypatch, tick_per_client: float, max_tick: float) -> None:
    """A room is busy from 2 clients on, and each client is a group of its own."""
    monkeypatch.setattr("realtime.room.BUSY_ROOM", 2)
    monkeypatch.setattr("realtime.room.TICK_PER_CLIENT", tick_per_client)
    monkeypatch.setattr("realtime.room.MAX_TICK", max_tick)
    monkeypatch.setattr("realtime.room.GROUP_SIZE", 1)


async def test_a_busy_room_serves_its_clients_in_turns(standalone, monkeypatch):
    # Three clients, each its own group: a tick of 1.5 s in three turns 0.5 s apart.
    _every_client_its_own_group(monkeypatch, 0.5, 1.5)
    served = await standalone()
    writer = await served.connect()
    watchers = [await served.connect(), await served.connect()]
    loop = asyncio.get_running_loop()

    async def seen(watcher) -> float:
        await watcher.wait_for(lambda: str(watcher.text) == "a")
        return loop.time()

    waiting = [asyncio.create_task(seen(w)) for w in watchers]
    await writer.type("a")
    # The room was quiet: stored and acknowledged at once ...
    await writer.wait_for(writer.all_stored, timeout=0.4)
    # ... and sent to one group a turn, so the watchers got it about 0.5 s apart.
    first, second = sorted(await asyncio.gather(*waiting))
    assert second - first >= 0.3
    assert [str(w.text) for w in watchers] == ["a", "a"]


async def test_turns_lose_nothing_while_clients_come_and_go(standalone, monkeypatch):
    # Every client its own group, turns 20 ms apart: each connection is behind by a different
    # number of commits at any moment, and joins and leaves change the number of groups.
    _every_client_its_own_group(monkeypatch, 0.02, 0.2)
    served = await standalone()
    writers = [await served.connect() for _ in range(3)]
    leaving = await served.connect()
    words = []
    for round_ in range(12):
        for i, writer in enumerate(writers):
            word = f"<{i}.{round_}>"
            words.append(word)
            await writer.type(word)
        if round_ == 4:
            await leaving.close()
        if round_ == 6:
            writers.append(await served.connect())
        await asyncio.sleep(0.01)
    for client in writers:
        await client.wait_for(lambda c=client: all(w in str(c.text) for w in words))
    # Converged, each word exactly once (a late joiner's sync step 2 and its turns overlap
    # harmlessly: Yjs applies an update once).
    texts = {str(c.text) for c in writers}
    assert len(texts) == 1
    (text,) = texts
    assert all(text.count(w) == 1 for w in words)
    room = served.server.rooms.rooms["case/1/notes"]
    await room.drain()
    assert room._log == []  # everything sent to everyone is forgotten


async def test_compaction_with_pruning_keeps_the_document_exactly(database_url):
    from workspace.db import Database

    database = Database(database_url)
    store = UpdateStore(database.engine, prune_after=timedelta(0))
    try:
        doc: Doc = Doc()
        text = doc.get("text", type=Text)
        for word in ("een ", "twee ", "drie"):
            before = doc.get_state()
            text += word
            await store.append("d", [Pending(doc.get_update(before), "test:writer")])
        await store.compact("d")
        # Inside the snapshot and "old": pruned, except the newest row (ids never go back).
        assert [author for _, author, _ in await store.history("d")] == ["test:writer"]
        before = doc.get_state()
        text += "!"
        await store.append("d", [Pending(doc.get_update(before), "test:writer")])
        loaded = await store.load("d")
        again: Doc = Doc()
        assert loaded.state is not None
        again.apply_update(loaded.state)
        assert str(again.get("text", type=Text)) == "een twee drie!"
        assert again.get_state() == doc.get_state()
        assert len(await store.history("d")) == 2
    finally:
        store.close()
        await database.dispose()


async def _until(predicate, timeout: float = 10.0) -> None:  # noqa: ASYNC109
    """For state the server offers no event for: poll it, with a deadline."""
    async with asyncio.timeout(timeout):
        while not predicate():  # noqa: ASYNC110
            await asyncio.sleep(0.01)


def test_merging_a_long_log_in_a_tree_gives_the_same_document():
    from realtime.store import merge_all

    doc: Doc = Doc()
    text = doc.get("text", type=Text)
    log = []
    for i in range(2000):
        before = doc.get_state()
        if i % 5 == 4:
            del text[0]
        else:
            text.insert(len(text) if i % 3 else 0, "abc"[i % 3])
        log.append(doc.get_update(before))
    again: Doc = Doc()
    again.apply_update(merge_all(log))
    assert str(again.get("text", type=Text)) == str(text)
    assert again.get_state() == doc.get_state()


def test_building_a_long_log_gives_the_same_document_in_its_compact_encoding():
    from realtime.store import build

    doc: Doc = Doc()
    text = doc.get("text", type=Text)
    log = []
    for i in range(3000):
        before = doc.get_state()
        text.insert(len(text), "abcdefghij\n"[i % 11])
        if i % 7 == 6:
            del text[i // 2]
        log.append(doc.get_update(before))
    state = build(log)
    again: Doc = Doc()
    again.apply_update(state)
    assert str(again.get("text", type=Text)) == str(text)
    assert again.get_state() == doc.get_state()
    assert len(state) < len(b"".join(log)) / 4  # squashed, not one struct per keystroke


def test_building_keeps_updates_whose_dependencies_are_missing():
    from realtime.store import build

    doc: Doc = Doc()
    text = doc.get("text", type=Text)
    start = doc.get_state()
    text += "A"
    first = doc.get_update(start)
    middle = doc.get_state()
    text += "B"
    second = doc.get_update(middle)
    state = build([second])  # "B" cannot be integrated yet: it must not be dropped
    again: Doc = Doc()
    again.apply_update(state)
    again.apply_update(first)
    assert str(again.get("text", type=Text)) == "AB"


async def test_presence_of_someone_who_left_cannot_be_taken_over_by_echoes(standalone):
    """Issue 14: a client announced presence for many ids and left; stock clients echo the
    states they applied. The echoes are ignored: the honest client stays connected, and no
    departed id reappears under its name."""
    served = await standalone()
    honest = await served.connect(who="writer")
    watcher = await served.connect(who="writer-2")
    attacker = await served.connect(who="reader")
    await honest.send(_awareness(500, 1, '{"cursor":1}'))
    forged = list(range(9000, 9012))
    for client_id in forged:
        await attacker.send(_awareness(client_id, 1, '{"cursor":2}'))
    await honest.wait_for(lambda: any(e.client_id == forged[7] for e in _entries(honest)))
    await attacker.close()
    await honest.wait_for(
        lambda: any(e.client_id == forged[0] and e.state == "null" for e in _entries(honest))
    )
    # What a stock client does with every state it applied: send it back.
    for entry in [e for e in _entries(honest) if e.client_id in forged and e.state != "null"]:
        await honest.send(_awareness(entry.client_id, entry.clock, entry.state))
        await honest.send(_awareness(entry.client_id, entry.clock + 5, entry.state))
    await honest.send(_awareness(500, 2, '{"cursor":3}'))
    await watcher.wait_for(
        lambda: any(e.client_id == 500 and '"cursor":3' in e.state for e in _entries(watcher))
    )
    assert honest.closed is None
    revived = [
        e
        for e in _entries(watcher)
        if e.client_id in forged and e.state != "null" and '"name":"Writer"' in e.state
    ]
    assert revived == []


async def test_the_same_person_takes_their_presence_back_after_a_reconnect(standalone):
    served = await standalone()
    watcher = await served.connect(who="writer-2")
    first = await served.connect(who="writer")
    await first.send(_awareness(700, 1, '{"cursor":1}'))
    await watcher.wait_for(lambda: any(e.client_id == 700 for e in _entries(watcher)))
    await first.close()
    again = await served.connect(who="writer")
    await again.send(_awareness(700, 3, '{"cursor":9}'))
    await watcher.wait_for(
        lambda: any(e.client_id == 700 and '"cursor":9' in e.state for e in _entries(watcher))
    )
