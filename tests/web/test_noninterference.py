"""Non-interference (issue 15): a person excluded from an item gets the same bytes whether
or not the item exists.

Two worlds from the same script on a controlled clock: an 83-year-old mother, her son who
manages her money (the excluded person) and her daughter, with a coordinator and a home-care
professional. World B adds, for others, a hidden section with text, a hidden agreement,
incident, evaluation and decision with dissent and the family's response, and activity by the
daughter (visits, a response). Both are crawled as the son, as a browser would: every link,
every fragment URL and form target found in the HTML (htmx fragments with their header), from
his start pages. Only what is his is normalised: CSRF tokens, the CSP nonce, and ids (renamed
in order of first appearance, so a hidden id showing up anywhere shifts every later name).

A coverage guard makes this the safety net for later work: a GET route that the crawl never
reached and that is not listed below with the reason fails the test."""

from __future__ import annotations

import contextlib
import re
import shutil
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
import time_machine
from bs4 import BeautifulSoup
from sqlalchemy import select, text
from starlette.applications import Starlette
from starlette.routing import Match, Route

from tests.conftest import Browser, empty_tables, make_user
from workspace.access import Actor, case_access
from workspace.app import create_app
from workspace.auth.actions import create_invitation
from workspace.cases import actions as cases
from workspace.config import Settings, normalise_database_url
from workspace.db import create_engine
from workspace.models import Case, Organisation, Participant, Person, User
from workspace.notes import section_document
from workspace.plan import actions as plan
from workspace.plan.models import EntryKind

START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
CRAWL = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)

#: GET routes the son's crawl never reaches, and why. Anything else unreached fails the test.
NOT_HIS = {
    "/": "redirects to his case list",
    "/login": "a sign-in page, the same for everyone",
    "/uitnodiging/{token}": "an invitation link: his was claimed before the crawl",
    "/meedoen": "joining a meeting by code: no meeting is open",
    "/meedoen/wacht": "a meeting's lobby: no meeting is open",
    "/cases/{case_id:uuid}/live": "an event stream: tests/web/test_live.py: what he hears",
    "/cases/{case_id:uuid}/meetings/{meeting_id:uuid}/live": "an event stream (as above)",
    "/healthz": "no case data",
    "/readyz": "no case data",
}
#: Route prefixes of areas a household member has no part in (all answer 404 for him, the
#: same whatever exists): intervision and reflection are for professionals.
PROFESSIONALS_ONLY = ("/intervisie", "/reflectie", "/leren", "/team", "/groepen")


@dataclass
class World:
    app: Starlette
    case_id: uuid.UUID
    son_link: str
    daughter_link: str
    hidden_documents: list[str]
    #: URLs he might type or guess (the hidden items' own, in world B; a random id in A).
    guesses: list[str]


@pytest.fixture
async def two_urls(database_template, tmp_path: Path) -> AsyncIterator[tuple[str, str]]:
    """Two freshly migrated, empty databases of the test's backend."""
    kind, where = database_template
    if kind == "sqlite":
        urls = []
        for name in ("a", "b"):
            target = tmp_path / f"{name}.sqlite3"
            shutil.copyfile(where, target)
            urls.append(f"sqlite+aiosqlite:///{target}")
        yield urls[0], urls[1]
        return
    admin = create_engine(
        normalise_database_url(where).rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT"
    )
    template = normalise_database_url(where).rsplit("/", 1)[1]
    names = [f"kring_ni_{uuid.uuid4().hex[:10]}" for _ in range(2)]
    # The template must be empty to copy: other tests left rows in it.
    await empty_tables(where)
    try:
        async with admin.connect() as conn:
            for name in names:
                await conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
        base = normalise_database_url(where).rsplit("/", 1)[0]
        yield f"{base}/{names[0]}", f"{base}/{names[1]}"
    finally:
        async with admin.connect() as conn:
            for name in names:
                await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


