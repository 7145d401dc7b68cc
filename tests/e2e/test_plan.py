"""The family plan in real browsers: a record added by one participant appears on another's
screen without a reload, and a section is co-written live."""

from __future__ import annotations

from tests.e2e.conftest import PHONE, screenshot, sign_in


def _open_plan_on_phone(new_context, demo_server, name: str):  # type: ignore[no-untyped-def]
    """A family member's phone, through their personal invitation (each claims only once)."""
    page = new_context(**PHONE).new_page()
    page.goto(demo_server.invitations[name])
    page.get_by_role("button", name="Doorgaan").click()
    page.get_by_role("link", name="Naar het gezinsplan").click()
    page.locator("#plan-head").wait_for()
    return page


def test_an_agreement_added_by_one_appears_on_the_others_screen(demo_server, new_context):
    fatima = new_context().new_page()
    sign_in(fatima, demo_server.base_url, "fatima@demo.kring.nl")
    fatima.get_by_role("link", name="Familie Bakker").click()
    fatima.get_by_role("link", name="Naar het gezinsplan").click()
    linda = _open_plan_on_phone(new_context, demo_server, "Linda Bakker")
    # Wait until Linda's screen listens to the case's live channel.
    linda.wait_for_function(
        "() => [...document.querySelectorAll('[sse-connect]')].some("
        "e => e['htmx-internal-data'] && e['htmx-internal-data'].sseEventSource"
        " && e['htmx-internal-data'].sseEventSource.readyState === 1)"
    )
    linda.evaluate("() => { window.kringNoReload = true }")

    phase1 = fatima.locator("#phase-1")
    phase1.get_by_text("Afspraak toevoegen").click()
    phase1.get_by_label("Wat spreken we af?").fill("Sem mag elke woensdag bij oma Ria eten.")
    phase1.get_by_label("Wie doet het?").fill("oma Ria")
    phase1.get_by_label("Wie controleert of het lukt?").fill("Linda")
    phase1.get_by_role("button", name="Afspraak vastleggen").click()
    fatima.locator("#agreements-1", has_text="elke woensdag bij oma Ria").wait_for()

    linda.locator("#agreements-1", has_text="elke woensdag bij oma Ria").wait_for(timeout=5_000)
    assert linda.evaluate("() => window.kringNoReload") is True, "Linda's page was reloaded"
    screenshot(linda, "phone-linda-plan")


def test_a_form_with_an_error_keeps_what_was_typed(demo_server, new_context):
    fatima = new_context().new_page()
    sign_in(fatima, demo_server.base_url, "fatima@demo.kring.nl")
    fatima.get_by_role("link", name="Familie Bakker").click()
    fatima.get_by_role("link", name="Naar het gezinsplan").click()
    phase1 = fatima.locator("#phase-1")
    phase1.get_by_text("Afspraak toevoegen").click()
    phase1.get_by_label("Wat spreken we af?").fill("Kees belt elke zondag.")
    phase1.get_by_role("button", name="Afspraak vastleggen").click()
    phase1 = fatima.locator("#phase-1")
    phase1.get_by_text("Schrijf op wie het doet.").wait_for()
    assert phase1.get_by_label("Wat spreken we af?").input_value() == "Kees belt elke zondag."


def test_a_section_is_co_written_live(demo_server, new_context):
    fatima = new_context().new_page()
    sign_in(fatima, demo_server.base_url, "fatima@demo.kring.nl")
    fatima.get_by_role("link", name="Familie Bakker").click()
    fatima.get_by_role("link", name="Naar het gezinsplan").click()
    noor = _open_plan_on_phone(new_context, demo_server, "Noor")
    mine = noor.locator(".plan-section", has_text="Zo ziet Noor het")
    mine.locator('[data-save-status][data-state="saved"]').wait_for()
    mine.locator(".cm-content").click()
    noor.keyboard.press("Control+End")
    noor.keyboard.type(" En dat Sem huilt.")
    mine.locator('[data-save-status][data-state="saved"]').wait_for()
    theirs = fatima.locator(".plan-section", has_text="Zo ziet Noor het")
    theirs.locator(".cm-content", has_text="En dat Sem huilt.").wait_for()
    screenshot(noor, "phone-noor-plan")
    # Folded-away phases open no sockets until they are opened.
    assert fatima.evaluate("() => window.kringEditors.size") < 20


def test_typing_survives_someone_elses_save(demo_server, new_context):
    """Issue 19: when someone else saved, the block around Linda's half-filled form was
    replaced: her typed score was gone, the form folded, the focus on <body>."""
    fatima = new_context().new_page()
    sign_in(fatima, demo_server.base_url, "fatima@demo.kring.nl")
    fatima.get_by_role("link", name="Familie Bakker").click()
    fatima.get_by_role("link", name="Naar het gezinsplan").click()
    # (Erik's phone: each invitation is claimed once per demo, and Linda's is taken.)
    linda = _open_plan_on_phone(new_context, demo_server, "Erik Bakker")
    linda.wait_for_function(
        "() => [...document.querySelectorAll('[sse-connect]')].some("
        "e => e['htmx-internal-data'] && e['htmx-internal-data'].sseEventSource"
        " && e['htmx-internal-data'].sseEventSource.readyState === 1)"
    )
    scores = linda.locator("#scores")
    scores.get_by_text("Scores invullen").click()
    mine = scores.locator(".score-grid input").first
    mine.fill("4")

    question = fatima.locator("#scores")
    question.get_by_text("Een schaalvraag toevoegen").click()
    question.get_by_label("Vraag", exact=True).last.fill("Hoe gaat het met slapen?")
    question.get_by_role("button", name="Vraag toevoegen").click()
    fatima.locator("#scores", has_text="Hoe gaat het met slapen?").wait_for()

    # Linda hears of it, and is told; what she typed, her open form and her focus stay.
    linda.locator("#scores .changed-meanwhile").wait_for(timeout=5_000)
    assert mine.input_value() == "4"
    assert linda.locator("#scores details.add").first.evaluate("d => d.open") is True
    assert mine.evaluate("e => e === document.activeElement") is True
    # Once she is done (nothing unsaved, focus elsewhere), her block catches up.
    mine.fill("")
    linda.locator("#plan-head").click()
    linda.locator("#scores", has_text="Hoe gaat het met slapen?").wait_for(timeout=5_000)
    assert linda.locator("#scores .changed-meanwhile").count() == 0
