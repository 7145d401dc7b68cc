"""People's Markdown is rendered one way everywhere, and nothing it holds is ever loaded
(issue 14, item 4): no images, no script links, raw HTML stays text, and a text that cannot be
laid out never breaks a page or an export."""

from __future__ import annotations

import io
from pathlib import Path

from bs4 import BeautifulSoup
from pypdf import PdfReader

from tests.meetings.test_meetings import _close, _open, _pdf_text, plan_meeting
from tests.web.test_plan import as_role
from workspace.config import ROOT
from workspace.markdown import to_html
from workspace.pdf import markdown_pdf

LOCAL_PNG = ROOT / "docs" / "screenshot.png"


def _images(data: bytes) -> int:
    count = 0
    for page in PdfReader(io.BytesIO(data)).pages:
        resources = page.get("/Resources") or {}
        xobjects = resources.get("/XObject") or {}
        count += sum(1 for x in xobjects.values() if x.get_object().get("/Subtype") == "/Image")
    return count


def test_markdown_makes_no_images_scripts_or_markup() -> None:
    html = to_html(
        f"![plaatje]({LOCAL_PNG}) ![x](http://127.0.0.1:9/pixel) "
        "[klik](javascript:alert(1)) [data](data:image/png;base64,AAAA) "
        "[web](https://example.org) <b hx-get='/x' data-pwn>vet</b>\n\n"
        "| a | b |\n|---|---|\n| 1 | 2 |\n"
    )
    page = BeautifulSoup(html, "html.parser")
    assert page.select("img, [data-pwn], [hx-get], script") == []
    assert [a["href"] for a in page.select("a")] == ["https://example.org"]
    assert page.select_one("a")["rel"] == ["nofollow", "noopener", "noreferrer"]
    assert "[plaatje]" in page.text and "&lt;b" in html
    assert page.select_one("table td").text == "1"


def test_a_pdf_never_embeds_what_an_image_names() -> None:
    assert Path(LOCAL_PNG).exists()
    data = markdown_pdf(f"# Verslag\n\n![geheim]({LOCAL_PNG})\n\n![x](/nonexistent.png)")
    assert _images(data) == 0
    assert "[geheim]" in _pdf_text(data)


def test_a_table_in_a_pdf_is_a_table_not_pipes() -> None:
    text = _pdf_text(markdown_pdf("| Wie | Wat |\n|---|---|\n| Kees | belt |\n"))
    assert "|" not in text and "Kees" in text


async def test_minutes_with_an_image_in_a_reaction_still_open_for_everyone(
    browser, world, db, settings
):
    chair = browser()
    await chair.login(world.coordinator.email)
    url = await plan_meeting(chair, world)
    await _open(chair, url)
    minutes_url = await _close(chair, url)
    linda = await as_role("household", browser, world, settings, db)
    response = await linda.post(
        minutes_url + "/reacties", {"text": f"Kijk: ![x](/nonexistent.png) ![y]({LOCAL_PNG})"}
    )
    assert response.status_code == 303
    for b in (chair, linda):
        for suffix in ("", ".md", ".pdf"):
            response = await b.get(minutes_url + suffix)
            assert response.status_code == 200, suffix
        assert _images(response.content) == 0