async def _build(settings: Settings, *, hidden: bool, stack: contextlib.AsyncExitStack) -> World:
    app = create_app(settings)
    await stack.enter_async_context(app.router.lifespan_context(app))
    db = app.state.db
    with time_machine.travel(START, tick=False) as clock:

        def later(minutes: int = 1) -> None:
            clock.shift(timedelta(minutes=minutes))

        org = Organisation(name="Wijkteam", kind="lokaal team")
        async with db.begin() as session:
            session.add(org)
        fatima = await make_user(db, "fatima@example.org", name="Fatima el Idrissi", org=org)
        petra = await make_user(db, "petra@example.org", name="Petra de Vries")
        later()
        async with db.begin() as session:
            actor = Actor(uuid.uuid4(), await session.get(User, fatima.id), None, "test")
            case: Case = await cases.create_case(session, actor, "Familie Yildiz")
        later()

        async def as_fatima(session):
            user = await session.get(User, fatima.id)
            return await case_access(session, Actor(uuid.uuid4(), user, None, "test"), case.id)

        people: dict[str, Participant] = {}
        async with db.begin() as session:
            who = await as_fatima(session)
            await cases.add_professional(
                session, who, cases.ProfessionalInput(petra.email, "professional", "thuiszorg")
            )
            for name, relation, year in (
                ("Meryem Yildiz", "moeder", "1943"),
                ("Mehmet Yildiz", "zoon", "1970"),
                ("Ayşe Yildiz", "dochter", "1973"),
            ):
                later()
                person: Person = await cases.add_person(
                    session, who, cases.PersonInput(name, "household", relation, year)
                )
                await session.flush()
                people[name] = await session.scalar(
                    select(Participant.id).where(Participant.person_id == person.id)
                )
        son_person = await _person_of(db, people["Mehmet Yildiz"])
        except_son = plan.AudienceInput("except", (str(son_person),))
        everyone = plan.AudienceInput()

        async with db.begin() as session:
            who = await as_fatima(session)
            later()
            await plan.add_agreement(
                session,
                who,
                {
                    "phase": "1",
                    "what": "Thuiszorg komt elke ochtend",
                    "who_does": "Petra",
                    "checker": "Fatima",
                },
                everyone,
            )
            later()
            await plan.add_incident(
                session,
                who,
                {"occurred_on": "2026-11-01", "what": "Val in de badkamer", "reported_by": "Ayşe"},
                everyone,
            )
            later()
            await plan.add_evaluation(
                session,
                who,
                {"phase": "1", "plan": "Elke dag warm eten", "check": "Het gaat beter met eten"},
                everyone,
            )
            later()
            shared = await plan.propose_decision(
                session,
                who,
                {
                    "phase": "1",
                    "kind": "ordinary",
                    "question": "Dagbesteding proberen?",
                    "proposal": "Twee ochtenden per week",
                    "grounds": "Ze is veel alleen",
                    "regime": case.regime,
                    "decider": "Fatima",
                },
                everyone,
            )

        await app.state.realtime.replace_text(
            section_document(case.id, await _section_id(db, case.id, "zorgen-krachten")),
            "Mevrouw Yildiz wil thuis blijven wonen.",
            author="test",
        )
        hidden_documents: list[str] = []
        if hidden:
            async with db.begin() as session:
                who = await as_fatima(session)
                later()
                section = await plan.add_section(
                    session, who, {"phase": "1", "title": "Geld en bankzaken"}, except_son
                )
                later()
                await plan.add_agreement(
                    session,
                    who,
                    {
                        "phase": "2",
                        "what": "Ayşe kijkt mee met de bankafschriften",
                        "who_does": "Ayşe",
                        "checker": "Fatima",
                    },
                    except_son,
                )
                later()
                await plan.add_incident(
                    session,
                    who,
                    {
                        "occurred_on": "2026-10-30",
                        "what": "Mehmet nam de pinpas mee",
                        "reported_by": "Meryem",
                    },
                    plan.AudienceInput("professionals"),
                )
                later()
                await plan.add_evaluation(
                    session,
                    who,
                    {"phase": "1", "plan": "Geld op orde", "check": "Geld blijft een zorg"},
                    except_son,
                )
                later()
                decision = await plan.propose_decision(
                    session,
                    who,
                    {
                        "phase": "1",
                        "kind": "ordinary",
                        "question": "Bewindvoering aanvragen?",
                        "proposal": "Een bewindvoerder aanvragen",
                        "grounds": "Schulden",
                        "regime": case.regime,
                        "decider": "Fatima",
                    },
                    except_son,
                )
                later()
                await plan.open_for_dissent(session, who, decision.id, str(decision.version))
                petra_who = await case_access(
                    session,
                    Actor(uuid.uuid4(), await session.get(User, petra.id), None, "test"),
                    case.id,
                )
                later()
                await plan.add_entry(
                    session,
                    petra_who,
                    decision.id,
                    EntryKind.DISSENT,
                    {"text": "Eerst met Mehmet praten?"},
                )
            hidden_documents.append(section_document(case.id, section.id))
            await app.state.realtime.replace_text(
                hidden_documents[0], "Mehmet haalt geld van haar rekening.", author="test"
            )
            # The daughter's own activity: visits and a response of the family.
            later()
            daughter = Browser(app)
            token = await _link(db, settings, fatima, case.id, people["Ayşe Yildiz"])
            assert (await daughter.post("/uitnodiging", {"token": token})).status_code == 303
            later()
            await daughter.get(f"/cases/{case.id}/plan")
            await daughter.get(f"/cases/{case.id}/decisions/{decision.id}")
            await daughter.get(f"/cases/{case.id}/audit")
            await daughter.aclose()
        # A meeting, closed with minutes, at the same moments in both worlds.
        clock.move_to(START + timedelta(days=1))
        chair = Browser(app)
        await chair.login(fatima.email)
        meeting = await _meeting(chair, case.id, clock)
        await chair.aclose()
        clock.move_to(CRAWL - timedelta(minutes=5))
        son = await _link(db, settings, fatima, case.id, people["Mehmet Yildiz"])
    guesses = [f"/cases/{case.id}/decisions/new", f"{meeting}/scherm"]
    if hidden:
        guesses.append(f"/cases/{case.id}/decisions/{decision.id}")
    else:
        guesses.append(f"/cases/{case.id}/decisions/{uuid.uuid4()}")
    del shared
    return World(app, case.id, son, "", hidden_documents, guesses)


