"""A whole family-plan meeting in four real browsers: the chair's laptop, the shared screen,
and two phones - Linda with her personal link, Noor (13) with the meeting's code through the
lobby. They co-write, record an agreement, a score and dissent; the chair closes the meeting;
the minutes (page, Markdown, PDF) hold all of it."""

from __future__ import annotations

import io
import re

from tests.e2e.conftest import PHONE, screenshot, sign_in


def _pdf_text(data: bytes) -> str:
    from pypdf import PdfReader

    return " ".join(" ".join(p.extract_text().split()) for p in PdfReader(io.BytesIO(data)).pages)


def _live(page) -> None:  # type: ignore[no-untyped-def]
    """Wait until the page listens to its live channel."""
    page.wait_for_function(
        "() => [...document.querySelectorAll('[sse-connect]')].some("
        "e => e['htmx-internal-data'] && e['htmx-internal-data'].sseEventSource"
        " && e['htmx-internal-data'].sseEventSource.readyState === 1)"
    )


def _type_in(page, section_title: str, text: str) -> None:  # type: ignore[no-untyped-def]
    section = page.locator(".plan-section", has_text=section_title)
    section.locator('[data-save-status][data-state="saved"]').wait_for()
    section.locator(".cm-content").click()
    page.keyboard.press("Control+End")
    page.keyboard.type(text)
    section.locator('[data-save-status][data-state="saved"]').wait_for()


