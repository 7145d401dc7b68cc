"""Every route of the app against every role: what the server lets through is exactly the policy.

The routes are read from ``app.routes`` when the tests run (the ``/static`` mount and the
realtime websocket are left out: the websocket has its own tests). ``EXPECTED`` holds one row
per route name and method: the roles that get through, and a real request for it, with its
path filled in from a scene made through the app's own forms (``build_scene``). A route
without a row fails ``test_every_route_has_a_row``.

"Gets through" means the policy let the request reach the work: 2xx or 303 (not to the sign-in
page), or 422 for a POST sent with deliberately empty or wrong form data. "Refused" means the
same 404 page a missing item gets, for everyone signed in; for a visitor without a session, a
redirect to the sign-in page (GET) or 401 (POST). Rows with an ``action`` restate
``workspace.access.RULES``; ``test_rows_restate_the_policy_table`` checks that they agree.

The roles are the case roles of ``tests.conftest.world`` plus an outsider (a professional in
another case), a manager and an anonymous visitor. For learning (reflections, intervision) the
same people play: the scene puts the professional and the manager in the coordinator's
organisation (her team), and makes an intervision group of the coordinator, the professional
and two colleagues, so the observer and the outsider are professionals outside both.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from bs4 import BeautifulSoup
from sqlalchemy import select
from starlette.routing import Route

from tests.conftest import World, add_member, invite, make_user
from workspace.access import RULES, Action
from workspace.learning.models import Copy
from workspace.learning.models import Session as IntervisionSession
from workspace.meetings.models import AgendaItem, Meeting
from workspace.meetings.models import Guest as MeetingGuest
from workspace.models import Invitation, Participant, User
from workspace.plan.models import Agreement, Decision, DecisionEntry, Section

C, P, OBS, H, N, X, M, A = (
    "coordinator",
    "professional",
    "observer",
    "household",
    "network",
    "outsider",
    "manager",
    "anonymous",
)
ROLES = [C, P, OBS, H, N, X, M, A]

EVERYONE = frozenset(ROLES)
SIGNED_IN = EVERYONE - {A}
#: People with a professional account (the outsider and the observer too); not the manager.
PRO_ACCOUNTS = frozenset({C, P, OBS, X})
#: The coordinator's organisation in the scene: she, the professional, and their manager.
TEAM = frozenset({C, P, M})
#: The intervision group in the scene (besides two colleagues who play no role here).
GROUP = frozenset({C, P})

NOT_FOUND_TEXT = "Deze pagina bestaat niet, of je hebt er geen toegang toe."


# -- the scene: one of everything a route can name ---------------------------------------------


@dataclass
class Scene:
    world: World
    #: Browsers the scene was made with (not the role's own).
    coordinator: Any
    professional: Any
    #: Path parameters by name: {case}, {meeting}, ...
    ids: dict[str, str] = field(default_factory=dict)
    #: The open meeting's join code.
    code: str = ""

    def fill(self, path: str) -> str:
        return path.format_map(self.ids)


def _soup(response: httpx.Response) -> BeautifulSoup:
    return BeautifulSoup(response.text, "html.parser")


def _hidden(response: httpx.Response, action_end: str, name: str) -> str:
    for form in _soup(response).select("form"):
        if str(form.get("action", "")).endswith(action_end):
            found = form.select_one(f"input[name={name}]")
            if found is not None:
                return str(found["value"])
    raise AssertionError(f"no form ending {action_end} with a field {name}")


def _id_in(location: str, after: str) -> str:
    found = re.search(after + r"/([0-9a-f-]{36})", location)
    assert found is not None, location
    return found.group(1)


async def _scalar(db, statement) -> Any:
    async with db.begin() as session:
        return await session.scalar(statement)


async def _posted(b, url: str, data: dict[str, Any]) -> str:
    """POST a setup form; it must succeed. Returns where it led."""
    response = await b.post(url, data)
    assert response.status_code == 303, (url, response.status_code, response.text[:2000])
    return str(response.headers["location"])


async def _plan_meeting(scene: Scene, title: str, chair: str) -> str:
    case = scene.ids["case"]
    location = await _posted(
        scene.coordinator,
        f"/cases/{case}/meetings",
        {"title": title, "starts_at": "2030-03-04T10:00", "chair_id": chair},
    )
    return _id_in(location, "/meetings")


async def _meeting_version(db, meeting_id: str) -> str:
    return str(
        await _scalar(db, select(Meeting.version).where(Meeting.id == uuid.UUID(meeting_id)))
    )


async def build_scene(world: World, browser, db, settings) -> Scene:
    """A case with a section, an agreement, decisions with dissent, meetings (closed with
    minutes, open with guests waiting, planned), members to invite; a shared reflection, an
    intervision group with a released copy, a draft copy and a session. All through the app's
    own forms, as its users would make them."""
    case = str(world.case.id)
    async with db.begin() as session:
        coordinator = await session.get(User, world.coordinator.id)
        assert coordinator is not None and coordinator.organisation_id is not None
        # The professional and the manager work in the coordinator's organisation (team).
        for user_id in (world.professional.id, world.manager.id):
            user = await session.get(User, user_id)
            assert user is not None
            user.organisation_id = coordinator.organisation_id
        me = await session.scalar(
            select(Participant.id).where(
                Participant.case_id == world.case.id, Participant.user_id == world.coordinator.id
            )
        )
    for email in ("collega1@example.org", "collega2@example.org"):
        await make_user(db, email)
    cb = browser()
    await cb.login(world.coordinator.email)
    pb = browser()
    await pb.login(world.professional.email)
    scene = Scene(world, cb, pb)
    scene.ids.update(
        case=case,
        me=str(me),
        household=str(world.household.id),
        household_person=str(world.household.person_id),
        professional_participant=str(world.professional_participant.id),
    )

    # Members who are only there to be invited, to have an invitation revoked, to claim one.
    kees = await add_member(db, world.case, world.coordinator, "Kees", kind="network")
    jan = await add_member(db, world.case, world.coordinator, "Jan", kind="network")
    lot = await add_member(db, world.case, world.coordinator, "Lot", kind="network")
    await invite(db, settings, world, jan)
    invitation = await _scalar(db, select(Invitation.id).where(Invitation.participant_id == jan.id))
    scene.ids.update(kees=str(kees.id), jan_invitation=str(invitation), lot=str(lot.id))

    # The plan: its sections exist once it is read; an agreement; two decisions, dissent.
    assert (await cb.get(f"/cases/{case}/plan")).status_code == 200
    section = await _scalar(
        db,
        select(Section.id)
        .where(Section.case_id == world.case.id, Section.audience == "all")
        .order_by(Section.phase, Section.position),
    )
    await _posted(
        cb,
        f"/cases/{case}/plan/agreements",
        {"phase": "1", "what": "Niemand slaat", "who_does": "Erik", "checker": "Kees"},
    )
    agreement = await _scalar(db, select(Agreement.id).where(Agreement.case_id == world.case.id))
    decision_form = {
        "phase": "1",
        "kind": "ordinary",
        "question": "Vraag?",
        "proposal": "Voorstel",
        "grounds": "Reden",
        "regime": "vrijwillig",
        "decider": "Regisseur",
    }
    decision = _id_in(await _posted(cb, f"/cases/{case}/decisions", decision_form), "/decisions")
    draft_decision = _id_in(
        await _posted(cb, f"/cases/{case}/decisions", decision_form), "/decisions"
    )
    await _posted(
        pb, f"/cases/{case}/decisions/{decision}/entries", {"kind": "dissent", "text": "Niet eens"}
    )
    dissent = await _scalar(
        db, select(DecisionEntry.id).where(DecisionEntry.decision_id == uuid.UUID(decision))
    )
    scene.ids.update(
        section=str(section),
        agreement=str(agreement),
        decision=decision,
        draft_decision=draft_decision,
        dissent=str(dissent),
    )

    # Meetings, all chaired by the coordinator but one: closed (minutes), open, planned.
    closed = await _plan_meeting(scene, "Eerste overleg", str(me))
    base = f"/cases/{case}/meetings/{closed}"
    await _posted(cb, f"{base}/open", {"version": await _meeting_version(db, closed)})
    await _posted(
        cb, f"{base}/close", {"version": await _meeting_version(db, closed), "reaction_days": "5"}
    )
    meeting = await _plan_meeting(scene, "Tweede overleg", str(me))
    await _posted(
        cb,
        f"/cases/{case}/meetings/{meeting}/open",
        {"version": await _meeting_version(db, meeting)},
    )
    planned = await _plan_meeting(scene, "Derde overleg", str(me))
    chaired = await _plan_meeting(
        scene, "Overleg onder leiding van Petra", str(world.professional_participant.id)
    )
    scene.code = str(
        await _scalar(db, select(Meeting.code).where(Meeting.id == uuid.UUID(meeting)))
    )
    focus_item = await _scalar(
        db, select(AgendaItem.id).where(AgendaItem.meeting_id == uuid.UUID(meeting))
    )
    planned_item = await _scalar(
        db, select(AgendaItem.id).where(AgendaItem.meeting_id == uuid.UUID(planned))
    )
    guests = {}
    for name in ("Gast die wacht", "Gast die weg moet"):
        await _posted(browser(), "/meedoen", {"code": scene.code, "name": name})
        guests[name] = await _scalar(db, select(MeetingGuest.id).where(MeetingGuest.name == name))
    scene.ids.update(
        closed=closed,
        meeting=meeting,
        planned=planned,
        chaired=chaired,
        focus_item=str(focus_item),
        planned_item=str(planned_item),
        waiting_guest=str(guests["Gast die wacht"]),
        refused_guest=str(guests["Gast die weg moet"]),
    )

    # Learning: a reflection shared with the team; a group; a released copy; a draft; a session.
    reflection = _id_in(
        await _posted(cb, "/leren/reflecties", {"body": "Wat ik leerde", "audience": "team"}),
        "/reflecties",
    )
    group = _id_in(
        await _posted(
            cb,
            "/intervisie/groepen",
            {
                "name": "Intervisie",
                "emails": f"{world.professional.email} collega1@example.org collega2@example.org",
            },
        ),
        "/groepen",
    )
    ends_on = (date.today() + timedelta(weeks=4)).isoformat()
    copy_form = {"case_id": case, "group_id": group, "ends_on": ends_on}
    review = await _posted(cb, "/intervisie/kopieen", copy_form)
    copy = _id_in(review, "/kopieen")
    fingerprint = _hidden(await cb.get(review), "/nagekeken", "fingerprint")
    await _posted(cb, f"/intervisie/kopieen/{copy}/nagekeken", {"fingerprint": fingerprint})
    version = _hidden(await cb.get(review), "/vrijgeven", "version")
    await _posted(cb, f"/intervisie/kopieen/{copy}/vrijgeven", {"version": version})
    draft = _id_in(await _posted(pb, "/intervisie/kopieen", copy_form), "/kopieen")
    session = _id_in(
        await _posted(
            cb,
            f"/intervisie/groepen/{group}/sessies",
            {
                "method": "dilemma",
                "question": "Wat doen we?",
                "held_on": date.today().isoformat(),
                "copy_id": copy,
            },
        ),
        "/sessies",
    )
    scene.ids.update(reflection=reflection, group=group, copy=copy, draft=draft, session=session)
    return scene


# -- requests ---------------------------------------------------------------------------------


@dataclass
class Ctx:
    """What a request is made with: the role's browser, the scene, the database."""

    b: Any
    scene: Scene
    db: Any
    settings: Any


