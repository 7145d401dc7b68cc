"""Two workers, one region (tests/region/conftest.py): what is typed, revoked, posted or
focused on one worker reaches the people on the other, Redis may die and come back without
losing a keystroke, and sign-in throttling behind the balancer counts each real client."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import re
from collections.abc import AsyncIterator, Sequence
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import websockets
from bs4 import BeautifulSoup
from playwright.async_api import Browser, BrowserContext, Page
from playwright.async_api import TimeoutError as PlaywrightTimeout
from pycrdt import Doc, Text
from sqlalchemy import select

from realtime.store import UpdateStore
from tests.conftest import PASSWORD
from tests.interop.conftest import NodeClient
from tests.region.conftest import (
    DATABASE_ENV,
    SKIP_REASON,
    ConnectPy,
    Region,
    StartNode,
    post_form,
    session_cookie,
)
from workspace.auth.throttle import SOURCE_FACTOR
from workspace.config import Settings
from workspace.db import Database
from workspace.models import LoginFailure

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not os.environ.get(DATABASE_ENV, "").strip(), reason=SKIP_REASON),
]

#: Generous: CI shares two cores between two workers, Redis, HAProxy, Node and Chromium.
CONVERGE = 30.0
TOKEN = re.compile(r"<[ab]:\d+>")


def _tokens(text: str) -> list[str]:
    return TOKEN.findall(text)


async def _converged(
    region: Region, clients: Sequence[NodeClient], typed: list[str], what: str
) -> None:
    """Every client holds every token typed, or the test fails saying who misses what."""
    want = set(typed)
    for name, client in zip("AB", clients, strict=False):
        try:
            await client.wait_for(lambda c: set(_tokens(c.text)) == want, timeout=CONVERGE)
        except TimeoutError:
            missing = sorted(want - set(_tokens(client.text)), key=typed.index)
            pytest.fail(
                f"{what}: after {CONVERGE:.0f} s the client on worker {name} still misses "
                f"{len(missing)} of {len(typed)} inserts: {missing[:20]}{region.logs()}"
            )


async def _type_interleaved(
    a: NodeClient, b: NodeClient, steps: range, typed: list[str], rng: random.Random
) -> None:
    for step in steps:
        for name, client in (("a", a), ("b", b)):
            token = f"<{name}:{step}>"
            typed.append(token)
            await client.type(token)
        await asyncio.sleep(rng.uniform(0.0, 0.02))  # the pace of typing, not a wait


async def _pair(
    region: Region, node: StartNode, http: list[httpx.AsyncClient], document: str
) -> tuple[NodeClient, NodeClient, str]:
    """The coordinator on two devices: a stock client on worker A and one on worker B."""
    on_a_http = await region.session(region.a.url, region.coordinator)
    on_b_http = await region.session(region.b.url, region.coordinator)
    http += [on_a_http, on_b_http]
    on_a = await node(region.a.ws, document, session_cookie(on_a_http))
    on_b = await node(region.b.ws, document, session_cookie(on_b_http))
    for name, client in (("A", on_a), ("B", on_b)):
        try:
            await client.wait_for(lambda c: c.synced_count() >= 1, timeout=CONVERGE)
        except TimeoutError:
            pytest.fail(
                f"the stock client on worker {name} never synced: {client.events[-5:]}"
                f"{region.logs()}"
            )
    return on_a, on_b, session_cookie(on_a_http)


async def _fresh_reader_sees(
    region: Region, node: StartNode, document: str, cookie: str, text: str
) -> None:
    """A client that connects afterwards, through the balancer, reads ``text``."""
    fresh = await node(region.balancer_ws, document, cookie)
    try:
        await fresh.wait_for(lambda c: c.synced_count() >= 1 and c.text == text, CONVERGE)
    except TimeoutError:
        pytest.fail(
            f"a fresh client through the balancer read {len(_tokens(fresh.text))} inserts, "
            f"not the {len(_tokens(text))} both replicas have{region.logs()}"
        )


async def test_stock_clients_on_both_workers_converge(
    region: Region, node: StartNode, http: list[httpx.AsyncClient]
) -> None:
    document = region.documents["wat-gebeurde"]
    on_a, on_b, cookie = await _pair(region, node, http, document)
    typed: list[str] = []
    await _type_interleaved(on_a, on_b, range(50), typed, random.Random(1))

    await _converged(region, [on_a, on_b], typed, "typing on two workers")
    assert on_a.text == on_b.text, "the replicas on A and B hold different texts"
    assert len(_tokens(on_a.text)) == len(typed), "an insert arrived twice"
    await _fresh_reader_sees(region, node, document, cookie, on_a.text)


async def test_redis_killed_and_restarted_mid_typing_loses_nothing(
    region: Region, node: StartNode, http: list[httpx.AsyncClient]
) -> None:
    document = region.documents["veiligheidsplan"]
    on_a, on_b, cookie = await _pair(region, node, http, document)
    rng = random.Random(2)
    typed: list[str] = []
    try:
        await _type_interleaved(on_a, on_b, range(15), typed, rng)
        region.redis.kill()  # mid-typing, no warning: everything published now is lost
        assert not await region.redis.ping()
        await _type_interleaved(on_a, on_b, range(15, 30), typed, rng)
        region.redis.launch()  # the same port
        await region.redis.ready()
        await _type_interleaved(on_a, on_b, range(30, 40), typed, rng)
        # Both workers subscribe again by themselves; what they hear next reveals the gap.
        await region.both_subscribed()
        await _type_interleaved(on_a, on_b, range(40, 50), typed, rng)
    finally:
        if not region.redis.running:  # the tests after this one need the fan-out
            region.redis.launch()
            await region.redis.ready()

    await _converged(region, [on_a, on_b], typed, "typing through a Redis restart")
    assert on_a.text == on_b.text, "the replicas on A and B hold different texts"
    assert len(_tokens(on_a.text)) == len(typed), "an insert arrived twice"
    await _fresh_reader_sees(region, node, document, cookie, on_a.text)


async def _stored_text(region: Region, document: str) -> str:
    """The document as the database holds it (what any worker would load)."""
    db = Database(region.database_url)
    try:
        loaded = await UpdateStore(db.engine).load(document)
    finally:
        await db.dispose()
    doc: Doc[Any] = Doc()
    if loaded.state is not None:
        doc.apply_update(loaded.state)
    return str(doc.get("text", type=Text))


async def _fresh_text(
    pyclient: ConnectPy, ws_base: str, document: str, cookie: str, until: str
) -> str:
    """What a client that connects now reads, once it holds ``until``."""
    reader = await pyclient(ws_base, document, cookie)
    await reader.wait_for(lambda: until in str(reader.text), CONVERGE)
    return str(reader.text)


class _Stream:
    """A plan's event stream (server-sent events), read until the server ends it."""

    def __init__(self, client: httpx.AsyncClient, url: str) -> None:
        self.opened, self.ended = asyncio.Event(), asyncio.Event()
        self._task = asyncio.create_task(self._read(client, url))

    async def _read(self, client: httpx.AsyncClient, url: str) -> None:
        try:
            async with client.stream("GET", url) as response:
                assert response.status_code == 200, f"{url} answered {response.status_code}"
                async for _ in response.aiter_lines():
                    # The first line ("retry: ...") comes once the stream is subscribed.
                    self.opened.set()
        finally:
            self.ended.set()

    async def aclose(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError, httpx.HTTPError):
            await self._task


