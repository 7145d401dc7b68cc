"""Shared fixtures: a real migrated database (SQLite, and PostgreSQL when
KRING_TEST_DATABASE_URL is set), the real app with its lifespan, an HTTP client, factories."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import text
from starlette.applications import Starlette

from workspace.access import Actor, case_access
from workspace.app import create_app
from workspace.auth.actions import hash_password
from workspace.cases import actions as cases
from workspace.config import Settings, normalise_database_url
from workspace.db import Database, create_engine, upgrade
from workspace.models import Case, Organisation, Participant, Person, User, UserRole
from workspace.web import CSRF_COOKIE, csrf_token_for

PASSWORD = "correct horse battery"
SECRET = "test-secret-key-" + "x" * 32
BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(scope="session", params=BACKENDS)
async def database_template(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[str, str]]:
    """Migrate once per backend; tests get a fresh copy (SQLite) or emptied tables (PostgreSQL)."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("template") / "template.sqlite3"
        url = f"sqlite+aiosqlite:///{path}"
        await upgrade(url)
        yield "sqlite", str(path)
        return
    admin_url = os.environ.get("KRING_TEST_DATABASE_URL")
    if not admin_url:
        pytest.skip("PostgreSQL: set KRING_TEST_DATABASE_URL to run these against it")
    admin_url = normalise_database_url(admin_url)
    name = f"kring_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin_url.rsplit("/", 1)[0] + "/" + name
    try:
        await upgrade(url)
        yield "postgresql", url
    finally:
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


@pytest.fixture
async def database_url(database_template: tuple[str, str], tmp_path: Path) -> str:
    kind, where = database_template
    if kind == "sqlite":
        target = tmp_path / "kring.sqlite3"
        shutil.copyfile(where, target)
        return f"sqlite+aiosqlite:///{target}"
    await empty_tables(where)
    return where


async def empty_tables(url: str) -> None:
    """Empty every table of a migrated PostgreSQL database (the schema stays)."""
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            tables = (
                (
                    await conn.execute(
                        text(
                            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                            "AND tablename <> 'alembic_version'"
                        )
                    )
                )
                .scalars()
                .all()
            )
            if tables:
                await conn.execute(
                    text(
                        "TRUNCATE "
                        + ", ".join(f'"{t}"' for t in tables)
                        + " RESTART IDENTITY CASCADE"
                    )
                )
    finally:
        await engine.dispose()


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path,
        database_url=database_url,
        secret_key=SECRET,
        base_url="http://testserver",
    )


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[Starlette]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
def db(app: Starlette) -> Database:
    database: Database = app.state.db
    return database


class Browser:
    """One person's browser: cookies, and forms posted with the CSRF token a page would hold."""

    def __init__(self, app: Starlette) -> None:
        self.app = app
        self.http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        )

    async def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return await self.http.get(url, **kwargs)

    async def csrf(self) -> str:
        if CSRF_COOKIE not in self.http.cookies:
            await self.http.get("/healthz")
        return csrf_token_for(SECRET, self.http.cookies[CSRF_COOKIE])

    async def post(
        self, url: str, data: dict[str, Any] | None = None, *, csrf: bool = True, **kwargs: Any
    ) -> httpx.Response:
        data = dict(data or {})
        if csrf:
            data["csrf_token"] = await self.csrf()
        return await self.http.post(url, data=data, **kwargs)

    async def login(self, email: str, password: str = PASSWORD) -> httpx.Response:
        response = await self.post("/login", {"email": email, "password": password})
        assert response.status_code == 303, response.text
        return response

    async def claim(self, link: str) -> httpx.Response:
        token = link.rsplit("/", 1)[1]
        return await self.post("/uitnodiging", {"token": token})

    async def aclose(self) -> None:
        await self.http.aclose()


@pytest.fixture
async def browser(app: Starlette) -> AsyncIterator[Any]:
    """A factory of browsers; each has its own cookie jar."""
    made: list[Browser] = []

    def make() -> Browser:
        made.append(Browser(app))
        return made[-1]

    yield make
    for b in made:
        await b.aclose()


@dataclass
class World:
    """A small case to test against: a coordinator, professionals, members, an outsider."""

    case: Case
    coordinator: User
    professional: User
    observer: User
    outsider: User
    manager: User
    household: Participant
    network: Participant
    other_case: Case
    professional_participant: Participant