Probe = Callable[[Ctx], Awaitable[httpx.Response]]


@dataclass(frozen=True)
class Version:
    """A form's ``version`` field, read from the database when the request is made."""

    model: Any
    param: str


async def _form(c: Ctx, data: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for name, value in data.items():
        if isinstance(value, Version):
            value = await _scalar(
                c.db,
                select(value.model.version).where(
                    value.model.id == uuid.UUID(c.scene.ids[value.param])
                ),
            )
        out[name] = c.scene.fill(str(value))
    return out


def get(path: str, *, stream: bool = False) -> Probe:
    async def probe(c: Ctx) -> httpx.Response:
        url = c.scene.fill(path)
        return await (_stream_head(c.b, url) if stream else c.b.get(url))

    return probe


def post(path: str, data: dict[str, Any] | None = None) -> Probe:
    async def probe(c: Ctx) -> httpx.Response:
        return await c.b.post(c.scene.fill(path), await _form(c, data or {}))

    return probe


async def _stream_head(b, path: str) -> httpx.Response:
    """A live channel (server-sent events) never ends by itself, and the ASGI transport waits
    for the end of a body. So: call the app directly, take the status and headers, then hang
    up, as a browser closing the tab does. A refusal is an ordinary page and ends at once."""
    started = False
    head: dict[str, Any] = {}
    body: list[bytes] = []
    requested = False
    answered = asyncio.Event()

    async def receive() -> dict[str, Any]:
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await answered.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal started
        if message["type"] == "http.response.start":
            started = True
            head.update(message)
            answered.set()
        elif message["type"] == "http.response.body":
            body.append(message.get("body", b""))

    cookies = "; ".join(f"{c.name}={c.value}" for c in b.http.cookies.jar)
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver"), (b"cookie", cookies.encode())],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    await b.app(scope, receive, send)
    assert started, path
    return httpx.Response(
        head["status"],
        headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in head["headers"]],
        content=b"".join(body),
    )


