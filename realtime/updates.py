"""Is this update one every stock client can take? A strict reader of the Yjs update format.

pycrdt (yrs) decodes more than Yjs does: an update with a 60-bit clock, a JSON item that is
not JSON or a content type Yjs does not know is taken by yrs, stored, and then makes every
stock client that receives it throw (and some make our own merges fail, so the document no
longer loads). The server therefore reads each incoming update against the format as Yjs
reads it (``lib0`` encoding, ``UpdateDecoderV1``) and refuses anything else, before the update
reaches the room, the log or anyone else.

What is checked: every number fits lib0's 53 bits, every length stays inside the message,
strings are UTF-8, JSON and ``Any`` contents decode, content and type references are ones Yjs
knows, every struct has a length, and nothing is left over. Then yrs must decode it as well,
and what yrs makes of it must decode again (``merge_updates`` round trip), which is what our
log and snapshots rely on."""

from __future__ import annotations

import json
from typing import Any

from pycrdt import Doc, merge_updates

#: lib0 numbers are JavaScript numbers: larger ones throw "Integer out of Range" in Yjs.
MAX_SAFE = 2**53 - 1
#: Nesting of ``Any`` values (objects in arrays in ...): deeper is not something an editor sends.
MAX_DEPTH = 32


class BadUpdate(ValueError):
    """The update is not one a stock Yjs client would take."""


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def byte(self) -> int:
        if self.pos >= len(self.data):
            raise BadUpdate("unexpected end")
        value = self.data[self.pos]
        self.pos += 1
        return value

    def uint(self) -> int:
        value = 0
        shift = 0
        while True:
            b = self.byte()
            value |= (b & 0x7F) << shift
            shift += 7
            if b < 0x80:
                break
            if shift > 53:
                raise BadUpdate("integer out of range")
        if value > MAX_SAFE:
            raise BadUpdate("integer out of range")
        return value

    def signed(self) -> int:
        # lib0 varInt: sign in bit 6 of the first byte.
        b = self.byte()
        value = b & 0x3F
        shift = 6
        more = b & 0x80
        while more:
            b = self.byte()
            value |= (b & 0x7F) << shift
            shift += 7
            more = b & 0x80
            if shift > 53:
                raise BadUpdate("integer out of range")
        if value > MAX_SAFE:
            raise BadUpdate("integer out of range")
        return value

    def take(self, n: int) -> bytes:
        if n > len(self.data) - self.pos:
            raise BadUpdate("length beyond the message")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def string(self) -> str:
        try:
            return self.take(self.uint()).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BadUpdate("string is not UTF-8") from exc

    def json(self) -> None:
        text = self.string()
        if text == "undefined":  # Yjs writes undefined so
            return
        try:
            json.loads(text)
        except ValueError as exc:
            raise BadUpdate("JSON content does not parse") from exc

    def any(self, depth: int = 0) -> None:
        if depth > MAX_DEPTH:
            raise BadUpdate("value nested too deeply")
        kind = self.byte()
        if kind in (127, 126, 121, 120):  # undefined, null, false, true
            return
        if kind == 125:
            self.signed()
        elif kind == 124:
            self.take(4)
        elif kind in (123, 122):  # float64, bigint64
            self.take(8)
        elif kind == 119:
            self.string()
        elif kind == 118:
            for _ in range(self.count()):
                self.string()
                self.any(depth + 1)
        elif kind == 117:
            for _ in range(self.count()):
                self.any(depth + 1)
        elif kind == 116:
            self.take(self.uint())
        else:
            raise BadUpdate(f"unknown value type {kind}")

    def count(self) -> int:
        # Every element takes at least one byte: a count beyond the message is a lie.
        n = self.uint()
        if n > len(self.data) - self.pos:
            raise BadUpdate("count beyond the message")
        return n

    def done(self) -> bool:
        return self.pos == len(self.data)


