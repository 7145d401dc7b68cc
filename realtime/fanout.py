"""Fan-out between server processes: one small interface, in-process by default.

Treated as lossy: a process that may have missed messages resyncs from the database by state
vector (``RealtimeServer.resync``). A Redis or PostgreSQL LISTEN/NOTIFY implementation only has
to deliver (document, update) pairs to the other processes' ``deliver`` callback."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

Deliver = Callable[[str, bytes], Awaitable[None]]


class Fanout(Protocol):
    async def publish(self, document: str, update: bytes) -> None:
        """Tell other processes that ``update`` (already stored) applies to ``document``."""

    async def start(self, deliver: Deliver) -> None:
        """Begin delivering other processes' updates to ``deliver``."""

    async def stop(self) -> None: ...


class InProcessFanout:
    """One process: nobody else to tell."""

    async def publish(self, document: str, update: bytes) -> None:
        return None

    async def start(self, deliver: Deliver) -> None:
        return None

    async def stop(self) -> None:
        return None