async def _claim_fresh_invitation(c: Ctx) -> httpx.Response:
    """A personal link made just now for Lot, claimed in the role's browser."""
    async with c.db.begin() as session:
        lot = await session.get(Participant, uuid.UUID(c.scene.ids["lot"]))
    return await c.b.claim(await invite(c.db, c.settings, c.scene.world, lot))


async def _continue_from_lobby(c: Ctx) -> httpx.Response:
    """The role's browser joins the open meeting with its code, the chair admits it as the
    household member, and it goes on to the meeting: the lobby asks nobody's account."""
    name = "Gast van " + uuid.uuid4().hex[:6]
    await _posted(c.b, "/meedoen", {"code": c.scene.code, "name": name})
    guest = await _scalar(c.db, select(MeetingGuest.id).where(MeetingGuest.name == name))
    await _posted(
        c.scene.coordinator,
        c.scene.fill(f"/cases/{{case}}/meetings/{{meeting}}/guests/{guest}/admit"),
        {"person_id": c.scene.ids["household_person"]},
    )
    return await c.b.post("/meedoen/verder")


# -- the table ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    allowed: frozenset[str]
    request: Probe
    #: The policy action the route is decided by, when one is (checked against RULES).
    action: Action | None = None


def row(allowed: set[str] | frozenset[str], request: Probe, action: Action | None = None) -> Row:
    return Row(frozenset(allowed), request, action)


