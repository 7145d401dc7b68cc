"""Several workers, one region: what one worker's screens must hear of another's.

The realtime fan-out (Redis) carries document updates and editor presence itself; this module
puts the workspace's own live things on the same channel, as signals:

- "event": every event published on the bus (fragments, meeting screens, the intervision
  screen, the chair's focus, the lobby): the other workers deliver it to their subscribers;
- "presence": a worker's set of people present in a meeting, on change and as a heartbeat;
- a revocation (``realtime.revoke`` relays it) also ends the event streams on other workers.

All of it is lossy, like the bus itself: a screen that reconnects re-renders from committed
rows, presence heals with the next heartbeat, and a missed revocation is still caught on the
next message its connection sends (``RealtimeServer._admit``)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from realtime.server import RealtimeServer
from workspace.cases.actions import CaseChanged
from workspace.events import CaseEvent, EventBus
from workspace.learning.views import SessionChanged
from workspace.meetings.actions import MeetingChanged
from workspace.meetings.presence import HEARTBEAT, Presence
from workspace.plan.actions import PlanChanged

log = logging.getLogger("kring.region")

#: The events that cross workers, by the name they travel under.
EVENTS: dict[str, type[Any]] = {
    cls.__name__: cls for cls in (CaseChanged, PlanChanged, MeetingChanged, SessionChanged)
}


def encode_event(event: CaseEvent) -> bytes:
    name = type(event).__name__
    if name not in EVENTS:
        raise ValueError(f"event {name} does not cross workers")
    fields = {
        f.name: _plain(getattr(event, f.name))
        for f in dataclasses.fields(event)  # type: ignore[arg-type]
    }
    return json.dumps({"type": name, "fields": fields}).encode()


def _plain(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, tuple):
        return list(value)
    return value


def decode_event(payload: bytes) -> CaseEvent:
    data = json.loads(payload)
    cls = EVENTS[data["type"]]
    values: dict[str, Any] = {}
    for name, value in data["fields"].items():
        if name.endswith("_id") and value is not None:
            values[name] = uuid.UUID(value)
        elif isinstance(value, list):
            values[name] = tuple(value)
        else:
            values[name] = value
    event: CaseEvent = cls(**values)
    return event


def connect(events: EventBus, presence: Presence, realtime: RealtimeServer) -> None:
    """Put the bus and meeting presence on the realtime server's fan-out (when it has one)."""
    if not realtime.distributed:
        return

    def relay_event(event: CaseEvent) -> None:
        try:
            payload = encode_event(event)
        except (TypeError, ValueError):
            log.warning("an event of type %s cannot cross workers", type(event).__name__)
            return
        realtime.signal("event", payload)

    async def heard_event(payload: bytes) -> None:
        try:
            event = decode_event(payload)
        except (KeyError, TypeError, ValueError):
            log.warning("ignored an event from another worker that does not decode")
            return
        events.deliver(event)

    async def heard_presence(payload: bytes) -> None:
        try:
            data = json.loads(payload)
            worker = str(data["worker"])
            case_id = uuid.UUID(data["case"])
            meeting_id = uuid.UUID(data["meeting"])
            here = frozenset(uuid.UUID(p) for p in data["here"])
        except (KeyError, TypeError, ValueError):
            log.warning("ignored meeting presence from another worker that does not decode")
            return
        presence.heard(worker, case_id, meeting_id, here)

    def relay_presence(
        case_id: uuid.UUID, meeting_id: uuid.UUID, participants: frozenset[uuid.UUID]
    ) -> None:
        data = {
            "worker": realtime.origin,
            "case": str(case_id),
            "meeting": str(meeting_id),
            "here": sorted(map(str, participants)),
        }
        realtime.signal("presence", json.dumps(data).encode())

    events.relay = relay_event
    presence.relay = relay_presence
    realtime.on_signal("event", heard_event)
    realtime.on_signal("presence", heard_presence)
    realtime.on_remote_revoke = events.end


@asynccontextmanager
async def heartbeat(
    events: EventBus, presence: Presence, realtime: RealtimeServer
) -> AsyncIterator[None]:
    """While open: repeat this worker's meeting presence, and forget quiet workers' (their
    screens learn that those people left)."""
    if not realtime.distributed:
        yield
        return

    async def beat() -> None:
        while True:
            await asyncio.sleep(HEARTBEAT)
            presence.tell_all()
            for case_id, meeting_id in presence.expire():
                events.deliver(MeetingChanged(case_id, "meeting-presence", meeting_id))

    task = asyncio.create_task(beat())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
