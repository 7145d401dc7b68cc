"""Who is in a meeting right now: every open meeting screen (its live channel) counts.

Kept in this process (a meeting's screens reach the worker that serves them; with several
workers, put the registry behind the same fan-out as the realtime rooms). The attendance list
in the database is what the minutes use; this registry says who is here at this moment."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

OnChange = Callable[[bool], Awaitable[None]]


class Presence:
    def __init__(self) -> None:
        self._open: dict[uuid.UUID, Counter[uuid.UUID]] = {}

    def present(self, meeting_id: uuid.UUID) -> set[uuid.UUID]:
        return set(self._open.get(meeting_id, ()))

    @asynccontextmanager
    async def attend(
        self, meeting_id: uuid.UUID, participant_id: uuid.UUID, on_change: OnChange
    ) -> AsyncIterator[None]:
        """While this context is open the participant is in the meeting. ``on_change(True)``
        runs when their first screen opens, ``on_change(False)`` when their last one closes."""
        screens = self._open.setdefault(meeting_id, Counter())
        screens[participant_id] += 1
        if screens[participant_id] == 1:
            await on_change(True)
        try:
            yield
        finally:
            screens[participant_id] -= 1
            if screens[participant_id] <= 0:
                del screens[participant_id]
                if not screens:
                    self._open.pop(meeting_id, None)
                # Shielded: the stream closing is usually a cancellation.
                await asyncio.shield(on_change(False))
