"""User text is data: titles, questions and agenda points someone typed reach every page as
text, never as markup (issue 14, item 1). The broad sweep over every field, in a browser, is
tests/e2e/test_payloads.py; this one pins the three places that passed user text to ``_()``."""

from __future__ import annotations

from bs4 import BeautifulSoup

from tests.conftest import World
from tests.meetings.test_meetings import plan_meeting

PAYLOAD = (
    '<b hx-post="/cases/x/participants" hx-vals=\'{"role":"coordinator"}\' '
    'hx-trigger="load" data-pwn="1">Afspraken</b>'
)


def injected(html: str) -> list[str]:
    """Elements a payload made: none may exist, whatever the page shows as text."""
    page = BeautifulSoup(html, "html.parser")
    return [str(e) for e in page.select("[data-pwn], [hx-vals]")]


async def test_a_section_title_question_and_agenda_point_stay_text(browser, world: World):
    b = browser()
    await b.login(world.coordinator.email)
    case = f"/cases/{world.case.id}"
    response = await b.post(f"{case}/plan/sections", {"phase": "1", "title": PAYLOAD, "audience": "all"})
    assert response.status_code == 303, response.text
    response = await b.post(f"{case}/plan/questions", {"question": PAYLOAD})
    assert response.status_code == 303, response.text
    meeting = await plan_meeting(b, world)
    page = BeautifulSoup((await b.get(meeting)).text, "html.parser")
    form = page.select_one("form[action$='/agenda']")
    response = await b.post(form["action"], {"title": PAYLOAD})
    assert response.status_code == 303, response.text

    for url in (f"{case}/plan", meeting, f"{case}/timeline"):
        response = await b.get(url)
        assert response.status_code == 200
        assert injected(response.text) == [], url
    plan = (await b.get(f"{case}/plan")).text
    # Shown, as the words that were typed.
    assert "hx-trigger=&#34;load&#34;" in plan or "hx-trigger=&quot;load&quot;" in plan
    export = (await b.get(f"{case}/plan.md")).text
    assert PAYLOAD in export  # Markdown is text; the renderer (html off) never makes it markup
