"""Fan-out between server processes: one small interface, in-process by default.

A process publishes every update it committed; the others apply it to their loaded room (and
never store it again: it is already in the log). Fan-out is treated as lossy. Each message
carries its origin process and a sequence number per (origin, document), so a receiver notices
a gap and resyncs that document from the database by state vector; a periodic resync repairs
what no gap revealed (a lost last message). Duplicates are harmless: Yjs updates are idempotent.

Plugging in another transport means implementing ``Fanout``:

- Redis pub/sub: ``publish`` does ``PUBLISH kring:realtime <encode(message)>``; ``subscribe``
  runs a task that ``SUBSCRIBE``s and hands every decoded message to ``receive``.
  ``RedisFanout`` below does exactly that.
- PostgreSQL LISTEN/NOTIFY: NOTIFY payloads are limited to 8000 bytes, so notify
  ``(origin, seq, document, last_update_id)`` only and let the receiver read the rows after
  the id it has (or simply resync the document by state vector)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from pycrdt import Decoder, Encoder

log = logging.getLogger("kring.realtime")


@dataclass(frozen=True)
class Published:
    """One committed update, as it travels between processes."""

    document: str
    update: bytes
    #: The publishing process (``RealtimeServer.origin``); a process ignores its own messages.
    origin: str
    #: 1, 2, 3... per (origin, document): a receiver that sees a jump has missed something.
    seq: int


Receive = Callable[[Published], Awaitable[None]]


class Fanout(Protocol):
    async def publish(self, message: Published) -> None:
        """Tell other processes about an update that is already committed. May lose it."""

    def subscribe(self, receive: Receive) -> AbstractAsyncContextManager[None]:
        """While the context is open, hand every message (own ones included) to ``receive``."""


class InProcessFanout:
    """A hub for servers in one process: the default (a lone server hears only itself), and
    what tests use to run two servers over one database."""

    def __init__(self) -> None:
        self._receivers: list[Receive] = []

    async def publish(self, message: Published) -> None:
        for receive in list(self._receivers):
            try:
                await receive(message)
            except Exception:
                log.exception("a fan-out receiver failed; it resyncs later")

    @asynccontextmanager
    async def subscribe(self, receive: Receive) -> AsyncIterator[None]:
        self._receivers.append(receive)
        try:
            yield
        finally:
            self._receivers.remove(receive)


def encode(message: Published) -> bytes:
    encoder = Encoder()
    encoder.write_var_string(message.origin)
    encoder.write_var_uint(message.seq)
    encoder.write_var_string(message.document)
    return encoder.to_bytes() + _var_bytes(message.update)


def _var_bytes(data: bytes) -> bytes:
    encoder = Encoder()
    encoder.write_var_uint(len(data))
    return encoder.to_bytes() + data


def decode(data: bytes) -> Published:
    decoder = Decoder(data)
    origin = decoder.read_var_string()
    seq = decoder.read_var_uint()
    document = decoder.read_var_string()
    update = decoder.read_message()
    if update is None:
        raise ValueError("fan-out message without an update")
    return Published(document, update, origin, seq)


class RedisFanout:
    """Redis pub/sub on one channel. Needs the ``redis`` package (imported when used)."""

    def __init__(self, url: str, channel: str = "kring:realtime") -> None:
        self.url, self.channel = url, channel
        self._client: Any = None

    async def publish(self, message: Published) -> None:
        if self._client is None:
            raise RuntimeError("RedisFanout.publish outside subscribe()")
        await self._client.publish(self.channel, encode(message))

    @asynccontextmanager
    async def subscribe(self, receive: Receive) -> AsyncIterator[None]:
        import redis.asyncio as redis

        client = redis.Redis.from_url(self.url)
        pubsub = client.pubsub(ignore_subscribe_messages=True)
        await pubsub.subscribe(self.channel)

        async def listen() -> None:
            while True:
                try:
                    async for item in pubsub.listen():
                        try:
                            message = decode(bytes(item["data"]))
                        except Exception:
                            log.warning("ignoring an undecodable fan-out message")
                            continue
                        try:
                            await receive(message)
                        except Exception:
                            log.exception("a fan-out receiver failed; it resyncs later")
                except Exception:
                    # Lost the connection: what was missed meanwhile is repaired by resync.
                    log.warning("redis fan-out connection lost; reconnecting", exc_info=True)
                    await asyncio.sleep(1)

        task = asyncio.create_task(listen())
        self._client = client
        try:
            yield
        finally:
            self._client = None
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
            await pubsub.aclose()  # type: ignore[no-untyped-call]
            await client.aclose()