async def test_a_revocation_on_a_closes_the_members_sockets_and_stream_on_b(
    region: Region, pyclient: ConnectPy, http: list[httpx.AsyncClient]
) -> None:
    document = region.documents["zorgen-krachten"]
    sanne_http = await region.claim(region.b.url, "Sanne")
    fatima_a = await region.session(region.a.url, region.coordinator)
    fatima_b = await region.session(region.b.url, region.coordinator)
    http += [sanne_http, fatima_a, fatima_b]
    sanne_cookie = session_cookie(sanne_http)

    # Sanne on worker B: a socket that only listens, one that writes, her plan's live stream.
    silent = await pyclient(region.b.ws, document, sanne_cookie)
    talking = await pyclient(region.b.ws, document, sanne_cookie)
    await talking.type("Voor het intrekken. ")
    await talking.wait_for(talking.all_stored, timeout=CONVERGE)
    await silent.wait_for(lambda: "Voor het intrekken." in str(silent.text), CONVERGE)
    stream = _Stream(sanne_http, f"/cases/{region.case_id}/live")
    try:
        await asyncio.wait_for(stream.opened.wait(), CONVERGE)
        watcher = await pyclient(region.a.ws, document, session_cookie(fatima_a))
        await watcher.wait_for(lambda: "Voor het intrekken." in str(watcher.text), CONVERGE)

        response = await post_form(
            fatima_a,
            f"/cases/{region.case_id}/participants/{region.members['Sanne']}/revoke",
            {},
        )
        assert response.status_code == 303, f"revoking on A answered {response.status_code}"
        # Sent once the revocation is committed on A, perhaps before B has closed the socket.
        with contextlib.suppress(websockets.ConnectionClosed):
            await talking.type("NA HET INTREKKEN")

        # The silent socket sends nothing: only the revocation relayed from A can close it.
        for name, socket in (("listening", silent), ("writing", talking)):
            try:
                code = await socket.wait_closed(timeout=20)
            except TimeoutError:
                pytest.fail(
                    f"20 s after the revocation on A, her {name} socket on B is still open"
                    f"{region.logs()}"
                )
            assert code == 4001, f"her {name} socket on B closed with {code}, not 4001"
        try:
            await asyncio.wait_for(stream.ended.wait(), 20)
        except TimeoutError:
            pytest.fail(
                "20 s after the revocation on A, her plan's event stream on B is still open"
                f"{region.logs()}"
            )
    finally:
        await stream.aclose()
    for name, ws_base in (("B", region.b.ws), ("A", region.a.ws)):
        try:
            await pyclient(ws_base, document, sanne_cookie)
        except websockets.InvalidStatus:
            continue
        pytest.fail(f"her revoked session opened a socket on worker {name} again")

    # The coordinator writes after the close, on B: once fresh readers on A and B have that,
    # B has handled everything Sanne's socket carried before it.
    fatima_on_b = await pyclient(region.b.ws, document, session_cookie(fatima_b))
    await fatima_on_b.type("Daarna. ")
    await fatima_on_b.wait_for(fatima_on_b.all_stored, timeout=CONVERGE)
    for name, ws_base, who in (("A", region.a.ws, fatima_a), ("B", region.b.ws, fatima_b)):
        seen = await _fresh_text(pyclient, ws_base, document, session_cookie(who), "Daarna.")
        assert "Voor het intrekken." in seen, f"a fresh reader on {name} lost what she wrote before"
        assert "NA HET INTREKKEN" not in seen, (
            f"a fresh reader on {name} reads what she sent after the revocation: {seen!r}"
        )
    stored = await _stored_text(region, document)
    assert "Voor het intrekken." in stored
    assert "NA HET INTREKKEN" not in stored, (
        f"the database stored what she sent after the revocation: {stored!r}"
    )


