"""Annotations anchored to co-edited text with Yjs relative positions (pycrdt ``StickyIndex``).

An anchor is a pair of relative positions - the first character of the quote (associated
with the character after it) and its last character (associated with the one before) - stored
as the JSON that Yjs itself uses (``{"item": {"client", "clock"}, "assoc"}``), so a browser
could resolve it with ``Y.createAbsolutePositionFromRelativePosition`` too. Positions name
*characters* (by the id of the client that typed them), not offsets, so they stay on the
quoted words while others type before, inside or after them, concurrently or not. When every
quoted character has been deleted the two ends meet: the annotation is *detached*, and the
page shows it with its quote.

Why the scratch documents: pycrdt 0.14 counts offsets in UTF-8 bytes, but a sticky index
resolves to bytes for whole items plus UTF-16 units inside its own item, so any non-ASCII
character ("één", "’s", an emoji) before the quote in the same item shifts the result. We
work on a scratch copy of the document in which every non-ASCII character is made its own
item (formatting a single character splits the item there; the copy is never stored), so that
inside an item bytes and units agree, and convert bytes to ``str`` indices ourselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pycrdt import Assoc, Decoder, Doc, StickyIndex, Text

NAME = "text"


@dataclass(frozen=True)
class Anchor:
    start: dict[str, Any]
    end: dict[str, Any]


class _Scratch:
    """A throwaway copy of a document's text, split so that byte offsets are exact."""

    def __init__(self, state: bytes) -> None:
        self.doc: Doc[Any] = Doc()
        if state:
            self.doc.apply_update(state)
        self.text = self.doc.get(NAME, type=Text)
        self.value = str(self.text)
        self.raw = self.value.encode()
        with self.doc.transaction():
            offset = 0
            for i, ch in enumerate(self.value):
                size = len(ch.encode())
                if size > 1:
                    self.text.format(offset, offset + size, {f"k{i}": True})
                offset += size
        self.known = _state_vector(self.doc.get_state())
        self.deleted = _delete_set(self.doc.get_update(self.doc.get_state()))

    def byte_offset(self, index: int) -> int:
        return len(self.value[:index].encode())

    def index(self, byte_offset: int) -> int:
        return len(self.raw[:byte_offset].decode(errors="ignore"))

    def resolve(self, position: dict[str, Any]) -> int | None:
        """A relative position as a ``str`` index, or None if it cannot be resolved.

        A position associated with the character before it (assoc -1, the end of a quote) is
        resolved as the position *of* that character, plus one if it still exists: yrs would
        count a non-ASCII character's units as bytes there."""
        item = position.get("item") if isinstance(position, dict) else None
        if not isinstance(item, dict):
            return None
        client, clock = item.get("client"), item.get("clock")
        if not isinstance(client, int) or not isinstance(clock, int):
            return None
        # A position naming a character this document never had cannot be resolved (yrs
        # would panic): treat it as gone.
        if clock >= self.known.get(client, 0):
            return None
        before = position.get("assoc") == -1
        try:
            sticky = StickyIndex.from_json({"item": {"client": client, "clock": clock}, "assoc": 0})
            with self.doc.transaction() as txn:
                index = self.index(sticky.get_index(txn))
        except Exception:
            return None
        if before and not self.is_deleted(client, clock):
            index += 1
        return index

    def is_deleted(self, client: int, clock: int) -> bool:
        return any(
            start <= clock < start + length for start, length in self.deleted.get(client, ())
        )


def _state_vector(data: bytes) -> dict[int, int]:
    """client id -> the number of items of that client the document holds."""
    decoder = Decoder(data)
    out: dict[int, int] = {}
    for _ in range(decoder.read_var_uint()):
        client = decoder.read_var_uint()
        out[client] = decoder.read_var_uint()
    return out


def _delete_set(update: bytes) -> dict[int, list[tuple[int, int]]]:
    """client id -> deleted (clock, length) ranges, from an update that holds no structs."""
    decoder = Decoder(update)
    if decoder.read_var_uint() != 0:
        raise ValueError("expected an update without structs")
    out: dict[int, list[tuple[int, int]]] = {}
    for _ in range(decoder.read_var_uint()):
        client = decoder.read_var_uint()
        out[client] = [
            (decoder.read_var_uint(), decoder.read_var_uint())
            for _ in range(decoder.read_var_uint())
        ]
    return out


def anchor(state: bytes, start: int, end: int) -> Anchor:
    """Relative positions for ``text[start:end]`` of the document in ``state`` (str indices;
    the range must hold at least one character): the first character, associated after, and
    the last character's last UTF-16 unit, associated before - as Yjs makes them."""
    scratch = _Scratch(state)
    if not 0 <= start < end <= len(scratch.value):
        raise ValueError(f"range {start}:{end} outside the text ({len(scratch.value)})")
    first = StickyIndex.new(scratch.text, scratch.byte_offset(start), Assoc.AFTER).to_json()
    last = StickyIndex.new(scratch.text, scratch.byte_offset(end - 1), Assoc.AFTER).to_json()
    # A character outside the BMP is two UTF-16 units: the quote ends after the second.
    units = len(scratch.value[end - 1].encode("utf-16-le")) // 2
    item = last["item"]
    end_position = {
        "item": {"client": item["client"], "clock": item["clock"] + units - 1},
        "assoc": -1,
    }
    return Anchor(first, end_position)


@dataclass(frozen=True)
class Resolved:
    """Where an anchor is now: ``start``/``end`` into ``text``, or detached."""

    text: str
    start: int
    end: int

    @property
    def detached(self) -> bool:
        return self.end <= self.start

    @property
    def current(self) -> str:
        return "" if self.detached else self.text[self.start : self.end]


def resolve_all(state: bytes, anchors: list[Anchor]) -> tuple[str, list[Resolved]]:
    """The document's text and where each anchor is in it now (one scratch copy for all)."""
    scratch = _Scratch(state)
    out = []
    for a in anchors:
        start, end = scratch.resolve(a.start), scratch.resolve(a.end)
        if start is None or end is None:
            out.append(Resolved(scratch.value, 0, 0))
        else:
            # The end position sits before the quote's last character's successor.
            out.append(Resolved(scratch.value, start, end))
    return scratch.value, out


def find_quote(text: str, quote: str, occurrence: int = 1) -> int | None:
    """Where the ``occurrence``-th copy of ``quote`` starts in ``text`` (1-based), or None."""
    if not quote:
        return None
    position = -1
    for _ in range(max(1, occurrence)):
        position = text.find(quote, position + 1)
        if position < 0:
            return None
    return position
