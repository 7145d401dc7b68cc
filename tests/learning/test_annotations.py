"""Annotations anchored to a copy's co-edited text: two real Yjs clients edit at the same
time, the annotation keeps to its words, and shows as detached (with its quote) once they
are deleted."""

from __future__ import annotations

import asyncio
import uuid

from sqlalchemy import select

from realtime import protocol
from tests.learning.conftest import MEHMET, SANNE, make_copy, soup
from workspace.learning import copy_document
from workspace.learning.models import Annotation, CopySection

QUOTE = "niemand luistert als ik over geld begin"


async def _father_section(db, copy_id: str) -> CopySection:
    async with db.begin() as session:
        section = await session.scalar(
            select(CopySection).where(
                CopySection.copy_id == uuid.UUID(copy_id), CopySection.title == "Zo ziet vader het"
            )
        )
    assert section is not None
    return section


def _byte(text: str, index: int) -> int:
    return len(text[:index].encode())


async def _insert(client, index: int, words: str) -> None:
    """Type ``words`` at ``index`` (a str index) as a y-websocket client would."""
    before = client.doc.get_state()
    current = str(client.text)
    client.text.insert(_byte(current, index), words)
    await client.send(protocol.sync_update(client.doc.get_update(before)))


async def _delete(client, start: int, end: int) -> None:
    before = client.doc.get_state()
    current = str(client.text)
    del client.text[_byte(current, start) : _byte(current, end)]
    await client.send(protocol.sync_update(client.doc.get_update(before)))


def _annotation_view(page, annotation_id: uuid.UUID) -> tuple[list[str], object]:
    marks = []
    for mark in page.select("mark.annotated"):
        for sup in mark.select("sup"):
            sup.extract()
        marks.append(mark.get_text())
    return marks, page.select_one(f"#opmerking-{annotation_id}")


async def test_annotations_survive_concurrent_edits_and_detach_when_their_words_go(
    app, db, demo, demo_group, signed_in, yjs
):
    copy_id = await make_copy(signed_in, demo, demo_group)
    section = await _father_section(db, copy_id)
    sanne = await signed_in(SANNE)
    response = await sanne.post(
        f"/intervisie/kopieen/{copy_id}/opmerkingen",
        {
            "section_id": str(section.id),
            "quote": QUOTE,
            "occurrence": "1",
            "body": "Hier zit een ingang: hij wil gehoord worden.",
        },
    )
    assert response.status_code == 303
    async with db.begin() as session:
        annotation = await session.scalar(
            select(Annotation).where(Annotation.section_id == section.id)
        )
    assert annotation.start["assoc"] == 0 and annotation.end["assoc"] == -1

    document = copy_document(uuid.UUID(copy_id), section.id)
    one = await yjs(SANNE, document)
    two = await yjs(MEHMET, document)
    for client in (one, two):
        await client.wait_for(lambda c=client: QUOTE in str(c.text))
    original = str(one.text)
    # At the same moment: one writes before the quote, the other inside it.
    await asyncio.gather(
        _insert(one, 0, "Eerlijk gezegd, één ding: "),
        _insert(two, original.index("luistert"), "écht "),
    )
    expected = "niemand écht luistert als ik over geld begin"
    for client in (one, two):
        await client.wait_for(
            lambda c=client: expected in str(c.text) and str(c.text).startswith("Eerlijk")
        )
    assert str(one.text) == str(two.text)

    page = soup(await sanne.get(f"/intervisie/kopieen/{copy_id}"))
    marks, item = _annotation_view(page, annotation.id)
    assert expected in marks
    assert "detached" not in item["class"]

    # The quoted words are deleted: the annotation stays, detached, with its quote.
    now = str(one.text)
    start = now.index("maar niemand")
    await _delete(one, start, now.index("begin") + len("begin"))
    await two.wait_for(lambda: "luistert" not in str(two.text))
    page = soup(await (await signed_in(MEHMET)).get(f"/intervisie/kopieen/{copy_id}"))
    marks, item = _annotation_view(page, annotation.id)
    assert all("luistert" not in m for m in marks)
    assert "detached" in item["class"]
    assert item.select_one("blockquote.quote").text == QUOTE
    assert "Losgeraakt" in item.text


async def test_an_annotation_on_words_that_are_not_there_is_refused_with_a_message(
    db, demo, demo_group, signed_in
):
    copy_id = await make_copy(signed_in, demo, demo_group)
    section = await _father_section(db, copy_id)
    sanne = await signed_in(SANNE)
    response = await sanne.post(
        f"/intervisie/kopieen/{copy_id}/opmerkingen",
        {"section_id": str(section.id), "quote": "Erik zei", "occurrence": "1", "body": "?"},
    )
    assert response.status_code == 422
    page = soup(response)
    assert "staan niet (meer) zo in de tekst" in page.select_one("#a-quote-e").text
    assert page.select_one("#a-quote").text == "Erik zei"
    response = await sanne.post(
        f"/intervisie/kopieen/{copy_id}/opmerkingen",
        {"section_id": str(section.id), "quote": QUOTE, "occurrence": "2", "body": "tweede keer"},
    )
    assert response.status_code == 422


async def test_a_second_occurrence_is_anchored_to_the_second(db, demo, demo_group, signed_in, app):
    copy_id = await make_copy(signed_in, demo, demo_group)
    async with db.begin() as session:
        section = await session.scalar(
            select(CopySection).where(
                CopySection.copy_id == uuid.UUID(copy_id),
                CopySection.title == "Veiligheidsafspraken",
            )
        )
    text = await app.state.realtime.text(copy_document(uuid.UUID(copy_id), section.id))
    assert text.count("oma") >= 2
    sanne = await signed_in(SANNE)
    response = await sanne.post(
        f"/intervisie/kopieen/{copy_id}/opmerkingen",
        {"section_id": str(section.id), "quote": "oma", "occurrence": "2", "body": "tweede"},
    )
    assert response.status_code == 303
    page = soup(await sanne.get(f"/intervisie/kopieen/{copy_id}"))
    box = page.select_one(f'.copy-text[data-section="{section.id}"]')
    before_mark = box.decode_contents().split("<mark")[0]
    assert before_mark.count("oma") == 1
