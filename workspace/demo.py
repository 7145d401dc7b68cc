"""The demo: the fictional Bakker family of shared/demo-case.md, ready in a fresh data dir."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from workspace.access import Actor, CaseAccess, case_access
from workspace.auth.actions import create_invitation, hash_password
from workspace.cases import actions as cases
from workspace.config import Settings
from workspace.learning import demo as learning_demo
from workspace.models import CaseRole, Organisation, Participant, User, UserRole

DEMO_PASSWORD = "kring-demo-wachtwoord"  # noqa: S105 - fictional accounts, printed on purpose

ORGANISATIONS = [
    ("Lokaal team Zuid", "lokaal team"),
    ("Regionaal Veiligheidsteam", "regionaal veiligheidsteam"),
    ("GGZ De Linde", "GGZ"),
    ("Basisschool De Regenboog", "school"),
]

#: email, name, role, organisation, job title
USERS = [
    (
        "fatima@demo.kring.nl",
        "Fatima el Idrissi",
        UserRole.PROFESSIONAL,
        "Lokaal team Zuid",
        "lokaal team, regisseur",
    ),
    (
        "joost@demo.kring.nl",
        "Joost de Boer",
        UserRole.PROFESSIONAL,
        "Regionaal Veiligheidsteam",
        "regionaal veiligheidsteam",
    ),
    (
        "petra@demo.kring.nl",
        "Petra Smit",
        UserRole.PROFESSIONAL,
        "GGZ De Linde",
        "GGZ, hulpverlener van Erik",
    ),
    (
        "vandijk@demo.kring.nl",
        "meester Van Dijk",
        UserRole.PROFESSIONAL,
        "Basisschool De Regenboog",
        "leerkracht van Sem",
    ),
    (
        "manager@demo.kring.nl",
        "Marloes Jansen",
        UserRole.MANAGER,
        "Lokaal team Zuid",
        "teammanager",
    ),
]

#: name, kind, relation, birth year, takes part and gets an invitation
PERSONS = [
    ("Linda Bakker", "household", "moeder", 1988, True),
    ("Erik Bakker", "household", "vader", 1985, True),
    ("Noor", "household", "dochter", 2013, True),
    ("Sem", "household", "zoon", 2018, False),
    ("oma Ria", "network", "oma, moeder van Linda", 1958, True),
    ("buurman Hasan", "network", "buurman", 1975, True),
    ("Kees", "network", "broer van Erik", 1982, True),
]


@dataclass
class DemoResult:
    case_id: str = ""
    accounts: list[tuple[str, str, str]] = field(default_factory=list)
    invitations: list[tuple[str, str]] = field(default_factory=list)
    #: Co-edited text to store once the rows are committed: {document: (text, author)}.
    texts: dict[str, tuple[str, str]] = field(default_factory=dict)
    #: The coordinator's user id (the meetings are seeded as her once the texts are stored).
    coordinator_id: str = ""
    #: The code of the meeting that is open right now.
    meeting_code: str = ""


async def create_demo(db: AsyncSession, settings: Settings) -> DemoResult:
    result = DemoResult()
    orgs: dict[str, Organisation] = {}
    for name, kind in ORGANISATIONS:
        orgs[name] = Organisation(name=name, kind=kind)
        db.add(orgs[name])
    await db.flush()
    users: dict[str, User] = {}
    password_hash = hash_password(DEMO_PASSWORD)
    for email, name, role, org, title in USERS:
        users[email] = User(
            email=email,
            name=name,
            role=role,
            organisation_id=orgs[org].id,
            job_title=title,
            password_hash=password_hash,
        )
        db.add(users[email])
        result.accounts.append((email, name, title))
    await db.flush()

    fatima = Actor(
        session_id=users["fatima@demo.kring.nl"].id,
        user=users["fatima@demo.kring.nl"],
        member=None,
        source="demo",
    )
    case = await cases.create_case(db, fatima, "Familie Bakker")
    result.case_id = str(case.id)
    result.coordinator_id = str(fatima.user.id) if fatima.user else ""
    who = await case_access(db, fatima, case.id)
    for email, case_role, function in [
        (
            "joost@demo.kring.nl",
            CaseRole.PROFESSIONAL,
            "regionaal veiligheidsteam (met toestemming van het gezin)",
        ),
        ("petra@demo.kring.nl", CaseRole.PROFESSIONAL, "GGZ, hulpverlener van Erik"),
        ("vandijk@demo.kring.nl", CaseRole.OBSERVER, "leerkracht van Sem"),
    ]:
        await cases.add_professional(db, who, cases.ProfessionalInput(email, case_role, function))
    for name, kind, relation, year, participates in PERSONS:
        person = await cases.add_person(
            db,
            who,
            cases.PersonInput(
                name=name,
                kind=kind,
                relation=relation,
                birth_year=str(year),
                participates=participates,
            ),
        )
        if participates and name in ("Linda Bakker", "Erik Bakker", "Noor", "oma Ria"):
            participant_id = await db.scalar(
                select(Participant.id).where(Participant.person_id == person.id)
            )
            assert participant_id is not None
            new = await create_invitation(db, settings, who, participant_id)
            result.invitations.append((name, f"{settings.base_url}/uitnodiging/{new.token}"))

    from workspace.plan.demo import seed

    async def access(email: str) -> CaseAccess:
        user = users[email]
        return await case_access(db, Actor(user.id, user, None, "demo"), case.id)

    result.texts = await seed(
        db,
        who,
        await access("joost@demo.kring.nl"),
        await access("petra@demo.kring.nl"),
    )
    await learning_demo.seed(db, result)
    return result


async def store_texts(engine: AsyncEngine, texts: dict[str, tuple[str, str]]) -> None:
    """Write the demo's co-edited texts through the realtime update log, as an editor would."""
    from pycrdt import Doc, Text

    from realtime.store import Pending, UpdateStore

    store = UpdateStore(engine)
    try:
        for document, (text, author) in texts.items():
            doc: Doc[Text] = Doc()
            doc["text"] = Text(text)
            await store.append(document, [Pending(doc.get_update(), author)])
    finally:
        store.close()


async def access_for(db: AsyncSession, user_id: uuid.UUID, case_id: uuid.UUID) -> CaseAccess:
    """A demo user inside the demo case, as the domain functions expect."""
    user = await db.get(User, user_id)
    assert user is not None
    return await case_access(db, Actor(user.id, user, None, "demo"), case_id)


async def build_demo(settings: Settings) -> DemoResult:
    """The whole demo in a migrated, empty database: people and plan, the plan's co-edited
    texts (through the realtime log, as an editor writes them), then the meetings."""
    from realtime.store import UpdateStore
    from workspace.db import Database
    from workspace.meetings.demo import seed as seed_meetings

    db = Database(settings.database_url)
    try:
        async with db.begin() as session:
            result = await create_demo(session, settings)
        await store_texts(db.engine, result.texts)
        store = UpdateStore(db.engine)
        try:
            result.meeting_code = await seed_meetings(
                db, store, uuid.UUID(result.coordinator_id), uuid.UUID(result.case_id)
            )
        finally:
            store.close()
        return result
    finally:
        await db.dispose()