CASE_ROLES = frozenset({C, P, OBS, H, N})
_case = "/cases/{case}"
_meeting = "/cases/{case}/meetings/{meeting}"
_closed = "/cases/{case}/meetings/{closed}"
_decision = "/cases/{case}/decisions/{decision}"

EXPECTED: dict[tuple[str, str], Row] = {
    # -- public: whoever asks, signed in or not --
    ("home", "GET"): row(EVERYONE, get("/")),  # a pointer: to /cases, or to /login
    ("health", "GET"): row(EVERYONE, get("/healthz")),
    ("ready", "GET"): row(EVERYONE, get("/readyz")),
    ("login", "GET"): row(EVERYONE, get("/login")),  # signed in: on to /cases
    ("login", "POST"): row(EVERYONE, post("/login")),  # empty: 422
    ("logout", "POST"): row(EVERYONE, post("/logout")),
    # "Snel weg": signs this browser out (if signed in) and leaves; anyone may.
    ("quick_exit", "POST"): row(EVERYONE, post("/snel-weg")),
    ("invitation", "GET"): row(EVERYONE, get("/uitnodiging/een-link")),  # tells nothing
    ("claim_invitation", "POST"): row(EVERYONE, _claim_fresh_invitation),
    ("language", "POST"): row(EVERYONE, post("/taal")),
    ("join", "GET"): row(EVERYONE, get("/meedoen")),
    ("join_post", "POST"): row(EVERYONE, post("/meedoen")),  # no code, no name: 422
    ("lobby", "GET"): row(EVERYONE, get("/meedoen/wacht")),
    ("lobby_continue", "POST"): row(EVERYONE, _continue_from_lobby),
    # -- cases --
    ("cases", "GET"): row(SIGNED_IN, get("/cases")),  # each their own (maybe empty) list
    # A professional account starts a case (workspace/cases/actions.py create_case); no title: 422.
    ("create_case", "POST"): row(PRO_ACCOUNTS, post("/cases")),
    ("case", "GET"): row(CASE_ROLES, get(_case), Action.VIEW_CASE),
    ("add_person", "POST"): row({C, P}, post(f"{_case}/persons"), Action.ADD_PERSON),
    ("add_professional", "POST"): row({C}, post(f"{_case}/participants"), Action.ADD_PARTICIPANT),
    # Revoking the only coordinator is refused as bad input (422): the policy let it through.
    ("revoke_participant", "POST"): row(
        {C}, post(f"{_case}/participants/{{me}}/revoke"), Action.REVOKE_PARTICIPANT
    ),
    ("invite", "POST"): row(
        {C}, post(f"{_case}/participants/{{kees}}/invitations"), Action.INVITE
    ),  # 200: the new link is shown once
    ("revoke_invitation", "POST"): row(
        {C}, post(f"{_case}/invitations/{{jan_invitation}}/revoke"), Action.REVOKE_INVITATION
    ),
    ("case_audit", "GET"): row({C, H}, get(f"{_case}/audit"), Action.VIEW_AUDIT),
    # The text is empty and stays empty: saved (303), nothing changes.
    ("save_notes", "POST"): row({C, P, H, N}, post(f"{_case}/notes"), Action.EDIT_NOTES),
    # -- the plan --
    # The plan's pages, its export and live channel are the observer's too: they show an
    # observer the safety agreements only (load_plan: agreement_only).
    ("plan", "GET"): row(CASE_ROLES, get(f"{_case}/plan"), Action.VIEW_AGREEMENTS),
    ("plan_export", "GET"): row(CASE_ROLES, get(f"{_case}/plan.md"), Action.VIEW_AGREEMENTS),
    ("plan_live", "GET"): row(
        CASE_ROLES, get(f"{_case}/live", stream=True), Action.VIEW_AGREEMENTS
    ),
    ("timeline", "GET"): row(CASE_ROLES, get(f"{_case}/timeline"), Action.VIEW_AGREEMENTS),
    ("add_agreement", "POST"): row(
        {C, P, H, N}, post(f"{_case}/plan/agreements"), Action.ADD_RECORD
    ),
    ("agreement_status", "POST"): row(
        {C, P, H, N},
        post(
            f"{_case}/plan/agreements/{{agreement}}/status",
            {"status": "", "version": Version(Agreement, "agreement")},
        ),
        Action.ADD_RECORD,
    ),  # no status chosen: 422
    ("add_incident", "POST"): row({C, P, H, N}, post(f"{_case}/plan/incidents"), Action.ADD_RECORD),
    ("add_scores", "POST"): row({C, P, H, N}, post(f"{_case}/plan/scores"), Action.ADD_RECORD),
    ("add_question", "POST"): row({C, P}, post(f"{_case}/plan/questions"), Action.EVALUATE),
    ("add_evaluation", "POST"): row({C, P}, post(f"{_case}/plan/evaluations"), Action.EVALUATE),
    ("add_section", "POST"): row({C, P}, post(f"{_case}/plan/sections"), Action.SET_AUDIENCE),
    ("section_audience", "POST"): row(
        {C, P},
        post(
            f"{_case}/plan/sections/{{section}}/audience",
            {"audience": "niemand", "version": Version(Section, "section")},
        ),
        Action.SET_AUDIENCE,
    ),  # an audience that does not exist: 422
    ("section_text", "POST"): row(
        {C, P, H, N}, post(f"{_case}/plan/sections/{{section}}/text"), Action.EDIT_NOTES
    ),  # empty, and stays empty: 303
    ("section_versions", "GET"): row(
        {C, P, H, N}, get(f"{_case}/plan/sections/{{section}}/versies"), Action.VIEW_PLAN
    ),
    ("new_decision", "GET"): row({C, P}, get(f"{_case}/decisions/new"), Action.PROPOSE_DECISION),
    ("add_decision", "POST"): row({C, P}, post(f"{_case}/decisions"), Action.PROPOSE_DECISION),
    ("decision", "GET"): row({C, P, H, N}, get(_decision), Action.VIEW_PLAN),
    ("decision_entry", "POST"): row(
        {C, P, H, N}, post(f"{_decision}/entries", {"kind": "dissent"}), Action.DISSENT
    ),  # no text: 422 (other kinds: VARIANTS)
    ("decision_step", "POST"): row(
        {C},
        post(f"{_decision}/step", {"step": "take", "version": Version(Decision, "decision")}),
        Action.DECIDE,
    ),  # dissent is unanswered: not ready (422)
    # -- meetings --
    ("meetings", "GET"): row({C, P, H, N}, get(f"{_case}/meetings"), Action.VIEW_MEETING),
    ("add_meeting", "POST"): row({C, P}, post(f"{_case}/meetings"), Action.PLAN_MEETING),
    ("meeting", "GET"): row({C, P, H, N}, get(_meeting), Action.VIEW_MEETING),
    ("meeting_live", "GET"): row(
        {C, P, H, N}, get(f"{_meeting}/live", stream=True), Action.VIEW_MEETING
    ),
    ("meeting_screen", "GET"): row({C, P, H, N}, get(f"{_meeting}/scherm"), Action.VIEW_MEETING),
    # The chair's forms; these meetings are chaired by the coordinator.
    ("meeting_open", "POST"): row(
        {C},
        post("/cases/{case}/meetings/{planned}/open", {"version": Version(Meeting, "planned")}),
        Action.CHAIR_MEETING,
    ),  # another meeting is open: 422
    ("meeting_focus", "POST"): row(
        {C},
        post(f"{_meeting}/focus", {"item": "{focus_item}", "version": Version(Meeting, "meeting")}),
        Action.CHAIR_MEETING,
    ),
    ("meeting_close", "POST"): row(
        {C},
        post(
            f"{_meeting}/close",
            {"version": Version(Meeting, "meeting"), "reaction_days": "0"},
        ),
        Action.CHAIR_MEETING,
    ),  # 0 days to react: 422
    ("meeting_agenda", "POST"): row({C}, post(f"{_meeting}/agenda"), Action.CHAIR_MEETING),
    ("meeting_agenda_remove", "POST"): row(
        {C},
        post(
            "/cases/{case}/meetings/{planned}/agenda/{planned_item}/remove",
            {"version": Version(Meeting, "planned")},
        ),
        Action.CHAIR_MEETING,
    ),
    ("meeting_attendance", "POST"): row(
        {C},
        post(f"{_meeting}/attendance", {"participant_id": "{household}", "present": "1"}),
        Action.CHAIR_MEETING,
    ),
    ("meeting_admit", "POST"): row(
        {C}, post(f"{_meeting}/guests/{{waiting_guest}}/admit"), Action.CHAIR_MEETING
    ),  # as nobody in particular: 422
    ("meeting_refuse", "POST"): row(
        {C}, post(f"{_meeting}/guests/{{refused_guest}}/refuse"), Action.CHAIR_MEETING
    ),
    # "meedoen aan overleggen en de verslagen lezen"
    ("minutes", "GET"): row({C, P, H, N}, get(f"{_closed}/verslag"), Action.VIEW_MEETING),
    ("minutes_md", "GET"): row({C, P, H, N}, get(f"{_closed}/verslag.md"), Action.VIEW_MEETING),
    ("minutes_pdf", "GET"): row({C, P, H, N}, get(f"{_closed}/verslag.pdf"), Action.VIEW_MEETING),
    ("minutes_react", "POST"): row(
        {C, P, H, N}, post(f"{_closed}/verslag/reacties"), Action.REACT_MINUTES
    ),
    ("minutes_period", "POST"): row({C}, post(f"{_closed}/verslag/termijn"), Action.CHAIR_MEETING),
    # -- learning: reflections (workspace/learning/reflection.py) --
    ("learning", "GET"): row(PRO_ACCOUNTS | {M}, get("/leren")),  # on to their own page
    ("reflections", "GET"): row(PRO_ACCOUNTS, get("/leren/reflecties")),
    ("add_reflection", "POST"): row(PRO_ACCOUNTS, post("/leren/reflecties")),
    # Shared with the team: its author, her colleagues and their manager; nobody else.
    ("reflection", "GET"): row(TEAM, get("/leren/reflecties/{reflection}")),
    ("edit_reflection", "POST"): row({C}, post("/leren/reflecties/{reflection}")),  # the author
    ("reflection_respond", "POST"): row(TEAM, post("/leren/reflecties/{reflection}/reactie")),
    # The manager takes a signal on; this one has none: 422.
    ("reflection_signal", "POST"): row({M}, post("/leren/reflecties/{reflection}/agenderen")),
    ("learning_team", "GET"): row(PRO_ACCOUNTS, get("/leren/team")),
    ("learning_review", "GET"): row({M}, get("/leren/overzicht")),
    ("digest_md", "GET"): row({M}, get("/leren/leeroverzicht.md")),
    ("digest_pdf", "GET"): row({M}, get("/leren/leeroverzicht.pdf")),
    # -- learning: intervision (workspace/learning/intervision.py) --
    ("intervision", "GET"): row(PRO_ACCOUNTS, get("/intervisie")),
    ("add_group", "POST"): row(PRO_ACCOUNTS, post("/intervisie/groepen")),
    ("group", "GET"): row(GROUP, get("/intervisie/groepen/{group}")),
    ("group_member", "POST"): row(GROUP, post("/intervisie/groepen/{group}/leden")),
    ("group_leave", "POST"): row(GROUP, post("/intervisie/groepen/{group}/verlaten")),
    ("add_session", "POST"): row(GROUP, post("/intervisie/groepen/{group}/sessies")),
    # Any professional may start one; the form then asks for a case and a group of their own.
    ("add_copy", "POST"): row(PRO_ACCOUNTS, post("/intervisie/kopieen")),
    # A draft is its maker's only (the professional made it), not the group's or the case's.
    ("copy_review", "GET"): row({P}, get("/intervisie/kopieen/{draft}/nakijken")),
    ("copy_mark", "POST"): row({P}, post("/intervisie/kopieen/{draft}/woorden")),
    ("copy_reviewed", "POST"): row(
        {P}, post("/intervisie/kopieen/{draft}/nagekeken", {"fingerprint": "oud"})
    ),  # a list they did not see: 422
    ("copy_release", "POST"): row(
        {P},
        post("/intervisie/kopieen/{draft}/vrijgeven", {"version": Version(Copy, "draft")}),
    ),  # not reviewed yet: 422
    # A released copy is the group's.
    ("copy", "GET"): row(GROUP, get("/intervisie/kopieen/{copy}")),
    ("copy_end", "POST"): row(GROUP, post("/intervisie/kopieen/{copy}/beeindigen")),
    ("add_annotation", "POST"): row(GROUP, post("/intervisie/kopieen/{copy}/opmerkingen")),
    ("session", "GET"): row(GROUP, get("/intervisie/sessies/{session}")),
    ("screen", "GET"): row(GROUP, get("/intervisie/sessies/{session}/scherm")),
    ("session_live", "GET"): row(GROUP, get("/intervisie/sessies/{session}/live", stream=True)),
    ("session_step", "POST"): row(
        GROUP,
        post(
            "/intervisie/sessies/{session}/stap",
            {"step": "1", "version": Version(IntervisionSession, "session")},
        ),
    ),
    ("session_outcome", "POST"): row(
        GROUP,
        post(
            "/intervisie/sessies/{session}/uitkomst",
            {"version": Version(IntervisionSession, "session")},
        ),
    ),
    ("session_md", "GET"): row(GROUP, get("/intervisie/sessies/{session}/verslag.md")),
    ("session_pdf", "GET"): row(GROUP, get("/intervisie/sessies/{session}/verslag.pdf")),
}

