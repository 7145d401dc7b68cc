"""The case's shared notes on the page: editor wiring, the no-JavaScript form, stale saves."""

from __future__ import annotations

import re

from bs4 import BeautifulSoup

from workspace.notes import document_name


def _notes(response):
    return BeautifulSoup(response.text, "html.parser").find(id="notes")


async def test_case_page_names_the_document_and_the_participants_rights(browser, world):
    coordinator, observer = browser(), browser()
    await coordinator.login(world.coordinator.email)
    await observer.login(world.observer.email)
    editor = _notes(await coordinator.get(f"/cases/{world.case.id}")).find(
        attrs={"data-document": True}
    )
    assert editor["data-document"] == document_name(world.case.id)
    assert editor["data-readonly"] == "false" and editor["data-user-name"] == "Fatima"
    assert re.fullmatch(r"#[0-9a-f]{6}", editor["data-user-color"])
    read_only = _notes(await observer.get(f"/cases/{world.case.id}")).find(
        attrs={"data-document": True}
    )
    assert read_only["data-readonly"] == "true"
    assert "textarea" not in str(read_only)  # no form to write with, not even without JS


async def test_saving_without_javascript_reaches_live_editors(browser, world, connect, db):
    live_client = await connect("household", world)
    b = browser()
    await b.login(world.coordinator.email)
    page = _notes(await b.get(f"/cases/{world.case.id}"))
    version = page.find("input", {"name": "version"})["value"]
    response = await b.post(
        f"/cases/{world.case.id}/notes",
        {"text": "# Afspraken\n\n- Erik belt Kees", "version": version},
    )
    assert response.status_code == 303 and response.headers["location"].endswith("#notes")
    await live_client.wait_for(lambda: str(live_client.text) == "# Afspraken\n\n- Erik belt Kees")
    rendered = _notes(await b.get(f"/cases/{world.case.id}")).find(class_="notes-rendered")
    assert rendered.find("h1").text == "Afspraken"  # markdown, rendered on the server


async def test_a_stale_form_is_refused_and_keeps_what_was_typed(browser, world, connect):
    b = browser()
    await b.login(world.coordinator.email)
    version = _notes(await b.get(f"/cases/{world.case.id}")).find("input", {"name": "version"})[
        "value"
    ]
    other = await connect("household", world)
    await other.type("Intussen geschreven door Linda. ")
    await other.wait_for(lambda: other.stored is not None and len(other.stored) > 1)
    response = await b.post(
        f"/cases/{world.case.id}/notes", {"text": "Mijn versie", "version": version}
    )
    assert response.status_code == 409
    notes = _notes(response)
    assert "intussen veranderd" in notes.find(class_="conflict").text
    assert notes.find("textarea").text == "Mijn versie"
    assert "Intussen geschreven door Linda." in notes.find(class_="notes-rendered").text
    assert str(other.text) == "Intussen geschreven door Linda. "


async def test_raw_html_in_notes_is_never_rendered(browser, world, app):
    await app.state.realtime.replace_text(
        document_name(world.case.id), "<script>alert(1)</script> **vet**", "participant:x"
    )
    b = browser()
    await b.login(world.coordinator.email)
    rendered = _notes(await b.get(f"/cases/{world.case.id}")).find(class_="notes-rendered")
    assert rendered.find("script") is None and rendered.find("strong").text == "vet"


async def test_read_only_participants_cannot_save_by_form(browser, world):
    b = browser()
    await b.login(world.observer.email)
    response = await b.post(f"/cases/{world.case.id}/notes", {"text": "x", "version": ""})
    assert response.status_code == 404


async def test_server_edit_keeps_the_common_text(app, world):
    server = app.state.realtime
    name = document_name(world.case.id)
    await server.replace_text(name, "Linda en Erik praten over geld.", "a")
    await server.replace_text(name, "Linda en Erik praten alleen bij de schuldhulp over geld.", "b")
    assert await server.text(name) == "Linda en Erik praten alleen bij de schuldhulp over geld."
    history = await server.store.history(name)
    assert [h[1] for h in history] == ["b", "a"]


async def test_server_edit_of_text_with_accents_and_emoji(app, world):
    """pycrdt counts UTF-8 bytes; a server-side edit must still change the right characters."""
    server = app.state.realtime
    name = document_name(world.case.id)
    await server.replace_text(name, "één twee drie, café ☕ en oma’s thee", "a")
    await server.replace_text(name, "één vier drie, café ☕ met oma’s thee 🍵", "b")
    assert await server.text(name) == "één vier drie, café ☕ met oma’s thee 🍵"
    await server.replace_text(name, "Één drie", "a")
    assert await server.text(name) == "Één drie"
