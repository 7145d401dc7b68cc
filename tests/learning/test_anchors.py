"""Anchors on Yjs text: relative positions that survive edits, with non-ASCII text."""

from __future__ import annotations

import pytest
from pycrdt import Doc, Text

from workspace.learning.anchors import Anchor, anchor, find_quote, resolve_all


def doc(text: str) -> Doc:
    d: Doc = Doc()
    d.get("text", type=Text).insert(0, text)
    return d


def byte(text: str, index: int) -> int:
    return len(text[:index].encode())


@pytest.mark.parametrize(
    "quote", ["één", "moeder’s zorg", "café", "🙂", "één moeder’s zorg café 🙂", "é"]
)
def test_an_anchor_resolves_to_its_quote_whatever_the_characters(quote: str) -> None:
    d = doc("één moeder’s zorg café 🙂")
    text = str(d.get("text", type=Text))
    start = find_quote(text, quote)
    assert start is not None
    a = anchor(d.get_update(), start, start + len(quote))
    assert a.start["assoc"] == 0 and a.end["assoc"] == -1  # the JSON Yjs itself uses
    [resolved] = resolve_all(d.get_update(), [a])[1]
    assert resolved.current == quote and not resolved.detached


def test_an_anchor_follows_its_words_through_concurrent_edits_and_detaches_when_they_go() -> None:
    base = doc("Ze zegt: ik ben bang ’s nachts. Einde.")
    text = str(base.get("text", type=Text))
    quote = "ik ben bang ’s nachts"
    start = text.index(quote)
    a = anchor(base.get_update(), start, start + len(quote))
    one, two = Doc(), Doc()
    one.apply_update(base.get_update())
    two.apply_update(base.get_update())
    one.get("text", type=Text).insert(0, "Één zin ervoor 🙂. ")
    t2 = two.get("text", type=Text)
    t2.insert(byte(text, text.index("bang")), "heel ")
    u1, u2 = one.get_update(), two.get_update()
    one.apply_update(u2)
    two.apply_update(u1)
    assert str(one.get("text", type=Text)) == str(two.get("text", type=Text))
    [r] = resolve_all(one.get_update(), [a])[1]
    assert r.current == "ik ben heel bang ’s nachts"
    t1 = one.get("text", type=Text)
    now = str(t1)
    i = now.index("ik ben heel bang ’s nachts")
    del t1[byte(now, i) : byte(now, i + len("ik ben heel bang ’s nachts"))]
    [r] = resolve_all(one.get_update(), [a])[1]
    assert r.detached and r.current == ""


def test_a_position_from_another_document_is_detached_not_a_crash() -> None:
    strange = Anchor({"item": {"client": 1, "clock": 5}, "assoc": 0}, {"nonsense": True})
    [r] = resolve_all(doc("tekst").get_update(), [strange])[1]
    assert r.detached
    [r] = resolve_all(b"", [strange])[1]
    assert r.detached


def test_find_quote_counts_occurrences() -> None:
    assert find_quote("a b a b", "b", 2) == 6
    assert find_quote("a b", "c") is None
    assert find_quote("a b", "") is None