#: Routes whose form decides which rule applies: the other rules, one request each.
VARIANTS: dict[str, Row] = {
    "decision_entry POST kind=answer": row(
        {C, P},
        post(f"{_decision}/entries", {"kind": "answer", "answers": "{dissent}"}),
        Action.ANSWER_DISSENT,
    ),
    # The household's own response; the coordinator writes down others' words.
    "decision_entry POST kind=response": row(
        {C, H}, post(f"{_decision}/entries", {"kind": "response"}), Action.RESPOND
    ),
    "decision_step POST step=dissent": row(
        {C, P},
        post(
            "/cases/{case}/decisions/{draft_decision}/step",
            {"step": "dissent", "version": Version(Decision, "draft_decision")},
        ),
        Action.PROPOSE_DECISION,
    ),
    # The professional chosen as this meeting's chair leads it too (CHAIR_MEETING's comment).
    "meeting_agenda POST (the professional chairs)": row(
        {C, P}, post("/cases/{case}/meetings/{chaired}/agenda")
    ),
}

#: These end something the role's other requests need (a membership, a copy, the session
#: itself), so they go last, in this order.
LAST = [
    ("copy_end", "POST"),
    ("group_leave", "POST"),
    ("lobby_continue", "POST"),
    ("claim_invitation", "POST"),
    ("logout", "POST"),
    ("quick_exit", "POST"),
]