# -- a browser pinned to worker B ---------------------------------------------------------------


@pytest.fixture(scope="module")
async def linda_on_b(region: Region, chromium: Browser) -> AsyncIterator[BrowserContext]:
    """Linda's phone, talking to worker B only: she claimed her invitation there."""
    context: BrowserContext = await chromium.new_context(locale="nl-NL")
    context.set_default_timeout(20_000)
    page = await context.new_page()
    await page.goto(f"{region.b.url}/uitnodiging/{region.invitations['Linda']}")
    await page.get_by_role("button", name="Doorgaan").click()
    await page.wait_for_url(lambda url: "/uitnodiging" not in url)
    await page.close()
    yield context
    await context.close()


async def _listening(page: Page) -> None:
    """Until the page listens to its live channel (server-sent events)."""
    await page.wait_for_function(
        "() => [...document.querySelectorAll('[sse-connect]')].some("
        "e => e['htmx-internal-data'] && e['htmx-internal-data'].sseEventSource"
        " && e['htmx-internal-data'].sseEventSource.readyState === 1)"
    )
    # A page that reconnects its live channel fetches every block again (live.js): count
    # reconnects, so a block that caught up that way is not taken for a relayed event.
    await page.evaluate(
        "() => { window.kringNoReload = true; window.kringReopened = 0;"
        " document.addEventListener('htmx:sseOpen', () => { window.kringReopened += 1 }) }"
    )


