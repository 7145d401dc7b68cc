"""Learning in real browsers: the shared screen of an intervision session follows the step
without a reload, and selecting words in a copy fills the annotation form."""

from __future__ import annotations

from tests.e2e.conftest import screenshot, sign_in


def _open_session(page, base_url: str, email: str) -> str:  # type: ignore[no-untyped-def]
    sign_in(page, base_url, email)
    page.get_by_role("link", name="Leren").click()
    page.get_by_role("link", name="Intervisie", exact=True).click()
    page.get_by_role("link", name="Intervisie lokaal team Zuid").click()
    page.get_by_role("link", name="Incidentmethode").click()
    return str(page.url)


def _listening(page) -> None:  # type: ignore[no-untyped-def]
    page.wait_for_function(
        "() => [...document.querySelectorAll('[sse-connect]')].some("
        "e => e['htmx-internal-data'] && e['htmx-internal-data'].sseEventSource"
        " && e['htmx-internal-data'].sseEventSource.readyState === 1)"
    )


def test_the_shared_screen_follows_the_step_without_a_reload(demo_server, new_context):
    sanne = new_context().new_page()
    session_url = _open_session(sanne, demo_server.base_url, "sanne@demo.kring.nl")
    mehmet = new_context().new_page()
    sign_in(mehmet, demo_server.base_url, "mehmet@demo.kring.nl")
    errors: list[str] = []
    mehmet.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    mehmet.goto(f"{session_url}/scherm")
    _listening(mehmet)
    mehmet.evaluate("() => { window.kringNoReload = true }")
    assert mehmet.locator(".screen-title").inner_text() == "Informatievragen"

    sanne.goto(f"{session_url}/scherm")
    sanne.get_by_role("button", name="Volgende stap").click()
    sanne.locator(".screen-title", has_text="Vraag scherp").wait_for()

    mehmet.locator(".screen-title", has_text="Vraag scherp").wait_for(timeout=5_000)
    assert mehmet.evaluate("() => window.kringNoReload") is True, "the screen was reloaded"
    assert not errors, errors
    screenshot(mehmet, "intervision-shared-screen")


def test_selecting_words_in_a_copy_fills_the_annotation_form(demo_server, new_context):
    page = new_context().new_page()
    session_url = _open_session(page, demo_server.base_url, "anouk@demo.kring.nl")
    page.goto(session_url)
    box = page.locator(".copy-text", has_text="Het schreeuwen en het gooien met spullen")
    box.evaluate(
        """el => {
            const node = el.firstChild; const range = document.createRange();
            range.setStart(node, 4); range.setEnd(node, 14);
            const s = window.getSelection(); s.removeAllRanges(); s.addRange(range);
            document.dispatchEvent(new MouseEvent('mouseup'));
        }"""
    )
    form = page.locator("form.annotation-form")
    assert form.get_by_label("De woorden (precies zoals in de tekst)").input_value() == "schreeuwen"
    form.get_by_label("Je opmerking").fill("Wie schreeuwt er, volgens wie?")
    form.get_by_role("button", name="Opmerking plaatsen").click()
    page.locator("li.annotation", has_text="Wie schreeuwt er, volgens wie?").wait_for()
    assert page.locator("mark.annotated", has_text="schreeuwen").count() == 1
    screenshot(page, "intervision-session-annotated")


def test_the_manager_sees_the_teams_review(demo_server, new_context):
    page = new_context().new_page()
    sign_in(page, demo_server.base_url, "manager@demo.kring.nl")
    page.get_by_role("link", name="Leren").click()
    page.locator("svg.learning-chart").first.wait_for()
    assert "wachtlijst voor schuldhulp" in page.locator("#signalen").inner_text()
    assert "Erik" not in page.locator("main").inner_text()
    screenshot(page, "learning-manager-review")