def route_keys(app) -> list[tuple[str, str]]:
    """(name, method) of every HTTP route, in the app's order; HEAD goes with GET."""
    keys = []
    for route in app.routes:
        if isinstance(route, Route):
            for method in sorted((route.methods or set()) - {"HEAD"}):
                keys.append((route.name, method))
    return keys


# -- judging an answer --------------------------------------------------------------------------


def verdict(role: str, method: str, allowed: bool, response: httpx.Response) -> str:
    """Empty if ``response`` is what the policy says ``role`` gets; else what is wrong."""
    status = response.status_code
    location = response.headers.get("location", "")
    to_login = status == 303 and location.startswith("/login?next=")
    if allowed:
        if status in (200, 303) and not to_login:
            return ""
        if status == 422 and method == "POST":
            return ""
        return f"should get through, got {status} {location}".rstrip()
    if role == A:
        if (method == "GET" and to_login) or (method != "GET" and status == 401):
            return ""
        return f"should be sent to sign in, got {status} {location}".rstrip()
    if status == 404 and NOT_FOUND_TEXT in response.text:
        return ""
    return f"should get the same 404 as a missing page, got {status} {location}".rstrip()


async def as_role(role: str, browser, world: World, settings, db):
    b = browser()
    if role in (H, N):
        participant = world.household if role == H else world.network
        response = await b.claim(await invite(db, settings, world, participant))
        assert response.status_code == 303
    elif role != A:
        await b.login(getattr(world, role).email)
    return b


