"""The y-websocket wire protocol, on pycrdt's primitives, plus Kring's message type 100.

A message is ``varUint(type)`` and a payload. Types: 0 sync (step 1 / step 2 / update),
1 awareness, and 100 for Kring (hello, stored, error), which stock clients never send and
never receive."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from enum import IntEnum

from pycrdt import Decoder, Encoder, YMessageType, YSyncMessageType, write_var_uint

from realtime import updates

KRING = 100


class KringMessage(IntEnum):
    HELLO = 0
    STORED = 1
    ERROR = 2


class ProtocolError(Exception):
    """A message that is malformed or not allowed; the connection that sent it is closed."""


#: Exceptions that mean "stop", never "bad input": everything else pycrdt raises while
#: decoding (ValueError, or pyo3's PanicException, which derives from BaseException) is bad input.
_CONTROL_FLOW = (KeyboardInterrupt, SystemExit, GeneratorExit, asyncio.CancelledError)


def _var_bytes(data: bytes) -> bytes:
    return write_var_uint(len(data)) + data


def sync_step1(state_vector: bytes) -> bytes:
    return bytes([YMessageType.SYNC, YSyncMessageType.SYNC_STEP1]) + _var_bytes(state_vector)


def sync_step2(update: bytes) -> bytes:
    return bytes([YMessageType.SYNC, YSyncMessageType.SYNC_STEP2]) + _var_bytes(update)


def sync_update(update: bytes) -> bytes:
    return bytes([YMessageType.SYNC, YSyncMessageType.SYNC_UPDATE]) + _var_bytes(update)


def awareness_message(update: bytes) -> bytes:
    return bytes([YMessageType.AWARENESS]) + _var_bytes(update)


def kring_stored(state_vector: bytes) -> bytes:
    return write_var_uint(KRING) + bytes([KringMessage.STORED]) + _var_bytes(state_vector)


def kring_error(code: str) -> bytes:
    encoder = Encoder()
    encoder.write_var_uint(KRING)
    encoder.write_var_uint(KringMessage.ERROR)
    encoder.write_var_string(code)
    return encoder.to_bytes()


@dataclass(frozen=True)
class Incoming:
    """A parsed client message. ``payload`` is the update, state vector or awareness update."""

    type: int
    subtype: int
    payload: bytes
    #: An update that names a parent outside itself: check it against the room's document.
    contextual: bool = False


def _read_var_uint(data: bytes, pos: int) -> tuple[int, int]:
    value = 0
    shift = 0
    while True:
        if pos >= len(data):
            raise ProtocolError("truncated varUint")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7
        if shift > 49:
            raise ProtocolError("varUint too long")


def _read_var_bytes(data: bytes, pos: int) -> tuple[bytes, int]:
    length, pos = _read_var_uint(data, pos)
    end = pos + length
    if end > len(data):
        raise ProtocolError("truncated payload")
    return data[pos:end], end


def parse(message: bytes) -> Incoming:
    """Parse and validate one client message. Raises ProtocolError; never touches a document.

    Updates are fully read here against the format stock Yjs reads (``updates.check``), so
    an update that any client or our own store could not take is refused before it reaches
    the room, the log or anyone else."""
    msg_type, pos = _read_var_uint(message, 0)
    if msg_type == YMessageType.SYNC:
        subtype, pos = _read_var_uint(message, pos)
        payload, pos = _read_var_bytes(message, pos)
        if subtype == YSyncMessageType.SYNC_STEP1:
            _check_state_vector(payload)
        elif subtype in (YSyncMessageType.SYNC_STEP2, YSyncMessageType.SYNC_UPDATE):
            try:
                contextual = updates.check(payload)
            except updates.BadUpdate as exc:
                raise ProtocolError(f"update refused: {exc}") from None
            return Incoming(msg_type, subtype, payload, contextual)
        else:
            raise ProtocolError(f"unknown sync message {subtype}")
        return Incoming(msg_type, subtype, payload)
    if msg_type == YMessageType.AWARENESS:
        payload, pos = _read_var_bytes(message, pos)
        return Incoming(msg_type, 0, payload)
    if msg_type == KRING:
        subtype, pos = _read_var_uint(message, pos)
        return Incoming(msg_type, subtype, message[pos:])
    if msg_type == 3:  # query awareness: the server answers with all states
        return Incoming(msg_type, 0, b"")
    raise ProtocolError(f"unknown message type {msg_type}")


def _check_state_vector(data: bytes) -> None:
    count, pos = _read_var_uint(data, 0)
    if count > 100_000:
        raise ProtocolError("state vector too long")
    for _ in range(count):
        _, pos = _read_var_uint(data, pos)
        _, pos = _read_var_uint(data, pos)
    if pos != len(data):
        raise ProtocolError("trailing bytes after state vector")


# -- awareness: decoded so the server can drop echoes and set identity itself ---------------


@dataclass
class AwarenessEntry:
    client_id: int
    clock: int
    state: str  # JSON text; "null" means the client left


def decode_awareness(update: bytes) -> list[AwarenessEntry]:
    try:
        decoder = Decoder(update)
        count = decoder.read_var_uint()
        if count > 10_000:
            raise ProtocolError("too many awareness entries")
        entries = []
        for _ in range(count):
            client_id = decoder.read_var_uint()
            clock = decoder.read_var_uint()
            state = decoder.read_var_string()
            entries.append(AwarenessEntry(client_id, clock, state))
        return entries
    except ProtocolError:
        raise
    except BaseException as exc:
        if isinstance(exc, _CONTROL_FLOW):
            raise
        raise ProtocolError(f"malformed awareness update: {exc}") from None


def encode_awareness(entries: list[AwarenessEntry]) -> bytes:
    encoder = Encoder()
    encoder.write_var_uint(len(entries))
    for entry in entries:
        encoder.write_var_uint(entry.client_id)
        encoder.write_var_uint(entry.clock)
        encoder.write_var_string(entry.state)
    return encoder.to_bytes()


def with_identity(state: str, identity: dict[str, str]) -> str:
    """Replace the client's claimed ``user`` with the server's; refuse non-object states."""
    if state == "null":
        return state
    try:
        value = json.loads(state)
    except (ValueError, RecursionError):
        raise ProtocolError("awareness state is not JSON") from None
    if not isinstance(value, dict):
        raise ProtocolError("awareness state is not an object")
    value["user"] = identity
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
