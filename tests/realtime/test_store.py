"""The update store on its own: loading, compaction round-trip, history."""

from __future__ import annotations

import asyncio

import pytest
from pycrdt import Doc, Text

from realtime.store import Pending, UpdateStore


def _doc_from(state: bytes | None) -> Doc:
    doc = Doc()
    if state is not None:
        doc.apply_update(state)
    return doc


async def test_compaction_round_trips_exactly(db):
    store = UpdateStore(db.engine)
    writer = Doc()
    text = writer.get("text", type=Text)
    for i in range(300):
        before = writer.get_state()
        if i % 7 == 3 and len(text) > 2:
            del text[0:2]
        else:
            text += f"regel {i}\n"
        await store.append(
            "case/x/notes", [Pending(writer.get_update(before), f"participant:{i % 3}")]
        )
    before = await store.load("case/x/notes")
    compacted = await store.compact("case/x/notes")
    after = await store.load("case/x/notes")
    assert after.tail_length == 0 and compacted.last_id == before.last_id
    a, b = _doc_from(before.state), _doc_from(after.state)
    assert str(a.get("text", type=Text)) == str(b.get("text", type=Text)) == str(text)
    assert a.get_state() == b.get_state() == writer.get_state()
    # The log is kept: who wrote what, when.
    history = await store.history("case/x/notes")
    assert len(history) == 300 and {h[1] for h in history} == {
        "participant:0",
        "participant:1",
        "participant:2",
    }


async def test_load_after_compaction_includes_later_updates(db):
    store = UpdateStore(db.engine)
    writer = Doc()
    text = writer.get("text", type=Text)
    text += "eerst"
    await store.append("d", [Pending(writer.get_update(), "a")])
    await store.compact("d")
    before = writer.get_state()
    text += " daarna"
    await store.append("d", [Pending(writer.get_update(before), "b")])
    loaded = await store.load("d")
    assert loaded.tail_length == 1
    assert str(_doc_from(loaded.state).get("text", type=Text)) == "eerst daarna"


async def test_an_unknown_document_loads_empty_without_error(db):
    loaded = await UpdateStore(db.engine).load("case/none/notes")
    assert loaded.state is None and loaded.last_id == 0


def _typed(word: str) -> bytes:
    doc = Doc()
    doc.get("text", type=Text).insert(0, word)
    return doc.get_update()


async def _until_waiting(store: UpdateStore, count: int) -> None:
    """Until ``count`` appends wait for the next commit (the store offers no event for it)."""
    async with asyncio.timeout(10):
        while len(store._waiting) < count:  # noqa: ASYNC110
            await asyncio.sleep(0)


def _hold_first_commit(store: UpdateStore, monkeypatch):
    """Record the documents of every transaction; keep the first open until released."""
    original = store._write
    groups: list[list[str]] = []
    entered, release = asyncio.Event(), asyncio.Event()

    async def held(group):
        groups.append([document for document, _, _ in group])
        if len(groups) == 1:
            entered.set()
            await release.wait()
        return await original(group)

    monkeypatch.setattr(store, "_write", held)
    return groups, entered, release


async def test_appends_for_several_documents_arriving_together_share_one_commit(db, monkeypatch):
    store = UpdateStore(db.engine)
    groups, entered, release = _hold_first_commit(store, monkeypatch)
    first = asyncio.create_task(store.append("a", [Pending(_typed("een"), "p:1")]))
    await entered.wait()
    rest = [
        asyncio.create_task(
            store.append(doc, [Pending(_typed("twee"), "p:2"), Pending(_typed("drie"), "p:3")])
        )
        for doc in ("b", "c")
    ]
    await _until_waiting(store, 2)
    release.set()
    lasts = await asyncio.gather(first, *rest)
    assert groups == [["a"], ["b", "c"]]
    # Each append is told the last id of its own rows.
    for doc, last in zip("abc", lasts, strict=True):
        assert max(i for i, _, _ in await store.history(doc)) == last
    assert [len(await store.history(doc)) for doc in "abc"] == [1, 2, 2]


async def test_a_failing_append_fails_only_itself_when_it_shared_a_commit(db, monkeypatch):
    store = UpdateStore(db.engine)
    groups, entered, release = _hold_first_commit(store, monkeypatch)
    first = asyncio.create_task(store.append("a", [Pending(_typed("een"), "p:1")]))
    await entered.wait()
    good = asyncio.create_task(store.append("b", [Pending(_typed("twee"), "p:2")]))
    # NOT NULL violated: the database refuses this batch.
    bad = asyncio.create_task(store.append("c", [Pending(None, "p:3")]))  # type: ignore[arg-type]
    await _until_waiting(store, 2)
    release.set()
    await asyncio.gather(first, good)
    with pytest.raises(Exception, match=r"(?i)null"):
        await bad
    assert groups[1] == ["b", "c"]  # tried together, then each on its own
    assert len(await store.history("b")) == 1
    assert await store.history("c") == []


async def test_a_document_locked_elsewhere_holds_up_only_its_own_batch(db):
    # PostgreSQL: a group commit takes the document locks it gets at once; a room whose lock
    # another worker holds waits for the next transaction, the other rooms do not wait for it.
    if db.is_sqlite:
        pytest.skip("PostgreSQL's per-document locks; SQLite has one writer")
    from sqlalchemy import text as sql

    store = UpdateStore(db.engine)
    writer = Doc()
    writer.get("text", type=Text).insert(0, "x")
    update = writer.get_update()
    async with db.engine.connect() as other:
        transaction = await other.begin()
        await other.execute(
            sql("SELECT pg_advisory_xact_lock(hashtextextended(:d, 0))"), {"d": "case/busy/notes"}
        )
        busy = asyncio.create_task(store.append("case/busy/notes", [Pending(update, "a")]))
        free = asyncio.create_task(store.append("case/free/notes", [Pending(update, "b")]))
        await asyncio.wait_for(free, 10)
        await asyncio.sleep(0.3)
        assert not busy.done()
        await transaction.rollback()
    busy_id = await asyncio.wait_for(busy, 10)
    assert busy_id > free.result()
    assert (await store.load("case/busy/notes")).tail_length == 1
    store.close()