async def _meeting(b: Browser, case_id: uuid.UUID, clock) -> str:
    def soup(response):
        return BeautifulSoup(response.text, "html.parser")

    page = soup(await b.get(f"/cases/{case_id}/meetings"))
    chair = page.select_one("select[name=chair_id] option[selected]")["value"]
    response = await b.post(
        f"/cases/{case_id}/meetings",
        {"title": "Overleg", "starts_at": "2026-11-03T14:00", "chair_id": chair},
    )
    assert response.status_code == 303, response.text
    url = response.headers["location"]
    version = soup(await b.get(url)).select_one("form[action$='/open'] input[name=version]")
    assert (await b.post(url + "/open", {"version": version["value"]})).status_code == 303
    clock.shift(timedelta(minutes=30))
    form = soup(await b.get(url)).select_one("form[action$='/close']")
    version = form.select_one("input[name=version]")["value"]
    closed = await b.post(form["action"], {"version": version, "reaction_days": "5"})
    assert closed.status_code == 303
    return url


async def _person_of(db, participant_id) -> uuid.UUID:
    async with db.begin() as session:
        participant = await session.get(Participant, participant_id)
        return participant.person_id


async def _section_id(db, case_id, key: str) -> uuid.UUID:
    from workspace.plan.models import Section

    async with db.begin() as session:
        await plan.ensure_sections(session, case_id)
        return await session.scalar(
            select(Section.id).where(Section.case_id == case_id, Section.key == key)
        )


async def _link(db, settings, fatima, case_id, participant_id) -> str:
    async with db.begin() as session:
        who = await case_access(
            session, Actor(uuid.uuid4(), await session.get(User, fatima.id), None), case_id
        )
        return (await create_invitation(session, settings, who, participant_id)).token


UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
#: Hex ids without dashes (e.g. a section document's short name) are ids too.
HEX32 = re.compile(r"\b[0-9a-f]{32}\b")
SECRETS = [
    (re.compile(r'(name="csrf_token" value=")[^"]+'), r"\1CSRF"),
    (re.compile(r'("X-CSRF-Token": ?")[^"]+'), r"\1CSRF"),
    (re.compile(r'(name="csp-nonce" content=")[^"]+'), r"\1NONCE"),
    (re.compile(r"(data-csrf=\")[^\"]+"), r"\1CSRF"),
]
#: People's colours are a hash of their (random) participant ids into a small palette, so
#: they collide differently in each world: a function of an id alone, they are blanked.
COLOUR = re.compile(r'(?<=fill=")#[0-9a-f]{6}|(?<=data-user-color=")#[0-9a-f]{6}')