def test_a_whole_meeting_with_a_shared_screen_and_two_phones(demo_server, new_context):
    base = demo_server.base_url
    # The chair's laptop.
    chair = new_context(viewport={"width": 1280, "height": 900}).new_page()
    sign_in(chair, base, "fatima@demo.kring.nl")
    chair.get_by_role("link", name="Familie Bakker").click()
    chair.get_by_role("link", name="Overleggen").first.click()
    chair.get_by_role("link", name="Gezinsplanoverleg 2").click()
    chair.locator("#meeting-h").wait_for()
    meeting_url = chair.url
    _live(chair)

    # The shared screen (the projector's laptop, signed in too).
    screen = new_context(viewport={"width": 1600, "height": 900}).new_page()
    sign_in(screen, base, "fatima@demo.kring.nl")
    screen.goto(meeting_url + "/scherm")
    code = screen.locator(".screen-code").inner_text().strip()
    assert code == demo_server.meeting_code
    _live(screen)

    # Linda's phone, with her personal link: the plan tells her a meeting is on.
    linda = new_context(**PHONE).new_page()
    linda.goto(demo_server.invitations["Linda Bakker"])
    linda.get_by_role("button", name="Doorgaan").click()
    linda.get_by_role("link", name="Naar het gezinsplan").click()
    linda.get_by_role("link", name="Doe mee").click()
    linda.locator("#meeting-h").wait_for()
    _live(linda)
    screen.locator("#screen-people", has_text="Linda Bakker").wait_for()

    # Noor's phone scans the QR code (the code travels after '#', never to the server).
    noor = new_context(**PHONE).new_page()
    noor.goto(f"{base}/meedoen#{code}")
    assert noor.get_by_label("Code van het scherm").input_value() == code
    noor.get_by_label("Je naam").fill("Noor")
    noor.get_by_role("button", name="Naar de wachtkamer").click()
    noor.get_by_text("Je wacht tot de voorzitter je binnenlaat").wait_for()
    assert "Veiligheidsafspraken" not in noor.content()

    # The chair sees her in the lobby without reloading, and lets her in as Noor.
    waiting = chair.locator("#lobby .card", has_text="Noor")
    waiting.wait_for()
    waiting.get_by_label("Wie is dit?").select_option(label="Noor (dochter)")
    waiting.get_by_role("button", name="Toelaten", exact=True).click()
    noor.get_by_role("button", name="Doorgaan naar het overleg").click()
    noor.locator("#meeting-h").wait_for()
    _live(noor)
    screen.locator("#screen-people", has_text="Noor").wait_for()

    # They co-write: each in their own words, and the chair sees it live.
    _type_in(linda, "Zo ziet Linda Bakker het", " Ik wil dat we weer rustig praten.")
    _type_in(noor, "Zo ziet Noor het", " Ik slaap nu beter.")
    chair.locator(".plan-section", has_text="Zo ziet Noor het").locator(
        ".cm-content", has_text="Ik slaap nu beter."
    ).wait_for()

    # The chair puts everyone's words on the shared screen; it follows.
    item = chair.locator("#agenda li", has_text="Zo ziet ieder het")
    item.get_by_role("button", name="Op het scherm").click()
    screen.locator("#screen-focus h2", has_text="Zo ziet ieder het").wait_for()
    screen.locator("#screen-focus .cm-content", has_text="Ik slaap nu beter.").wait_for()

    # Linda records an agreement from her phone, in the meeting.
    phase1 = linda.locator("#phase-1")
    phase1.get_by_text("Afspraak toevoegen").click()
    phase1.get_by_label("Wat spreken we af?").fill("Op zondag gaan we samen wandelen.")
    phase1.get_by_label("Wie doet het?").fill("Linda en Erik")
    phase1.get_by_label("Wie controleert of het lukt?").fill("Noor")
    phase1.get_by_role("button", name="Afspraak vastleggen").click()
    linda.locator("#meeting-h").wait_for()
    # Noor follows the chair: when the chair moves on, her phone goes there too.
    noor.get_by_label("Volg de voorzitter").check()
    noor.evaluate("() => window.scrollTo(0, 0)")
    item = chair.locator("#agenda li", has_text="Veiligheidsafspraken")
    item.get_by_role("button", name="Op het scherm").click()
    screen.locator("#screen-focus", has_text="Op zondag gaan we samen wandelen.").wait_for()
    noor.wait_for_function(
        "() => { const r = document.getElementById('agreements-1').getBoundingClientRect();"
        " return r.top < window.innerHeight && r.bottom > 0 }"
    )

    # Noor gives her score (only her own: she cannot fill in anyone else's).
    noor.locator("#scores").get_by_text("Scores invullen").click()
    noor.locator("#scores").get_by_label("Noor", exact=True).fill("6")
    noor.get_by_role("button", name="Scores vastleggen").click()
    noor.locator("#meeting-h").wait_for()

    # Linda disagrees with the open decision (organised dissent is for everyone).
    linda.locator("#phase-1").get_by_role("link", name="Vrijwillig kader voortzetten?").click()
    linda.get_by_text("Tegenspreken").click()
    linda.get_by_label("Waarom ben je het er niet mee eens?").fill(
        "Erik moet eerst hulp krijgen voor zijn stress, anders gaat het weer mis."
    )
    linda.get_by_role("button", name="Tegenspraak vastleggen").click()
    linda.get_by_role("link", name="Terug naar het overleg").wait_for()

    screenshot(screen, "meeting-shared-screen")
    screenshot(noor, "meeting-phone-noor")

    # The chair closes the meeting; Noor's guest session ends with it.
    chair.reload()
    chair.get_by_text("Overleg sluiten", exact=True).click()
    chair.get_by_role("button", name="Overleg sluiten en verslag maken").click()
    chair.locator("#min-h").wait_for()
    screen.locator("#screen-focus", has_text="Het overleg is afgelopen").wait_for()
    noor.reload()
    assert "/login" in noor.url or "bestaat niet" in noor.content()

    minutes = chair.locator("article.minutes")
    for expected in (
        "Linda Bakker",
        "Noor",
        "Ik wil dat we weer rustig praten.",
        "Ik slaap nu beter.",
        "Op zondag gaan we samen wandelen.",
        "Erik moet eerst hulp krijgen voor zijn stress",
    ):
        assert expected in minutes.inner_text(), expected
    assert re.search(r"Noor:\s*6", minutes.inner_text())

    request = chair.context.request
    markdown = request.get(chair.url + ".md").text()
    pdf = _pdf_text(request.get(chair.url + ".pdf").body())
    for expected in (
        "Ik slaap nu beter.",
        "Op zondag gaan we samen wandelen.",
        "Erik moet eerst hulp krijgen voor zijn stress",
        "Noor: 6",
    ):
        assert expected in markdown, expected
        assert expected in pdf, expected
    screenshot(chair, "meeting-minutes")