async def _appears(region: Region, page: Page, selector: str, text: str, what: str) -> None:
    try:
        await page.locator(selector, has_text=text).wait_for(timeout=20_000)
    except PlaywrightTimeout:
        pytest.fail(f"{what}: after 20 s, {selector} on B does not show {text!r}{region.logs()}")
    assert await page.evaluate("() => window.kringNoReload") is True, "the page was reloaded"
    assert await page.evaluate("() => window.kringReopened") == 0, (
        "the page's live channel reconnected: it caught up by refetching, not by the event"
    )


def _soup(response: httpx.Response) -> BeautifulSoup:
    assert response.status_code == 200, f"{response.url} answered {response.status_code}"
    return BeautifulSoup(response.text, "html.parser")


async def test_a_browser_on_b_sees_an_agreement_posted_on_a(
    region: Region, linda_on_b: BrowserContext, http: list[httpx.AsyncClient]
) -> None:
    page = await linda_on_b.new_page()
    await page.goto(f"{region.b.url}/cases/{region.case_id}/plan")
    await page.locator("#plan-head").wait_for()
    await _listening(page)

    fatima = await region.session(region.a.url, region.coordinator)
    http.append(fatima)
    response = await post_form(
        fatima,
        f"/cases/{region.case_id}/plan/agreements",
        {
            "phase": "1",
            "what": "Sem eet elke woensdag bij oma Ria.",
            "who_does": "oma Ria",
            "checker": "Linda",
        },
    )
    assert response.status_code == 303, f"the agreement on A answered {response.status_code}"
    await _appears(
        region, page, "#agreements-1", "elke woensdag bij oma Ria", "an agreement posted on A"
    )


