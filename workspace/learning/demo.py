"""Learning in ``kring demo``: an intervision group of the local team with a session on a
pseudonymised copy of the Bakker plan (annotations included), and reflections, some shared
with the team's manager. Written through the same domain functions as the web forms.

The demo's co-edited texts are stored after its rows are committed (``DemoResult.texts``);
the copy's documents are written here instead, in the same transaction, because the
annotations' anchors must name characters of exactly the updates that are stored."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from pycrdt import Doc, Text
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from realtime.tables import updates
from workspace.access import Actor
from workspace.auth.actions import hash_password
from workspace.learning import intervision as iv
from workspace.learning import reflection as rf
from workspace.learning.models import Reflection
from workspace.models import Organisation, User, UserRole

#: email, name, job title: colleagues of Fatima in the local team.
COLLEAGUES = [
    ("sanne@demo.kring.nl", "Sanne Visser", "lokaal team"),
    ("mehmet@demo.kring.nl", "Mehmet Yılmaz", "lokaal team"),
    ("anouk@demo.kring.nl", "Anouk de Wit", "lokaal team, gedragswetenschapper"),
]


def _actor(user: User) -> Actor:
    return Actor(session_id=user.id, user=user, member=None, source="demo")


async def seed(db: AsyncSession, result: Any) -> None:
    """Add learning to the demo. ``result`` is the demo's DemoResult: its case id, its
    accounts list (extended here) and its co-edited texts (read here)."""
    from workspace.demo import DEMO_PASSWORD

    org = await db.scalar(select(Organisation).where(Organisation.name == "Lokaal team Zuid"))
    assert org is not None
    password_hash = hash_password(DEMO_PASSWORD)
    users = {u.email: u for u in await db.scalars(select(User))}
    for email, name, title in COLLEAGUES:
        users[email] = User(
            email=email,
            name=name,
            role=UserRole.PROFESSIONAL,
            organisation_id=org.id,
            job_title=title,
            password_hash=password_hash,
        )
        db.add(users[email])
        result.accounts.append((email, name, title))
    await db.flush()
    fatima = _actor(users["fatima@demo.kring.nl"])
    sanne = _actor(users["sanne@demo.kring.nl"])
    mehmet = _actor(users["mehmet@demo.kring.nl"])
    today = date.today()

    group = await iv.create_group(
        db,
        fatima,
        {
            "name": "Intervisie lokaal team Zuid",
            "emails": "\n".join(email for email, _, _ in COLLEAGUES),
        },
    )

    # The Bakker copy, made, reviewed and released as its maker would.
    copy = await iv.start_copy(
        db,
        fatima,
        {
            "case_id": result.case_id,
            "group_id": str(group.id),
            "ends_on": (today + timedelta(days=56)).isoformat(),
        },
    )
    material = await iv.gather(db, fatima, copy)
    texts = [
        result.texts.get(s.document, ("", ""))[0] if s.document else s.text
        for s in material.sources
    ]
    draft = iv.make_draft(copy, material, texts)
    await iv.review_copy(db, fatima, copy.id, draft, draft.fingerprint)
    release = iv.plan_release(copy, draft)
    states: dict[uuid.UUID, bytes] = {}
    now = datetime.now(UTC)
    for section in release.sections:
        document = f"intervision/{copy.id}/section/{section.id}"
        doc: Doc[Text] = Doc()
        doc["text"] = Text(release.texts[document])
        states[section.id] = doc.get_update()
        await db.execute(
            insert(updates).values(
                document=document,
                update=states[section.id],
                author=f"user:{users['fatima@demo.kring.nl'].id}",
                created_at=now,
            )
        )
    await iv.release_copy(db, fatima, copy.id, draft, release, str(copy.version))

    closed = await iv.start_session(
        db,
        sanne,
        group.id,
        {
            "method": "dilemma",
            "question": "Vrijwillig verder, of nu al bevoegdheden inzetten?",
            "held_on": (today - timedelta(days=20)).isoformat(),
            "copy_id": str(copy.id),
        },
    )
    await iv.save_outcome(
        db,
        sanne,
        closed.id,
        {
            "conclusions": "Vrijwillig verder is te verdedigen, met een duidelijke grens.",
            "lessons": (
                "- Spreek vooraf met het gezin af wat er gebeurt bij een nieuw incident.\n"
                "- Schulden zijn vaak de motor van de spanning: schuldhulp hoort in fase 1."
            ),
            "version": str(closed.version),
        },
    )
    await iv.close_session(db, sanne, closed.id, str(closed.version))

    session = await iv.start_session(
        db,
        fatima,
        group.id,
        {
            "method": "incident",
            "question": "Hoe blijf ik in gesprek met vader als het over geld gaat?",
            "held_on": today.isoformat(),
            "copy_id": str(copy.id),
        },
    )
    await iv.set_step(db, fatima, session.id, "1", str(session.version))
    sections = {s.title: s for s in release.sections}
    for who, title, quote, body in (
        (
            mehmet,
            "Zo ziet vader het",
            "niemand luistert als ik over geld begin",
            "Hier zit een ingang: hij wil gehoord worden. Vraag eerst naar zijn kant.",
        ),
        (
            sanne,
            "Zorgen en krachten",
            "kind 2 zegt weinig",
            "Wie vraagt het jongste kind zelf hoe het gaat?",
        ),
    ):
        target = sections.get(title)
        if target is None:
            continue
        await iv.add_annotation(
            db,
            who,
            copy.id,
            {
                "section_id": str(target.id),
                "quote": quote,
                "body": body,
                "session_id": str(session.id),
            },
            states,
        )

    # Reflections: two shared with the manager (one about the Bakker family, with names the
    # shared version replaces), one with the team, one private.
    for who, days_ago, values, tags in (
        (
            fatima,
            70,
            {
                "title": "Boos worden om geld",
                "body": (
                    "Erik werd boos toen ik over de schulden begon. Linda keek naar mij alsof ik "
                    "het erger maakte."
                ),
                "case_id": result.case_id,
                "p-mis": "Misschien zag ik zijn boosheid te snel als dreiging, en niet als wanhoop.",
                "p-ongemak": "Ik voelde me onveilig, en schaamde me daarvoor.",
                "question": "Hoe houden we elkaar scherp op onze eigen angst in zulke gesprekken?",
                "audience": "manager",
            },
            ["schulden", "veiligheid"],
        ),
        (
            fatima,
            12,
            {
                "title": "Wachten op schuldhulp",
                "body": "Het gezin wacht al veertien weken op schuldhulp. Dat houdt de spanning hoog.",
                "case_id": result.case_id,
                "p-schade": "Het wachten doet schade: de ruzies gaan over geld.",
                "signal": (
                    "De wachtlijst voor schuldhulp is in onze gemeente veertien weken. Voor "
                    "gezinnen met huiselijk geweld is dat te lang."
                ),
                "audience": "manager",
            },
            ["wachtlijst", "schulden"],
        ),
        (
            sanne,
            35,
            {
                "title": "Mijn eigen beeld van 'een goede moeder'",
                "p-normen": "Ik merkte dat ik een moeder die veel werkt sneller afkeurde.",
                "p-twijfel": "Deed ik haar tekort in het gesprek?",
                "audience": "team",
            },
            ["cultuur", "kinderen"],
        ),
        (
            mehmet,
            5,
            {
                "body": "Nog even voor mezelf: ik twijfel of ik de vader te veel ruimte geef.",
                "p-twijfel": "Ben ik te mild?",
                "audience": "private",
            },
            ["twijfel"],
        ),
    ):
        entry = await rf.write_reflection(db, who, values, tags)
        _backdate(entry, days_ago)


def _backdate(entry: Reflection, days_ago: int) -> None:
    """Spread the demo's entries over the last months, so the review's charts show time."""
    at = datetime.now(UTC) - timedelta(days=days_ago)
    entry.created_at = entry.updated_at = at
    if entry.shared_at is not None:
        entry.shared_at = at
