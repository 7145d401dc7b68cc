"""Pseudonymised copies through HTTP on a real database: made from the demo case, reviewed,
released, read by the group; nothing of the family in any field; no way back to the case."""

from __future__ import annotations

import json
import re
import uuid
from datetime import date, timedelta

import pytest
import websockets
from sqlalchemy import select, text, update

from tests.learning.conftest import (
    FATIMA,
    JOOST,
    MANAGER,
    MEHMET,
    SANNE,
    hidden,
    make_copy,
    soup,
)
from workspace.learning import copy_document
from workspace.learning.intervision import CHANGED, NOT_REVIEWED
from workspace.learning.models import Copy, CopySection
from workspace.models import AuditEvent, Organisation, Participant, Person, User

#: What identifies the Bakker family in the demo and must never reach a copy: every person's
#: and professional's name (and their parts), addresses, phone numbers, e-mail addresses,
#: dates of birth, the school, organisations and the case's title.
DEMO_ORIGINALS = [
    "Linda",
    "Bakker",
    "Erik",
    "Noor",
    "Sem",
    "Ria",
    "Hasan",
    "Kees",
    "Fatima",
    "Idrissi",
    "Joost",
    "de Boer",
    "Petra",
    "Smit",
    "Van Dijk",
    "Lindelaan",
    "3521",
    "Utrecht",
    "Merelstraat",
    "06-12345678",
    "12345678",
    "06-41235987",
    "41235987",
    "030-2345678",
    "2345678",
    "linda.bakker@example.nl",
    "f.elidrissi@lokaalteamzuid.example",
    "example.nl",
    "14-02-2013",
    "3 juni 2018",
    "Regenboog",
    "Nova College",
    "De Linde",
    "Familie Bakker",
]


async def originals(db, case_id: str) -> list[str]:
    """The fixed list, plus every value the database holds about the case's people."""
    values = list(DEMO_ORIGINALS)
    async with db.begin() as session:
        for person in await session.scalars(
            select(Person).where(Person.case_id == uuid.UUID(case_id))
        ):
            values.append(person.name)
        for p in await session.scalars(
            select(Participant).where(Participant.case_id == uuid.UUID(case_id))
        ):
            if p.user is not None:
                values += [p.user.name, p.user.email]
        # An organisation is coarsened to its kind ("GGZ De Linde" -> "[GGZ]"); one whose name
        # is its kind ("Regionaal Veiligheidsteam") says nothing more than the kind does.
        values += [
            o.name
            for o in await session.scalars(select(Organisation))
            if o.name.casefold() != o.kind.casefold()
        ]
    values.append(case_id)
    return values


def leaks(haystack: str, values: list[str]) -> list[str]:
    return [
        v
        for v in values
        if re.search(r"(?<![\w@.-])" + re.escape(v) + r"(?![\w@-])", haystack, re.IGNORECASE)
    ]


async def whole_copy(app, db, copy_id: str) -> str:
    """Every field of every row of the copy (copy, sections, annotations, sessions) and every
    text of its documents, as one string to scan."""
    parts: list[str] = []
    async with db.begin() as session:
        for table, column in (
            ("learning_copies", "id"),
            ("learning_copy_sections", "copy_id"),
            ("learning_annotations", "copy_id"),
            ("learning_sessions", "copy_id"),
        ):
            rows = (
                (
                    await session.execute(
                        text(f"SELECT * FROM {table} WHERE CAST({column} AS TEXT) LIKE :id"),  # noqa: S608 - constant names
                        {"id": copy_id.replace("-", "%")},
                    )
                )
                .mappings()
                .all()
            )
            parts += [
                json.dumps({k: str(v) for k, v in row.items()}, ensure_ascii=False) for row in rows
            ]
        sections = list(
            await session.scalars(
                select(CopySection).where(CopySection.copy_id == uuid.UUID(copy_id))
            )
        )
    assert sections, "the copy has texts"
    for section in sections:
        parts.append(await app.state.realtime.text(copy_document(uuid.UUID(copy_id), section.id)))
    return "\n".join(parts)


