"""Event bus: views publish after commit; open screens of a case subscribe.

Each process delivers to its own subscribers; with several workers, ``relay`` hands every
published event to the others too (``workspace.region``), which ``deliver`` it to theirs.

Treated as lossy: a subscriber whose bounded queue is full misses events and must refresh
from the database (the page it shows is always re-rendered from committed rows).

A subscription carries the keys of the grant it was opened under ("session:<id>",
"participant:<id>", ...): when that grant ends, ``end(keys)`` ends the stream at once."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from typing import Any, Protocol


class CaseEvent(Protocol):
    @property
    def case_id(self) -> uuid.UUID: ...


#: Put on a subscriber's queue when its stream must end (its access ended, or shutdown).
END = object()


class _Subscription:
    def __init__(self, keys: frozenset[str], size: int) -> None:
        self.keys = keys
        self.queue: asyncio.Queue[Any] = asyncio.Queue(size)

    def end(self) -> None:
        # The end must arrive even when the queue is full: it replaces the oldest event.
        while True:
            try:
                self.queue.put_nowait(END)
                return
            except asyncio.QueueFull:
                self.queue.get_nowait()


class EventBus:
    def __init__(self, queue_size: int = 100) -> None:
        self._subscribers: dict[uuid.UUID, set[_Subscription]] = defaultdict(set)
        self._queue_size = queue_size
        self._closed = False
        #: Every event ever published in this process, newest last; bounded, for tests/debug.
        self.recent: list[Any] = []
        #: Told every event published here, to pass on to the other workers (never waits).
        self.relay: Callable[[CaseEvent], None] | None = None

    async def publish(self, event: CaseEvent) -> None:
        """After a commit: every screen of the case hears it, on every worker."""
        self.recent = [*self.recent[-99:], event]
        self.deliver(event)
        if self.relay is not None:
            self.relay(event)

    def deliver(self, event: CaseEvent) -> None:
        """To this process's subscribers only (an event published here or by another worker)."""
        for subscription in list(self._subscribers.get(event.case_id, ())):
            # Lossy by contract: a full subscriber resyncs from the database.
            with contextlib.suppress(asyncio.QueueFull):
                subscription.queue.put_nowait(event)

    @asynccontextmanager
    async def subscribe(
        self, case_id: uuid.UUID, keys: Iterable[str] = ()
    ) -> AsyncIterator[asyncio.Queue[Any]]:
        """A queue of the channel's events; ``END`` on it means: stop now."""
        subscription = _Subscription(frozenset(keys), self._queue_size)
        if self._closed:
            subscription.end()
        self._subscribers[case_id].add(subscription)
        try:
            yield subscription.queue
        finally:
            self._subscribers[case_id].discard(subscription)
            if not self._subscribers[case_id]:
                del self._subscribers[case_id]

    def end(self, keys: Iterable[str]) -> int:
        """End every stream opened under any of ``keys``; returns how many."""
        wanted = frozenset(keys)
        ended = 0
        for subscriptions in list(self._subscribers.values()):
            for subscription in list(subscriptions):
                if subscription.keys & wanted:
                    subscription.end()
                    ended += 1
        return ended

    def close(self) -> None:
        """Shutting down: end every stream now, and any opened from here on at once."""
        self._closed = True
        for subscriptions in list(self._subscribers.values()):
            for subscription in list(subscriptions):
                subscription.end()

    @property
    def streams(self) -> int:
        return sum(len(s) for s in self._subscribers.values())
