"""Resilience in the room: a phone drops off the Wi-Fi mid-edit, keeps typing, comes back -
nothing lost, nothing twice; the shared screen loses its connection and catches up by itself.

Each device reaches the server through its own proxy whose network the test cuts (the browser
sees its websocket and event stream die mid-stream, as when Wi-Fi goes)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.conftest import PHONE, DemoServer, run_demo, screenshot, sign_in
from tests.e2e.proxy import Proxy, free_port


@pytest.fixture(scope="module")
def room(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[DemoServer, Proxy, Proxy]]:
    """A demo behind two proxies: one for Linda's phone, one for the shared screen."""
    phone_port, screen_port = free_port(), free_port()
    # The chair's laptop talks to the server itself (run_demo allows its own address too).
    with run_demo(
        tmp_path_factory.mktemp("offline") / "demo",
        base_url=f"http://127.0.0.1:{phone_port}",
        allowed_origins=(f"http://127.0.0.1:{screen_port}",),
    ) as server, Proxy(server.port, phone_port) as phone, Proxy(server.port, screen_port) as screen:
        yield server, phone, screen


def _text(page, title: str) -> str:  # type: ignore[no-untyped-def]
    """The section's shared text as this browser's Yjs document holds it."""
    room = page.locator(".plan-section", has_text=title).locator("[data-document]")
    return str(
        page.evaluate(
            "room => window.kringEditors.get(room).doc.getText('text').toString()",
            room.get_attribute("data-document"),
        )
    )


def test_a_phone_off_the_wifi_keeps_its_edits_and_merges_them(room, new_context):
    server, phone_net, screen_net = room
    phone_base = f"http://127.0.0.1:{phone_net.port}"
    linda = new_context(**PHONE).new_page()
    linda.goto(server.invitations["Linda Bakker"].replace(server.base_url, phone_base))
    linda.get_by_role("button", name="Doorgaan").click()
    linda.get_by_role("link", name="Naar het gezinsplan").click()
    linda.get_by_role("link", name="Doe mee").click()
    meeting_path = linda.url.removeprefix(phone_base)
    mine = linda.locator(".plan-section", has_text="Zo ziet Linda Bakker het")
    status = mine.locator("[data-save-status]")
    mine.locator('[data-save-status][data-state="saved"]').wait_for()

    # The chair's laptop and the shared screen, each on their own network.
    chair = new_context().new_page()
    sign_in(chair, server.base_url, "fatima@demo.kring.nl")
    chair.goto(server.base_url + meeting_path)
    screen_base = f"http://127.0.0.1:{screen_net.port}"
    screen = new_context(viewport={"width": 1600, "height": 900}).new_page()
    sign_in(screen, screen_base, "joost@demo.kring.nl")
    screen.goto(screen_base + meeting_path + "/scherm")
    screen.locator("#screen-focus h2").wait_for()

    mine.locator(".cm-content").click()
    linda.keyboard.press("Control+End")
    linda.keyboard.type(" Eerst dit.")
    mine.locator('[data-save-status][data-state="saved"]').wait_for()

    # Off the Wi-Fi, mid-edit: she keeps typing; the status says it is not saved yet.
    phone_net.drop()
    screen_net.drop()
    mine.locator('[data-save-status][data-state="offline"]').wait_for()
    linda.keyboard.type(" Offline getypt.")
    assert status.get_attribute("data-state") == "offline"
    # Meanwhile the chair types in the same text, and puts something else on the screen.
    theirs = chair.locator(".plan-section", has_text="Zo ziet Linda Bakker het")
    theirs.locator(".cm-content", has_text="Eerst dit.").wait_for()
    theirs.locator(".cm-content").click()
    chair.keyboard.press("Control+Home")
    chair.keyboard.type("Fatima: ")
    theirs.locator('[data-save-status][data-state="saved"]').wait_for()
    chair.locator("#agenda li", has_text="Zorgen en krachten").get_by_role(
        "button", name="Op het scherm"
    ).click()
    chair.locator("#agenda li.focus", has_text="Zorgen en krachten").wait_for()
    screenshot(linda, "offline-phone")

    # Back on the network: both edits everywhere, each exactly once.
    phone_net.restore()
    screen_net.restore()
    mine.locator('[data-save-status][data-state="saved"]').wait_for(timeout=20_000)
    theirs.locator(".cm-content", has_text="Offline getypt.").wait_for()
    mine.locator(".cm-content", has_text="Fatima: ").wait_for()
    for page in (linda, chair):
        text = _text(page, "Zo ziet Linda Bakker het")
        assert text.count("Eerst dit.") == 1, text
        assert text.count("Offline getypt.") == 1, text
        assert text.count("Fatima: ") == 1, text
    assert _text(linda, "Zo ziet Linda Bakker het") == _text(chair, "Zo ziet Linda Bakker het")
    # The shared screen reconnected by itself and shows what the chair chose meanwhile.
    screen.locator("#screen-focus h2", has_text="Zorgen en krachten").wait_for(timeout=20_000)
    # A reload shows the same text: it was stored, not just shown.
    chair.reload()
    chair.locator(".plan-section", has_text="Zo ziet Linda Bakker het").locator(
        ".cm-content", has_text="Offline getypt."
    ).wait_for()
