"""A poisoned document (issue 14): an update that pycrdt takes but stock Yjs (or our own
merges) cannot is refused before it is stored or sent; one that is already stored never takes
the room, the section or the plan page down."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest
from bs4 import BeautifulSoup
from pycrdt import Doc, Text
from sqlalchemy import insert, select

from realtime import protocol, updates
from realtime.store import build
from realtime.tables import snapshots
from realtime.tables import updates as update_rows
from tests.conftest import World
from workspace.notes import section_document
from workspace.plan.actions import ensure_sections
from workspace.plan.models import Section

#: Found by a mutation fuzzer: yrs stores it; stock Yjs throws "Integer out of Range" on it, and
#: merged with any other update it makes one that nothing can decode.
POISON = bytes.fromhex(
    "0101f8f28382e1e6b4e13b0a020300af90e7080103617272027c3f8000007701782801036d617001"
)


async def _document(db, world: World, key: str = "zorgen-krachten") -> str:
    async with db.begin() as session:
        await ensure_sections(session, world.case.id)
        section = await session.scalar(
            select(Section).where(Section.case_id == world.case.id, Section.key == key)
        )
    assert section is not None
    return section_document(world.case.id, section.id)


def test_the_poison_is_refused_by_the_format_check():
    with pytest.raises(updates.BadUpdate):
        updates.check(POISON)
    with pytest.raises(protocol.ProtocolError):
        protocol.parse(protocol.sync_update(POISON))


def recorded_updates(seed: int, count: int = 60) -> list[bytes]:
    """Real updates: two writers typing and deleting in one text, each seeing the other.
    (ASCII: pycrdt indexes text by UTF-8 bytes, and a delete inside a character panics yrs.)"""
    rng = random.Random(seed)
    docs = [Doc(), Doc()]
    texts = [d.get("text", type=Text) for d in docs]
    out = []
    for i in range(count):
        doc, text = docs[i % 2], texts[i % 2]
        before = doc.get_state()
        if len(text) > 5 and rng.random() < 0.2:
            at = rng.randrange(len(text) - 1)
            del text[at : at + 1]
        else:
            text.insert(rng.randrange(len(text) + 1), rng.choice(["a", "bc", "Linda ", "\n"]))
        update = doc.get_update(before)
        out.append(update)
        docs[1 - i % 2].apply_update(update)
    return out


def mutants(rng: random.Random, originals: list[bytes], count: int) -> list[bytes]:
    out = []
    for _ in range(count):
        b = bytearray(rng.choice(originals))
        for _ in range(rng.randint(1, 3)):
            op = rng.random()
            if op < 0.5 and b:
                b[rng.randrange(len(b))] = rng.randrange(256)
            elif op < 0.7:
                b.insert(rng.randrange(len(b) + 1), rng.randrange(256))
            elif op < 0.85 and len(b) > 1:
                del b[rng.randrange(len(b))]
            elif b:
                b = b[: rng.randrange(1, len(b) + 1)]
        out.append(bytes(b))
    return out


def accepted_mutants(seed: int, count: int) -> tuple[list[bytes], list[bytes]]:
    """(base, mutants the check lets through) for one seed."""
    originals = recorded_updates(seed)
    base = originals[:30]
    room = Doc()
    for update in base:
        room.apply_update(update)
    rng = random.Random(seed)
    taken = []
    for mutant in mutants(rng, originals, count):
        # As the room does: the format check, and for an update naming a parent outside
        # itself, a try on a scratch copy of the document.
        try:
            if updates.check(mutant):
                updates.check_against(room, mutant)
        except updates.BadUpdate:
            continue
        taken.append(mutant)
    return base, taken


@pytest.mark.parametrize("seed", [1, 2])
def test_no_accepted_mutant_breaks_our_own_store(seed):
    base, taken = accepted_mutants(seed, 2000)
    assert taken  # the check is not simply refusing everything
    for mutant in taken:
        loaded = Doc()
        loaded.apply_update(build([*base, mutant]))
        Doc().apply_update(loaded.get_update())


async def test_a_poisoned_update_closes_its_sender_only(world, db, connect, app):
    document = await _document(db, world)
    honest = await connect("household", world, document)
    attacker = await connect("professional", world, document)
    await honest.type("Linda: ik wil meer rust. ")
    await honest.wait_for(honest.all_stored)
    await attacker.send(protocol.sync_update(POISON))
    assert await attacker.wait_closed() == 1007
    await honest.type("En de school helpt.")
    await honest.wait_for(honest.all_stored)
    assert honest.closed is None
    # The room unloads and loads again from the store: nothing of the poison is there.
    await honest.close()
    app.state.realtime.rooms.rooms.pop(document, None)
    assert await app.state.realtime.text(document) == "Linda: ik wil meer rust. En de school helpt."


async def _store(db, document: str, *, update: bytes | None = None, snapshot: bytes | None = None):
    now = datetime.now(UTC)
    async with db.begin() as session:
        if update is not None:
            await session.execute(
                insert(update_rows).values(
                    document=document, update=update, author="x", created_at=now
                )
            )
        if snapshot is not None:
            await session.execute(
                insert(snapshots).values(
                    document=document, state=snapshot, last_update_id=0, updated_at=now
                )
            )


async def test_a_poison_stored_before_the_check_is_left_out_when_loading(world, db, app, browser):
    document = await _document(db, world)
    good = Doc()
    good.get("text", type=Text).insert(0, "Wat goed gaat: oma helpt.")
    await _store(db, document, update=good.get_update())
    await _store(db, document, update=POISON)
    assert await app.state.realtime.text(document) == "Wat goed gaat: oma helpt."
    b = browser()
    await b.login(world.coordinator.email)
    response = await b.get(f"/cases/{world.case.id}/plan")
    assert response.status_code == 200
    assert "oma helpt" in response.text


async def test_an_unreadable_section_is_shown_unavailable_and_the_plan_works(
    world, db, app, browser, connect
):
    broken = await _document(db, world, "zorgen-krachten")
    fine = await _document(db, world, "wat-gebeurde")
    await _store(db, broken, snapshot=b"\x07not an update")
    writer = await connect("coordinator", world, fine)
    await writer.type("Erik gooide een stoel.")
    await writer.wait_for(writer.all_stored)
    b = browser()
    await b.login(world.coordinator.email)
    response = await b.get(f"/cases/{world.case.id}/plan")
    assert response.status_code == 200
    page = BeautifulSoup(response.text, "html.parser")
    assert "kan nu niet worden geladen" in page.text
    assert "Erik gooide een stoel." in response.text
    assert not page.select(f"[data-document='{broken}']")
    # Opening the broken document refuses that one connection; the fine one stays open.
    other = await connect("coordinator", world, broken)
    assert await other.wait_closed() in (1011, 1008)
    assert writer.closed is None
    # The Markdown export, which reads every section, says so instead of failing.
    export = await b.get(f"/cases/{world.case.id}/plan.md")
    assert export.status_code == 200
    assert "kan nu niet worden geladen" in export.text
    assert "Erik gooide een stoel." in export.text
    # A version list of the broken section answers with a message, not a 500.
    section_id = broken.rsplit("/", 1)[-1]
    versions = await b.get(f"/cases/{world.case.id}/plan/sections/{section_id}/versies")
    assert versions.status_code in (200, 503)
    assert "Er ging iets mis" not in versions.text
