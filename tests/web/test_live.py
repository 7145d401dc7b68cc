"""The live channel: after a commit, every open screen of the case hears which fragment
changed (server-sent events over real HTTP), and nothing of the content."""

from __future__ import annotations

import asyncio

import httpx

from tests.conftest import World, signed_in_client


async def _events(response: httpx.Response, out: asyncio.Queue[str]) -> None:
    async for line in response.aiter_lines():
        if line.startswith("event: "):
            await out.put(line.removeprefix("event: "))


async def test_an_added_agreement_reaches_other_screens_after_commit(live, world: World, browser):
    base = live.replace("ws://", "http://")
    watcher = await signed_in_client(base, world.professional.email)
    heard: asyncio.Queue[str] = asyncio.Queue()
    try:
        async with watcher.stream("GET", f"/cases/{world.case.id}/live") as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            reader = asyncio.create_task(_events(response, heard))
            try:
                writer = browser()
                await writer.login(world.coordinator.email)
                # A refused form commits nothing, so it announces nothing.
                bad = await writer.post(
                    f"/cases/{world.case.id}/plan/agreements", {"phase": "1", "what": ""}
                )
                assert bad.status_code == 422
                await writer.post(
                    f"/cases/{world.case.id}/plan/agreements",
                    {"phase": "2", "what": "Geheim", "who_does": "Erik", "checker": "Kees"},
                )
                assert await asyncio.wait_for(heard.get(), 5) == "agreements-2"
                assert heard.empty()
            finally:
                reader.cancel()
    finally:
        await watcher.aclose()


async def test_the_live_channel_is_for_participants_only(live, world: World):
    base = live.replace("ws://", "http://")
    outsider = await signed_in_client(base, world.outsider.email)
    try:
        response = await outsider.get(f"/cases/{world.case.id}/live")
        assert response.status_code == 404
    finally:
        await outsider.aclose()


async def test_fragments_are_only_for_htmx_and_only_known_names(browser, world: World):
    b = browser()
    await b.login(world.coordinator.email)
    url = f"/cases/{world.case.id}/plan"
    assert (await b.get(f"{url}?fragment=agreements-1")).status_code == 404
    assert (await b.get(f"{url}?fragment=people", headers={"HX-Request": "true"})).status_code == 404
    fragment = await b.get(f"{url}?fragment=agreements-1", headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and fragment.text.lstrip().startswith('<div id="agreements-1"')