async def test_a_copy_of_the_demo_case_leaves_nothing_of_the_family_in_any_field(
    app, db, demo, demo_group, signed_in
):
    copy_id = await make_copy(signed_in, demo, demo_group)
    values = await originals(db, demo.case_id)
    # The source case id is the maker's, kept on the copy row only: scan without that column.
    everything = (await whole_copy(app, db, copy_id)).replace(
        f'"source_case_id": "{demo.case_id}"', ""
    )
    assert leaks(everything, values) == []
    # Replacements are there, not just deletions: the copy is still a story.
    assert "moeder" in everything and "kind 1" in everything and "[telefoonnummer]" in everything
    assert "[e-mailadres]" in everything and "[adres]" in everything and "[school]" in everything
    # What a group member's page shows.
    page = await (await signed_in(SANNE)).get(f"/intervisie/kopieen/{copy_id}")
    assert page.status_code == 200
    main = soup(page).select_one("main").get_text(" ").replace(demo_group.name, "")
    assert leaks(main, values) == []
    # The copy the demo itself made is just as clean.
    async with db.begin() as session:
        demo_copy = await session.scalar(select(Copy.id).where(Copy.id != uuid.UUID(copy_id)))
    everything = await whole_copy(app, db, str(demo_copy))
    assert leaks(everything.replace(f'"source_case_id": "{demo.case_id}"', ""), values) == []


async def test_the_maker_reviews_side_by_side_and_marks_more_words(db, demo, demo_group, signed_in):
    copy_id = await make_copy(signed_in, demo, demo_group, release=False)
    fatima = await signed_in(FATIMA)
    page = soup(await fatima.get(f"/intervisie/kopieen/{copy_id}/nakijken"))
    pairs = page.select(".pair")
    assert pairs
    was = " ".join(p.get_text(" ") for p in page.select(".was-side mark.was"))
    now = " ".join(p.get_text(" ") for p in page.select(".now-side mark.now"))
    assert "Erik" in was and "06-12345678" in was
    assert "vader" in now and "[telefoonnummer]" in now and "Erik" not in now
    # The words nothing explained are offered; "schuldhulpverlener" is not a name.
    assert "Veilig" not in [s.get_text() for s in page.select(".suggested")]
    version = hidden(page, "/woorden", "version")
    response = await fatima.post(
        f"/intervisie/kopieen/{copy_id}/woorden",
        {"word": "schuldhulpverlener", "replacement": "[hulpverlener]", "version": version},
    )
    assert response.status_code == 303
    page = soup(await fatima.get(f"/intervisie/kopieen/{copy_id}/nakijken"))
    now = " ".join(p.get_text(" ") for p in page.select(".now-side"))
    assert "schuldhulpverlener" not in now and "[hulpverlener]" in now
    # Bad input keeps what was typed, with a message per field.
    response = await fatima.post(
        f"/intervisie/kopieen/{copy_id}/woorden",
        {"word": "x", "replacement": "", "version": hidden(page, "/woorden", "version")},
    )
    assert response.status_code == 422
    assert "minstens twee tekens" in soup(response).select_one("#w-word-e").text
    # Released, the copy keeps neither the marked words nor the date shift.
    page = soup(await fatima.get(f"/intervisie/kopieen/{copy_id}/nakijken"))
    await fatima.post(
        f"/intervisie/kopieen/{copy_id}/nagekeken",
        {"fingerprint": hidden(page, "/nagekeken", "fingerprint")},
    )
    page = soup(await fatima.get(f"/intervisie/kopieen/{copy_id}/nakijken"))
    response = await fatima.post(
        f"/intervisie/kopieen/{copy_id}/vrijgeven",
        {"version": hidden(page, "/vrijgeven", "version")},
    )
    assert response.status_code == 303
    async with db.begin() as session:
        copy = await session.get(Copy, uuid.UUID(copy_id))
        assert copy.state == "released" and copy.marks == [] and copy.shift_days is None