# -- the tests ----------------------------------------------------------------------------------


def test_every_route_has_a_row(app):
    keys = route_keys(app)
    assert len(keys) == len(set(keys)), "two routes share a name and method"
    missing = [k for k in keys if k not in EXPECTED]
    assert not missing, (
        "routes without a row in EXPECTED (tests/web/test_access_matrix.py): say who gets "
        f"through and how to ask: {missing}"
    )
    stale = sorted(set(EXPECTED) - set(keys))
    assert not stale, f"rows in EXPECTED for routes that no longer exist: {stale}"
    assert all(k in EXPECTED for k in LAST)


def test_rows_restate_the_policy_table():
    """A row decided by a rule lets through exactly the roles RULES gives it."""
    wrong = []
    for label, r in [*((f"{n} {m}", r) for (n, m), r in EXPECTED.items()), *VARIANTS.items()]:
        if r.action is None:
            continue
        policy = {str(role) for role in RULES[r.action][0]}
        if set(r.allowed) != policy:
            wrong.append(f"{label}: row {sorted(r.allowed)}, RULES {sorted(policy)}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("role", ROLES)
async def test_access_matrix(role, app, browser, world, settings, db):
    scene = await build_scene(world, browser, db, settings)
    b = await as_role(role, browser, world, settings, db)
    c = Ctx(b, scene, db, settings)
    keys = route_keys(app)
    missing = [k for k in keys if k not in EXPECTED]
    assert not missing, f"routes without a row in EXPECTED: {missing}"
    order = [k for k in keys if k not in LAST] + LAST
    requests = [(f"{n} {m}", m, EXPECTED[(n, m)]) for n, m in order]
    requests[-len(LAST) : -len(LAST)] = [
        (label, label.split()[1], r) for label, r in VARIANTS.items()
    ]
    failures = []
    for label, method, r in requests:
        response = await r.request(c)
        wrong = verdict(role, method, role in r.allowed, response)
        if wrong:
            failures.append(f"  {label}: {wrong}")
    assert not failures, f"as {role}:\n" + "\n".join(failures)


async def test_forbidden_and_missing_cases_look_the_same(browser, world):
    b = browser()
    await b.login(world.professional.email)
    forbidden = await b.get(f"/cases/{world.other_case.id}")
    missing = await b.get("/cases/00000000-0000-4000-8000-000000000000")
    malformed = await b.get("/cases/not-a-uuid")
    assert forbidden.status_code == missing.status_code == malformed.status_code == 404
    # Identical but for the page's own address (echoed in the language switch) and the
    # response's CSP nonce (new on every response).
    assert _page(forbidden, str(world.other_case.id)) == _page(
        missing, "00000000-0000-4000-8000-000000000000"
    )


def _page(response: httpx.Response, address: str) -> str:
    nonce = re.search(r"'nonce-([^']+)'", response.headers["content-security-policy"])
    assert nonce is not None
    return response.text.replace(address, "ID").replace(nonce.group(1), "NONCE")


async def test_revoked_professional_loses_access_at_once(browser, world):
    pro = browser()
    await pro.login(world.professional.email)
    assert (await pro.get(f"/cases/{world.case.id}")).status_code == 200
    coordinator = browser()
    await coordinator.login(world.coordinator.email)
    async with coordinator.app.state.db.begin() as session:
        participant = await session.scalar(
            select(Participant).where(Participant.user_id == world.professional.id)
        )
    response = await coordinator.post(
        f"/cases/{world.case.id}/participants/{participant.id}/revoke"
    )
    assert response.status_code == 303
    assert (await pro.get(f"/cases/{world.case.id}")).status_code == 404


async def test_the_last_coordinator_cannot_be_removed(browser, world, db):
    b = browser()
    await b.login(world.coordinator.email)
    async with db.begin() as session:
        me = await session.scalar(
            select(Participant).where(Participant.user_id == world.coordinator.id)
        )
    response = await b.post(f"/cases/{world.case.id}/participants/{me.id}/revoke")
    assert response.status_code == 422
    assert "altijd een regisseur" in response.text