async def make_user(
    db: Database,
    email: str,
    role: UserRole = UserRole.PROFESSIONAL,
    name: str | None = None,
    org: Organisation | None = None,
) -> User:
    async with db.begin() as session:
        user = User(
            email=email,
            name=name or email.split("@")[0].title(),
            role=role,
            organisation_id=org.id if org else None,
            password_hash=hash_password(PASSWORD),
        )
        session.add(user)
    return user


async def make_case(db: Database, coordinator: User, title: str = "Gezin Test") -> Case:
    async with db.begin() as session:
        user = await session.get(User, coordinator.id)
        return await cases.create_case(session, Actor(uuid.uuid4(), user, None, "test"), title)


async def add_professional(
    db: Database, case: Case, by: User, user: User, role: str = "professional"
) -> Participant:
    async with db.begin() as session:
        who = await case_access(
            session, Actor(uuid.uuid4(), await session.get(User, by.id), None), case.id
        )
        return await cases.add_professional(
            session, who, cases.ProfessionalInput(user.email, role, "GGZ")
        )


async def add_member(
    db: Database, case: Case, by: User, name: str, kind: str = "household"
) -> Participant:
    async with db.begin() as session:
        who = await case_access(
            session, Actor(uuid.uuid4(), await session.get(User, by.id), None), case.id
        )
        person: Person = await cases.add_person(
            session,
            who,
            cases.PersonInput(
                name=name, kind=kind, relation="moeder" if kind == "household" else "buurman"
            ),
        )
        from sqlalchemy import select

        participant = await session.scalar(
            select(Participant).where(Participant.person_id == person.id)
        )
        assert participant is not None
        return participant


@pytest.fixture
async def world(db: Database) -> World:
    org = Organisation(name="Lokaal team", kind="lokaal team")
    async with db.begin() as session:
        session.add(org)
    coordinator = await make_user(db, "regisseur@example.org", name="Fatima", org=org)
    professional = await make_user(db, "pro@example.org", name="Petra")
    observer = await make_user(db, "meelezer@example.org", name="Van Dijk")
    outsider = await make_user(db, "buiten@example.org", name="Otto")
    manager = await make_user(db, "manager@example.org", UserRole.MANAGER, name="Marloes")
    case = await make_case(db, coordinator, "Gezin Bakker")
    pro_participant = await add_professional(db, case, coordinator, professional)
    await add_professional(db, case, coordinator, observer, role="observer")
    household = await add_member(db, case, coordinator, "Linda")
    network = await add_member(db, case, coordinator, "Hasan", kind="network")
    other_case = await make_case(db, outsider, "Ander gezin")
    return World(
        case,
        coordinator,
        professional,
        observer,
        outsider,
        manager,
        household,
        network,
        other_case,
        pro_participant,
    )


async def invite(db: Database, settings: Settings, world: World, participant: Participant) -> str:
    """Create an invitation as the coordinator; returns the personal link."""
    from workspace.auth.actions import create_invitation

    async with db.begin() as session:
        who = await case_access(
            session,
            Actor(uuid.uuid4(), await session.get(User, world.coordinator.id), None),
            world.case.id,
        )
        new = await create_invitation(session, settings, who, participant.id)
    return f"{settings.base_url}/uitnodiging/{new.token}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def live(app: Starlette, settings: Settings) -> AsyncIterator[str]:
    """Serve the (already started) app over real HTTP/websockets; returns ws://host:port."""
    port = _free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        lifespan="off",
        log_level="warning",
        ws_per_message_deflate=False,
        ws_max_size=settings.realtime_max_message_bytes * 2,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn offers no event for this
        await asyncio.sleep(0.01)
    try:
        yield f"ws://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


async def signed_in_client(base: str, email: str) -> httpx.AsyncClient:
    """An HTTP client over the network (for streams: the ASGI transport buffers responses),
    signed in as ``email``. The caller closes it."""
    client = httpx.AsyncClient(base_url=base, timeout=10)
    await client.get("/healthz")
    token = csrf_token_for(SECRET, client.cookies[CSRF_COOKIE])
    response = await client.post(
        "/login", data={"email": email, "password": PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 303
    return client


def npm_installed(folder: Path, package: str) -> None:
    """Skip without Node.js and npm; else install ``folder``'s locked packages (``npm ci``)
    unless ``package`` is already in its node_modules."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("needs Node.js and npm")
    if not (folder / "node_modules" / package).exists():
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund", "--prefix", str(folder)],
            check=True,
            capture_output=True,
            timeout=300,
        )