async def test_release_is_refused_with_the_reason_until_the_list_is_reviewed(
    db, demo, demo_group, signed_in
):
    copy_id = await make_copy(signed_in, demo, demo_group, release=False)
    fatima = await signed_in(FATIMA)
    url = f"/intervisie/kopieen/{copy_id}"
    page = soup(await fatima.get(f"{url}/nakijken"))
    response = await fatima.post(
        f"{url}/vrijgeven", {"version": hidden(page, "/vrijgeven", "version")}
    )
    assert response.status_code == 422
    assert soup(response).select_one(".release .error").text.strip() == NOT_REVIEWED
    # Reviewed, then a word marked: the list changed, so it is refused again, saying why.
    await fatima.post(
        f"{url}/nagekeken", {"fingerprint": hidden(page, "/nagekeken", "fingerprint")}
    )
    page = soup(await fatima.get(f"{url}/nakijken"))
    assert page.select_one(".release .ok")
    await fatima.post(
        f"{url}/woorden", {"word": "stoel", "version": hidden(page, "/woorden", "version")}
    )
    page = soup(await fatima.get(f"{url}/nakijken"))
    response = await fatima.post(
        f"{url}/vrijgeven", {"version": hidden(page, "/vrijgeven", "version")}
    )
    assert response.status_code == 422
    assert soup(response).select_one(".release .error").text.strip() == CHANGED
    # A review of a list the maker did not see (an old page) does not count either.
    response = await fatima.post(f"{url}/nagekeken", {"fingerprint": "0" * 64})
    assert response.status_code == 422
    # Nothing was released: the group has no such copy.
    assert (await (await signed_in(SANNE)).get(url)).status_code == 404
    async with db.begin() as session:
        copy = await session.get(Copy, uuid.UUID(copy_id))
        assert copy.state == "draft" and copy.shift_days is not None


async def test_a_group_member_cannot_reach_the_source_case(
    app, db, demo, demo_group, signed_in, yjs
):
    copy_id = await make_copy(signed_in, demo, demo_group)
    sanne = await signed_in(SANNE)
    page = await sanne.get(f"/intervisie/kopieen/{copy_id}")
    assert page.status_code == 200
    assert demo.case_id not in page.text and "/cases/" not in page.text.replace('href="/cases"', "")
    for path in ("", "/plan", "/timeline", "/plan.md", "/audit"):
        assert (await sanne.get(f"/cases/{demo.case_id}{path}")).status_code == 404
    # Not the maker's review either (that page names the case).
    assert (await sanne.get(f"/intervisie/kopieen/{copy_id}/nakijken")).status_code == 404
    with pytest.raises(websockets.InvalidStatus):
        await yjs(SANNE, f"case/{demo.case_id}/notes")
    # The copy's own documents are open to her; every open is audited without the case.
    async with db.begin() as session:
        section = await session.scalar(
            select(CopySection).where(CopySection.copy_id == uuid.UUID(copy_id))
        )
    client = await yjs(SANNE, copy_document(uuid.UUID(copy_id), section.id))
    await client.wait_for(lambda: len(str(client.text)) > 0)
    async with db.begin() as session:
        opened = await session.scalar(
            select(AuditEvent)
            .where(AuditEvent.action == "copy.open")
            .order_by(AuditEvent.id.desc())
        )
    assert opened.case_id is None and opened.object_id == copy_id


async def test_only_the_groups_members_open_a_copy_and_its_documents(
    db, demo, demo_group, signed_in, yjs
):
    copy_id = await make_copy(signed_in, demo, demo_group)
    async with db.begin() as session:
        section = await session.scalar(
            select(CopySection).where(CopySection.copy_id == uuid.UUID(copy_id))
        )
    document = copy_document(uuid.UUID(copy_id), section.id)
    # Joost takes part in the case but not in the group; the manager in neither.
    for email in (JOOST, MANAGER):
        assert (
            await (await signed_in(email)).get(f"/intervisie/kopieen/{copy_id}")
        ).status_code == 404
        with pytest.raises(websockets.InvalidStatus):
            await yjs(email, document)
    missing = await (await signed_in(SANNE)).get(f"/intervisie/kopieen/{uuid.uuid4()}")
    forbidden = await (await signed_in(JOOST)).get(f"/intervisie/kopieen/{copy_id}")
    assert missing.status_code == forbidden.status_code == 404
    assert soup(missing).select_one("main").text == soup(forbidden).select_one("main").text
    async with db.begin() as session:
        denied = list(
            await session.scalars(select(AuditEvent).where(AuditEvent.action == "copy.denied"))
        )
    assert len(denied) == 2 and all(d.object_id == "" and d.case_id is None for d in denied)