class Names:
    """Ids renamed in order of first appearance in one world's crawl."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}

    def __call__(self, match: re.Match[str]) -> str:
        return self.names.setdefault(match.group(0), f"ID{len(self.names)}")

    def text(self, value: str) -> str:
        for pattern, repl in SECRETS:
            value = pattern.sub(repl, value)
        value = UUID.sub(self, value)
        value = COLOUR.sub("COLOUR", value)
        return HEX32.sub(self, value)


async def _crawl(world: World, settings: Settings) -> tuple[dict[str, str], set[str]]:
    """Every response the son can reach, normalised; and the raw paths fetched."""
    son = Browser(world.app)
    names = Names()
    seen: dict[str, str] = {}
    paths: set[str] = set()
    with time_machine.travel(CRAWL, tick=False):
        claimed = await son.post("/uitnodiging", {"token": world.son_link})
        assert claimed.status_code == 303
        queue = [
            "/cases",
            f"/cases/{world.case_id}",
            f"/cases/{world.case_id}/plan",
            f"/cases/{world.case_id}/plan.md",
            f"/cases/{world.case_id}/audit",
        ]
        while (queue or world.guesses) and len(seen) < 400:
            if not queue:
                # Last, what he might type or guess: e.g. the hidden items' own URLs.
                queue, world.guesses = world.guesses, []
            url = queue.pop(0)
            htmx = "fragment=" in url
            key = names.text(url) + (" [htmx]" if htmx else "")
            if key in seen:
                continue
            response = await son.get(url, headers={"HX-Request": "true"} if htmx else {})
            paths.add(urlsplit(url).path)
            body = response.text
            seen[key] = (
                f"{response.status_code} {response.headers.get('content-type', '')}\n"
                + names.text(body)
            )
            if "text/html" not in response.headers.get("content-type", ""):
                continue
            page = BeautifulSoup(body, "html.parser")
            found = [a.get("href") for a in page.find_all("a")]
            found += [e.get("hx-get") for e in page.find_all(attrs={"hx-get": True})]
            found += [
                f.get("action")
                for f in page.find_all("form")
                if (f.get("method") or "get").lower() == "get"
            ]
            for link in found:
                if not link or link.startswith(("#", "mailto:", "tel:", "http")):
                    continue
                absolute = urljoin(url, link).split("#", 1)[0]
                if absolute.startswith("/static") or absolute.endswith("/live"):
                    continue
                if absolute not in queue:
                    queue.append(absolute)

    await son.aclose()
    return seen, paths


async def test_the_excluded_son_gets_the_same_bytes_whether_or_not_hidden_things_exist(
    two_urls, settings
):
    url_a, url_b = two_urls
    async with contextlib.AsyncExitStack() as stack:
        # The same secret in both worlds (it is in signed values), separate data folders.
        world_a = await _build(
            replace(settings, database_url=url_a, data_dir=settings.data_dir / "a"),
            hidden=False,
            stack=stack,
        )
        world_b = await _build(
            replace(settings, database_url=url_b, data_dir=settings.data_dir / "b"),
            hidden=True,
            stack=stack,
        )
        crawl_a, paths_a = await _crawl(world_a, settings)
        crawl_b, paths_b = await _crawl(world_b, settings)
        assert len(crawl_a) > 10, "the crawl found almost nothing: is he signed in?"
        assert sorted(crawl_a) == sorted(crawl_b), "he can reach different URLs"
        differ = [url for url in crawl_a if crawl_a[url] != crawl_b[url]]
        for url in differ[:3]:
            import difflib

            print(
                "\n".join(
                    difflib.unified_diff(
                        crawl_a[url].splitlines(),
                        crawl_b[url].splitlines(),
                        "A " + url,
                        "B " + url,
                        lineterm="",
                        n=1,
                    )
                )
            )
        assert differ == [], f"{len(differ)} responses tell him something: {differ}"
        _coverage_guard(world_a.app, paths_a | paths_b)


def _coverage_guard(app: Starlette, paths: set[str]) -> None:
    unreached = []
    for route in app.routes:
        if not isinstance(route, Route) or "GET" not in (route.methods or ()):
            continue
        if route.path in NOT_HIS or route.path.startswith(PROFESSIONALS_ONLY):
            continue
        reached = any(
            route.matches({"type": "http", "path": p, "method": "GET"})[0] == Match.FULL
            for p in paths
        )
        if not reached:
            unreached.append(route.path)
    assert unreached == [], (
        "GET routes the non-interference crawl never reached (link them from a page he can "
        f"see, add them to the crawl, or list them in NOT_HIS with the reason): {unreached}"
    )
