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
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from pycrdt import Decoder, Encoder

log = logging.getLogger("kring.realtime")


#: What a message carries: a committed document update, editor presence (awareness entries,
#: identity already stamped by the worker that accepted them), or a signal (``document`` names
#: the topic: an access that ended, a document to re-authorize, a workspace event...).
UPDATE, PRESENCE, SIGNAL = 0, 1, 2


@dataclass(frozen=True)
class Published:
    """One committed update (or presence, or signal), as it travels between processes."""

    document: str
    update: bytes
    #: The publishing process (``RealtimeServer.origin``); a process ignores its own messages.
    origin: str
    #: 1, 2, 3... per (origin, document) for updates: a receiver that sees a jump has missed
    #: something. 0 for presence and signals (losing one of those needs no resync).
    seq: int
    kind: int = UPDATE


Receive = Callable[[Published], Awaitable[None]]


class Fanout(Protocol):
    async def publish(self, message: Published) -> None:
        """Tell other processes about an update that is already committed. May lose it."""

    async def publish_many(self, messages: list[Published]) -> None:
        """``publish`` each, in order (at once where the transport allows: one round trip)."""

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

    async def publish_many(self, messages: list[Published]) -> None:
        for message in messages:
            await self.publish(message)

    @asynccontextmanager
    async def subscribe(self, receive: Receive) -> AsyncIterator[None]:
        self._receivers.append(receive)
        try:
            yield
        finally:
            self._receivers.remove(receive)


def encode(message: Published) -> bytes:
    encoder = Encoder()
    encoder.write_var_uint(message.kind)
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
    kind = decoder.read_var_uint()
    if kind not in (UPDATE, PRESENCE, SIGNAL):
        raise ValueError(f"unknown fan-out message kind {kind}")
    origin = decoder.read_var_string()
    seq = decoder.read_var_uint()
    document = decoder.read_var_string()
    update = decoder.read_message()
    if update is None:
        raise ValueError("fan-out message without an update")
    return Published(document, update, origin, seq, kind)


class QuietLog:
    """Log a recurring failure once per ``every`` seconds with how often it happened, not once
    per occurrence with a traceback (a dead Redis fails ~200 publishes a second)."""

    def __init__(self, what: str, every: float = 30.0) -> None:
        self.what, self.every = what, every
        self._last = float("-inf")
        self._count = 0

    def failed(self, exc: BaseException) -> None:
        self._count += 1
        now = time.monotonic()
        if now - self._last >= self.every:
            log.warning("%s failed %d time(s): %s", self.what, self._count, _reason(exc))
            self._last, self._count = now, 0


def _reason(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


class RedisFanout:
    """Redis pub/sub on one channel (``<prefix>:realtime``). Needs the ``redis`` package
    (imported when used).

    Every command has a timeout: a Redis that hangs costs a publish two seconds at most, and
    publishing happens off the commit path (``RealtimeServer`` queues it), so local delivery
    never waits for Redis."""

    def __init__(self, url: str, prefix: str = "kring", *, timeout: float = 2.0) -> None:
        self.url, self.prefix, self.timeout = url, prefix, timeout
        self.channel = f"{prefix}:realtime"
        self._client: Any = None
        self._lost = QuietLog("redis fan-out connection")

    def _connect(self) -> Any:
        import redis.asyncio as redis

        return redis.Redis.from_url(
            self.url,
            socket_timeout=self.timeout,
            socket_connect_timeout=self.timeout,
            health_check_interval=10,
        )

    async def publish(self, message: Published) -> None:
        if self._client is None:
            raise RuntimeError("RedisFanout.publish outside subscribe()")
        await self._client.publish(self.channel, encode(message))

    async def publish_many(self, messages: list[Published]) -> None:
        # One round trip for what queued up meanwhile: awaited one by one, two workers of 100
        # meetings published slower than they committed (cross-worker p50 1.4 s).
        if self._client is None:
            raise RuntimeError("RedisFanout.publish_many outside subscribe()")
        async with self._client.pipeline(transaction=False) as pipe:
            for message in messages:
                pipe.publish(self.channel, encode(message))
            await pipe.execute()

    @asynccontextmanager
    async def subscribe(self, receive: Receive) -> AsyncIterator[None]:
        client = self._connect()
        # The subscription waits for messages indefinitely: no read timeout on its connection
        # (a quiet channel is not a dead one); the health check pings it instead.
        listener = self._connect()
        listener.connection_pool.connection_kwargs["socket_timeout"] = None
        ready = asyncio.Event()

        async def listen() -> None:
            while True:
                pubsub = listener.pubsub(ignore_subscribe_messages=True)
                try:
                    await pubsub.subscribe(self.channel)
                    ready.set()
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
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    # Lost the connection: what was missed meanwhile is repaired by resync.
                    self._lost.failed(exc)
                    await asyncio.sleep(1)
                finally:
                    with contextlib.suppress(Exception):
                        await pubsub.aclose()

        task = asyncio.create_task(listen())
        # Wait briefly for the first subscription, so a message published right after start
        # is heard; a Redis that is down must not keep the server from starting.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(ready.wait(), self.timeout)
        self._client = client
        try:
            yield
        finally:
            self._client = None
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
            await listener.aclose()
            await client.aclose()
