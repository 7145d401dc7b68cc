"""Who is in a meeting right now: every open meeting screen (its live channel) counts.

Each worker counts the screens it serves. With several workers, each tells the others its own
set for a meeting when it changes and again every ``HEARTBEAT`` seconds (``relay``, wired in
``workspace.region``); a worker's sets are forgotten ``REMOTE_FOR`` seconds after it last
spoke, so a worker that died does not keep people in the meeting. The attendance list in the
database is what the minutes use; this registry says who is here at this moment."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

OnChange = Callable[[bool], Awaitable[None]]
#: Told this worker's set of present participants of a meeting (case, meeting, set) whenever
#: it changes.
Relay = Callable[[uuid.UUID, uuid.UUID, frozenset[uuid.UUID]], None]

#: Another worker's set for one meeting: (case, participants, when heard).
Remote = tuple[uuid.UUID, frozenset[uuid.UUID], float]

HEARTBEAT = 10.0
REMOTE_FOR = 30.0


class Presence:
    def __init__(self) -> None:
        self._open: dict[uuid.UUID, Counter[uuid.UUID]] = {}
        #: The case of each meeting someone attends through this worker.
        self._cases: dict[uuid.UUID, uuid.UUID] = {}
        #: Other workers' sets: worker -> meeting -> (case, participants, when heard).
        self._remote: dict[str, dict[uuid.UUID, Remote]] = {}
        self.relay: Relay | None = None

    def here(self, meeting_id: uuid.UUID) -> frozenset[uuid.UUID]:
        """Present through a screen this worker serves."""
        return frozenset(self._open.get(meeting_id, ()))

    def present(self, meeting_id: uuid.UUID) -> set[uuid.UUID]:
        """Present through any worker's screens."""
        now = time.monotonic()
        found = set(self.here(meeting_id))
        for meetings in self._remote.values():
            entry = meetings.get(meeting_id)
            if entry is not None and now - entry[2] < REMOTE_FOR:
                found |= entry[1]
        return found

    def tell_all(self) -> None:
        """Repeat this worker's set of every meeting someone attends through it (heartbeat)."""
        for meeting_id in list(self._open):
            self._tell(meeting_id)

    def heard(
        self,
        worker: str,
        case_id: uuid.UUID,
        meeting_id: uuid.UUID,
        participants: frozenset[uuid.UUID],
    ) -> None:
        """Another worker's set for a meeting (an empty one: nobody is there through it)."""
        meetings = self._remote.setdefault(worker, {})
        if participants:
            meetings[meeting_id] = (case_id, participants, time.monotonic())
        else:
            meetings.pop(meeting_id, None)

    def expire(self) -> list[tuple[uuid.UUID, uuid.UUID]]:
        """Forget sets of workers gone quiet; returns the (case, meeting) pairs they were in."""
        now = time.monotonic()
        gone = []
        for worker, meetings in list(self._remote.items()):
            for meeting_id, (case_id, _, heard) in list(meetings.items()):
                if now - heard >= REMOTE_FOR:
                    del meetings[meeting_id]
                    gone.append((case_id, meeting_id))
            if not meetings:
                del self._remote[worker]
        return gone

    def _tell(self, meeting_id: uuid.UUID) -> None:
        if self.relay is not None:
            self.relay(self._cases[meeting_id], meeting_id, self.here(meeting_id))

    @asynccontextmanager
    async def attend(
        self,
        case_id: uuid.UUID,
        meeting_id: uuid.UUID,
        participant_id: uuid.UUID,
        on_change: OnChange,
    ) -> AsyncIterator[None]:
        """While this context is open the participant is in the meeting. ``on_change(True)``
        runs when their first screen on this worker opens, ``on_change(False)`` when their
        last one here closes (``present`` says whether they are still here elsewhere)."""
        self._cases[meeting_id] = case_id
        screens = self._open.setdefault(meeting_id, Counter())
        screens[participant_id] += 1
        if screens[participant_id] == 1:
            self._tell(meeting_id)
            await on_change(True)
        try:
            yield
        finally:
            screens[participant_id] -= 1
            if screens[participant_id] <= 0:
                del screens[participant_id]
                self._tell(meeting_id)
                if not screens:
                    self._open.pop(meeting_id, None)
                    self._cases.pop(meeting_id, None)
                # Shielded: the stream closing is usually a cancellation.
                await asyncio.shield(on_change(False))