async def test_the_family_sees_that_a_copy_was_made_but_not_who_read_it(
    db, demo, demo_group, signed_in
):
    copy_id = await make_copy(signed_in, demo, demo_group)
    await (await signed_in(SANNE)).get(f"/intervisie/kopieen/{copy_id}")
    async with db.begin() as session:
        rows = list(
            await session.scalars(
                select(AuditEvent.action).where(AuditEvent.case_id == uuid.UUID(demo.case_id))
            )
        )
        reads = list(
            await session.scalars(
                select(AuditEvent).where(
                    AuditEvent.action == "copy.view", AuditEvent.object_id == copy_id
                )
            )
        )
    assert {"copy.create", "copy.draft", "copy.review", "copy.release"} <= set(rows)
    assert "copy.view" not in rows
    assert len(reads) == 1 and reads[0].case_id is None


async def test_ending_a_copy_deletes_its_text_and_an_expired_one_goes_by_itself(
    app, db, demo, demo_group, signed_in
):
    copy_id = await make_copy(signed_in, demo, demo_group)
    mehmet = await signed_in(MEHMET)
    async with db.begin() as session:
        documents = [
            copy_document(uuid.UUID(copy_id), s.id)
            for s in await session.scalars(
                select(CopySection).where(CopySection.copy_id == uuid.UUID(copy_id))
            )
        ]
    response = await mehmet.post(f"/intervisie/kopieen/{copy_id}/beeindigen")
    assert response.status_code == 303
    assert (await mehmet.get(f"/intervisie/kopieen/{copy_id}")).status_code == 404
    for document in documents:
        assert await app.state.realtime.text(document) == ""
    async with db.begin() as session:
        stored = await session.scalar(
            text("SELECT count(*) FROM realtime_updates WHERE document LIKE :d"),
            {"d": f"intervision/{copy_id}/%"},
        )
    assert stored == 0
    async with db.begin() as session:
        copy = await session.get(Copy, uuid.UUID(copy_id))
        assert copy.state == "ended" and copy.source_case_id is None
        # The demo's own copy: past its end date, it is gone on the next listing.
        other = await session.scalar(select(Copy).where(Copy.state == "released"))
        await session.execute(
            update(Copy).where(Copy.id == other.id).values(ends_on=date.today() - timedelta(days=1))
        )
    assert (await mehmet.get(f"/intervisie/kopieen/{other.id}")).status_code == 404
    assert (await mehmet.get("/intervisie")).status_code == 200
    async with db.begin() as session:
        assert (await session.get(Copy, other.id)).state == "ended"
        assert await session.scalar(select(AuditEvent.id).where(AuditEvent.action == "copy.expire"))


async def test_only_a_professional_of_the_case_makes_a_copy(db, demo, demo_group, signed_in):
    sanne = await signed_in(SANNE)  # in the group, not in the case
    response = await sanne.post(
        "/intervisie/kopieen",
        {
            "case_id": demo.case_id,
            "group_id": str(demo_group.id),
            "ends_on": (date.today() + timedelta(days=30)).isoformat(),
        },
    )
    assert response.status_code == 422
    assert (
        "Kies een gezin waarin jij als professional meedoet."
        in soup(response).select_one("#kopie").text
    )
    fatima = await signed_in(FATIMA)
    response = await fatima.post(
        "/intervisie/kopieen",
        {
            "case_id": demo.case_id,
            "group_id": str(demo_group.id),
            "ends_on": (date.today() + timedelta(days=400)).isoformat(),
        },
    )
    assert response.status_code == 422 and "half jaar" in response.text
    async with db.begin() as session:
        assert await session.scalar(select(User.id).where(User.email == FATIMA))