def _content(r: _Reader, ref: int) -> int:
    """Read an item's content; returns its length (Yjs items are never empty)."""
    if ref == 1:  # deleted
        return r.uint()
    if ref == 2:  # JSON
        n = r.count()
        for _ in range(n):
            r.json()
        return n
    if ref == 3:  # binary
        r.take(r.uint())
        return 1
    if ref == 4:  # string: its length in UTF-16 code units
        return len(r.string().encode("utf-16-le")) // 2
    if ref == 5:  # embed
        r.json()
        return 1
    if ref == 6:  # format
        r.string()
        r.json()
        return 1
    if ref == 7:  # type
        type_ref = r.uint()
        if type_ref in (3, 5):  # XmlElement (its name), XmlHook (its key)
            r.string()
        elif type_ref not in (0, 1, 2, 4, 6):
            raise BadUpdate(f"unknown type {type_ref}")
        return 1
    if ref == 8:  # any
        n = r.count()
        for _ in range(n):
            r.any()
        return n
    if ref == 9:  # subdocument
        r.string()
        r.any()
        return 1
    raise BadUpdate(f"unknown content {ref}")


def _reference(r: _Reader, client: int, clock: int) -> tuple[int, int]:
    """An item's neighbour or parent. A client only ever refers to what existed when it wrote
    the item: one of its own items can only be older (Yjs fails on anything else)."""
    ref_client, ref_clock = r.uint(), r.uint()
    if ref_client == client and ref_clock >= clock:
        raise BadUpdate("refers to a later item of its own client")
    return ref_client, ref_clock


def _structure(update: bytes) -> bool:
    """Read the whole update; returns whether it names a parent outside itself (then only
    the document it is for can tell whether that parent is a type, see ``check_against``)."""
    r = _Reader(update)
    parents: list[tuple[int, int]] = []
    #: (client, first clock) -> (length, content ref) of every item in this update.
    items: dict[int, list[tuple[int, int, int]]] = {}
    for _ in range(r.count()):
        structs = r.count()
        client = r.uint()
        clock = r.uint()
        for _ in range(structs):
            info = r.byte()
            ref = info & 0x1F
            if ref in (0, 10):  # GC, skip
                length = r.uint()
            else:
                has_origin = info & 0x80
                has_right = info & 0x40
                if has_origin:
                    _reference(r, client, clock)
                if has_right:
                    _reference(r, client, clock)
                if not (has_origin or has_right):
                    if r.uint() == 1:
                        r.string()  # a root type's name
                    else:
                        parents.append(_reference(r, client, clock))  # the parent's id
                    if info & 0x20:
                        r.string()  # the key in a map
                length = _content(r, ref)
            if length < 1:
                raise BadUpdate("empty struct")
            items.setdefault(client, []).append((clock, length, ref))
            clock += length
            if clock > MAX_SAFE:
                raise BadUpdate("integer out of range")
    for _ in range(r.count()):
        r.uint()  # client
        for _ in range(r.count()):
            clock, length = r.uint(), r.uint()
            if length < 1 or clock + length > MAX_SAFE:
                raise BadUpdate("bad delete range")
    if not r.done():
        raise BadUpdate("bytes after the update")
    outside = False
    for parent_client, parent_clock in parents:
        found = [
            (start, ref)
            for start, length, ref in items.get(parent_client, ())
            if start <= parent_clock < start + length
        ]
        if not found:
            outside = True
        elif found[0] != (parent_clock, 7):
            raise BadUpdate("the parent is not a type")
    return outside


def check(update: bytes) -> bool:
    """Raise ``BadUpdate`` unless stock Yjs and our own store can both take ``update``.
    Returns True if it names a parent outside itself: then ``check_against`` the document."""
    outside = _structure(update)
    try:
        Doc().apply_update(update)
        Doc().apply_update(merge_updates(update))
    except BaseException as exc:  # ValueError, or a Rust panic (a BaseException)
        if not isinstance(exc, Exception) and type(exc).__name__ != "PanicException":
            raise
        raise BadUpdate("the update does not decode") from exc
    return outside


def check_against(doc: Doc[Any], update: bytes) -> None:
    """Try ``update`` on a scratch copy of ``doc``: what results must encode and load again.
    Costs a copy of the document, so it is only for the rare update that names a parent
    outside itself (Kring's editors write root texts; a nested type's first item does)."""
    try:
        scratch: Doc[Any] = Doc()
        scratch.apply_update(doc.get_update())
        scratch.apply_update(update)
        Doc().apply_update(scratch.get_update())
    except BaseException as exc:
        if not isinstance(exc, Exception) and type(exc).__name__ != "PanicException":
            raise
        raise BadUpdate("the update does not fit the document") from exc
