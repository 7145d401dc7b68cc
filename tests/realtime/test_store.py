"""The update store on its own: loading, compaction round-trip, history."""

from __future__ import annotations

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
