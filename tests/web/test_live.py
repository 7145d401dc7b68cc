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
    assert (
        await b.get(f"{url}?fragment=people", headers={"HX-Request": "true"})
    ).status_code == 404
    fragment = await b.get(f"{url}?fragment=agreements-1", headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and fragment.text.lstrip().startswith(
        '<div id="agreements-1"'
    )


async def test_nobody_hears_that_something_hidden_from_them_changed(
    live, world: World, browser, db, settings
):
    """Issue 15: the live channel told an excluded person ``decision-<hidden id>`` and
    ``agreements-2`` whenever something hidden from him changed. Now the event carries the
    item's audience: Hasan (excluded) hears nothing, Linda hears it."""
    from tests.conftest import SECRET, invite
    from workspace.models import Participant
    from workspace.web import CSRF_COOKIE, csrf_token_for

    base = live.replace("ws://", "http://")

    async def member(participant: Participant) -> httpx.AsyncClient:
        client = httpx.AsyncClient(base_url=base, timeout=10)
        await client.get("/healthz")
        token = csrf_token_for(SECRET, client.cookies[CSRF_COOKIE])
        link = await invite(db, settings, world, participant)
        claimed = await client.post(
            "/uitnodiging", data={"token": link.rsplit("/", 1)[1], "csrf_token": token}
        )
        assert claimed.status_code == 303
        return client

    async with db.begin() as session:
        hasan = (await session.get(Participant, world.network.id)).person_id
    linda_http, hasan_http = await member(world.household), await member(world.network)
    heard = {"linda": asyncio.Queue(), "hasan": asyncio.Queue()}
    try:
        async with (
            linda_http.stream("GET", f"/cases/{world.case.id}/live") as linda_live,
            hasan_http.stream("GET", f"/cases/{world.case.id}/live") as hasan_live,
        ):
            readers = [
                asyncio.create_task(_events(linda_live, heard["linda"])),
                asyncio.create_task(_events(hasan_live, heard["hasan"])),
            ]
            try:
                fatima = browser()
                await fatima.login(world.coordinator.email)
                plan = f"/cases/{world.case.id}/plan"
                hidden = {"audience": "except", "excluded": str(hasan)}
                await fatima.post(
                    f"{plan}/agreements",
                    {
                        "phase": "2",
                        "what": "Linda slaapt bij oma",
                        "who_does": "Linda",
                        "checker": "Fatima",
                        **hidden,
                    },
                )
                await fatima.post(
                    f"{plan}/incidents",
                    {
                        "occurred_on": "2026-11-30",
                        "what": "Ruzie",
                        "reported_by": "Linda",
                        **hidden,
                    },
                )
                await fatima.post(
                    f"{plan}/sections", {"phase": "1", "title": "Linda alleen", **hidden}
                )
                # Then something everyone sees: the marker that the hidden ones went before.
                await fatima.post(
                    f"{plan}/agreements",
                    {"phase": "1", "what": "Samen eten", "who_does": "Erik", "checker": "Kees"},
                )
                linda_heard = [await asyncio.wait_for(heard["linda"].get(), 5) for _ in range(5)]
                assert linda_heard == [
                    "agreements-2",
                    "incidents",
                    "head",
                    "sections-1",
                    "agreements-1",
                ]
                assert await asyncio.wait_for(heard["hasan"].get(), 5) == "agreements-1"
                assert heard["hasan"].empty()
            finally:
                for reader in readers:
                    reader.cancel()
    finally:
        await linda_http.aclose()
        await hasan_http.aclose()