async def test_a_browser_on_b_follows_the_chairs_focus_set_on_a(
    region: Region, linda_on_b: BrowserContext, http: list[httpx.AsyncClient]
) -> None:
    fatima = await region.session(region.a.url, region.coordinator)
    http.append(fatima)
    meetings = f"/cases/{region.case_id}/meetings"
    chair = _soup(await fatima.get(meetings)).select_one("select[name=chair_id] option[selected]")
    assert chair is not None, "the meeting form offers no chair"
    response = await post_form(
        fatima,
        meetings,
        {
            "title": "Gezinsplanoverleg",
            "starts_at": "2026-12-03T14:00",
            "place": "Bij het gezin thuis",
            "chair_id": str(chair["value"]),
        },
    )
    assert response.status_code == 303, f"planning the meeting answered {response.status_code}"
    meeting = urlsplit(response.headers["location"]).path
    opening = _soup(await fatima.get(meeting)).select_one(
        "form[action$='/open'] input[name=version]"
    )
    assert opening is not None, "the planned meeting offers no 'open' form"
    response = await post_form(fatima, f"{meeting}/open", {"version": str(opening["value"])})
    assert response.status_code == 303, f"opening the meeting answered {response.status_code}"

    page = await linda_on_b.new_page()
    await page.goto(f"{region.b.url}{meeting}")
    await page.locator("#meeting-h").wait_for()
    await _listening(page)

    # The chair puts an agenda point for everyone on the screen, on A.
    items = [
        li
        for li in _soup(await fatima.get(meeting)).select("#agenda li")
        if li.select_one("form[action$='/focus']") and not li.select_one(".audience-badge")
    ]
    assert len(items) >= 2, "the meeting's agenda has fewer than two points to show"
    item = items[1]
    anchor = item.select_one("a")
    form = item.select_one("form[action$='/focus']")
    assert anchor is not None and form is not None
    title = anchor.get_text(strip=True)
    assert await page.locator("#agenda li.focus", has_text=title).count() == 0
    data = {
        str(i["name"]): str(i.get("value", ""))
        for i in form.select("input")
        if i.get("name") != "csrf_token"
    }
    response = await post_form(fatima, str(form["action"]), data)
    assert response.status_code == 303, f"setting the focus on A answered {response.status_code}"

    await _appears(region, page, "#meeting-now", title, "the chair's focus set on A")
    await _appears(region, page, "#agenda li.focus", title, "the chair's focus set on A")


# -- sign-in throttling behind the balancer -----------------------------------------------------


def _from(region: Region, address: str) -> httpx.AsyncClient:
    """A client on its own address (any 127.x.y.z is this machine), through the balancer:
    the workers see HAProxy's address, and learn the client's from X-Forwarded-For."""
    return httpx.AsyncClient(
        base_url=region.balancer,
        transport=httpx.AsyncHTTPTransport(local_address=address),
        timeout=30,
    )


async def test_sign_in_throttling_counts_each_client_address_behind_the_balancer(
    region: Region, http: list[httpx.AsyncClient]
) -> None:
    guesser, colleague = _from(region, "127.0.0.2"), _from(region, "127.0.0.3")
    http += [guesser, colleague]
    # Each guess a different account: only the per-address limit can stop them.
    limit = SOURCE_FACTOR * Settings.login_max_failures
    answered_by: set[str] = set()
    for n in range(limit):
        response = await post_form(
            guesser, "/login", {"email": f"gok{n}@example.org", "password": "fout fout fout"}
        )
        assert response.status_code == 422, (
            f"guess {n + 1} of {limit} answered {response.status_code}, not 422 (wrong password)"
        )
        answered_by.add(response.headers.get("x-kring-worker", "?"))
    assert answered_by == {"a", "b"}, f"the guesses reached workers {answered_by}, not both"

    real = {"email": region.coordinator, "password": PASSWORD}
    response = await post_form(guesser, "/login", real)
    assert response.status_code == 429, (
        f"after {limit} wrong guesses from one address, signing in from it answered "
        f"{response.status_code}, not 429{region.logs()}"
    )
    # A header of its own does not make the guesser someone else: HAProxy appends the real
    # address, and the workers believe only what their trusted proxy added.
    spoofed = await post_form(guesser, "/login", real, headers={"X-Forwarded-For": "203.0.113.9"})
    assert spoofed.status_code == 429, (
        f"a forged X-Forwarded-For escaped the throttle ({spoofed.status_code})"
    )
    response = await post_form(colleague, "/login", real)
    assert response.status_code == 303, (
        f"a colleague on another address could not sign in ({response.status_code}): "
        f"the throttle counts the balancer, not the client{region.logs()}"
    )
    db = Database(region.database_url)
    try:
        async with db.read() as session:
            sources = set(await session.scalars(select(LoginFailure.source).distinct()))
    finally:
        await db.dispose()
    assert sources == {"127.0.0.2"}, f"failures were recorded for {sources}, not the guesser"
