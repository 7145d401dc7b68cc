"""Two workers' buses and meeting presence over one fan-out (``workspace.region``): what one
worker's screens hear of the other's, through the real realtime servers and their channel."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from realtime.fanout import InProcessFanout
from realtime.server import RealtimeServer
from workspace import region
from workspace.cases.actions import CaseChanged
from workspace.db import Database
from workspace.events import END, EventBus
from workspace.learning.views import SessionChanged
from workspace.meetings import presence as presence_module
from workspace.meetings.actions import MeetingChanged
from workspace.meetings.presence import Presence
from workspace.plan.actions import PlanChanged


@dataclass
class Worker:
    events: EventBus
    presence: Presence
    realtime: RealtimeServer


async def _nobody(websocket: Any, document: str) -> None:
    return None


@pytest.fixture
async def workers(database_url: str) -> AsyncIterator[Callable[[], Any]]:
    hub = InProcessFanout()
    async with contextlib.AsyncExitStack() as stack:

        async def make() -> Worker:
            db = Database(database_url)
            stack.push_async_callback(db.dispose)
            realtime = RealtimeServer(db.engine, _nobody, allowed_origins=set(), fanout=hub)
            worker = Worker(EventBus(), Presence(), realtime)
            region.connect(worker.events, worker.presence, realtime)
            await stack.enter_async_context(realtime)
            await stack.enter_async_context(
                region.heartbeat(worker.events, worker.presence, realtime)
            )
            return worker

        yield make


async def _next(queue: asyncio.Queue[Any]) -> Any:
    return await asyncio.wait_for(queue.get(), 5)


async def _until(condition: Callable[[], bool]) -> None:
    for _ in range(250):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the condition never held")


@pytest.mark.parametrize(
    "event",
    [
        CaseChanged(uuid.uuid4(), "people"),
        PlanChanged(uuid.uuid4(), "agreements-1", "except", ("participant:x",), True),
        MeetingChanged(uuid.uuid4(), "meeting-focus", uuid.uuid4()),
        MeetingChanged(uuid.uuid4(), "meetings"),
        SessionChanged(uuid.uuid4(), "step"),
    ],
)
async def test_an_event_published_on_one_worker_reaches_the_screens_of_the_other(workers, event):
    a, b = await workers(), await workers()
    async with (
        b.events.subscribe(event.case_id) as there,
        a.events.subscribe(event.case_id) as here,
    ):
        await a.events.publish(event)
        assert await _next(there) == event  # the same audience travels with it
        assert await _next(here) == event
        await asyncio.sleep(0.1)
        assert here.empty() and there.empty()  # once each: nobody hears their own echo


async def test_a_revocation_on_one_worker_ends_the_event_streams_on_the_other(workers):
    a, b = await workers(), await workers()
    case_id = uuid.uuid4()
    async with (
        b.events.subscribe(case_id, keys={"session:s1"}) as ending,
        b.events.subscribe(case_id, keys={"session:s2"}) as staying,
    ):
        await a.realtime.revoke({"session:s1"})
        assert await _next(ending) is END
        await a.events.publish(CaseChanged(case_id, "people"))
        assert await _next(staying) == CaseChanged(case_id, "people")


async def test_meeting_presence_is_the_union_of_every_workers_screens(workers, monkeypatch):
    a, b = await workers(), await workers()
    case_id, meeting_id = uuid.uuid4(), uuid.uuid4()
    linda, erik = uuid.uuid4(), uuid.uuid4()
    changes: list[tuple[str, bool]] = []

    def on_change(name: str) -> Any:
        async def changed(arrived: bool) -> None:
            changes.append((name, arrived))

        return changed

    async with a.presence.attend(case_id, meeting_id, linda, on_change("linda")):
        await _until(lambda: b.presence.present(meeting_id) == {linda})
        async with b.presence.attend(case_id, meeting_id, erik, on_change("erik")):
            await _until(lambda: a.presence.present(meeting_id) == {linda, erik})
            assert b.presence.present(meeting_id) == {linda, erik}
        await _until(lambda: a.presence.present(meeting_id) == {linda})
    await _until(lambda: not b.presence.present(meeting_id))
    assert changes == [("linda", True), ("erik", True), ("erik", False), ("linda", False)]


async def test_a_worker_that_goes_quiet_stops_counting_its_people_present(workers, monkeypatch):
    monkeypatch.setattr(presence_module, "REMOTE_FOR", 0.3)
    monkeypatch.setattr(region, "HEARTBEAT", 0.05)
    b = await workers()
    case_id, meeting_id, linda = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    async with b.events.subscribe(case_id) as screen:
        # Heard once from a worker that then died: no more heartbeats from it.
        b.presence.heard("dead-worker", case_id, meeting_id, frozenset({linda}))
        assert b.presence.present(meeting_id) == {linda}
        assert await _next(screen) == MeetingChanged(case_id, "meeting-presence", meeting_id)
        assert not b.presence.present(meeting_id)


async def test_heartbeats_keep_a_living_workers_people_present(workers, monkeypatch):
    monkeypatch.setattr(presence_module, "REMOTE_FOR", 0.3)
    monkeypatch.setattr(region, "HEARTBEAT", 0.05)
    a, b = await workers(), await workers()
    case_id, meeting_id, linda = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()

    async def nothing(arrived: bool) -> None:
        return None

    async with a.presence.attend(case_id, meeting_id, linda, nothing):
        await _until(lambda: b.presence.present(meeting_id) == {linda})
        await asyncio.sleep(1.0)  # three times as long as a set is remembered without news
        assert b.presence.present(meeting_id) == {linda}


def test_events_that_do_not_decode_are_refused_by_name():
    with pytest.raises(KeyError):
        region.decode_event(b'{"type": "Unknown", "fields": {}}')
    event = PlanChanged(uuid.uuid4(), "sections", "professionals")
    assert region.decode_event(region.encode_event(event)) == event
