"""In-process event bus: views publish after commit; open screens of a case subscribe.

Treated as lossy: a subscriber whose bounded queue is full misses events and must refresh
from the database (the page it shows is always re-rendered from committed rows)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Protocol


class CaseEvent(Protocol):
    case_id: uuid.UUID


class EventBus:
    def __init__(self, queue_size: int = 100) -> None:
        self._subscribers: dict[uuid.UUID, set[asyncio.Queue[Any]]] = defaultdict(set)
        self._queue_size = queue_size
        #: Every event ever published in this process, newest last; bounded, for tests/debug.
        self.recent: list[Any] = []

    async def publish(self, event: CaseEvent) -> None:
        self.recent = [*self.recent[-99:], event]
        for queue in list(self._subscribers.get(event.case_id, ())):
            # Lossy by contract: a full subscriber resyncs from the database.
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait(event)

    @asynccontextmanager
    async def subscribe(self, case_id: uuid.UUID) -> AsyncIterator[asyncio.Queue[Any]]:
        queue: asyncio.Queue[Any] = asyncio.Queue(self._queue_size)
        self._subscribers[case_id].add(queue)
        try:
            yield queue
        finally:
            self._subscribers[case_id].discard(queue)
            if not self._subscribers[case_id]:
                del self._subscribers[case_id]
