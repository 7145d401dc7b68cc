"""Meeting pages: the list and planning form, the meeting page (the plan, with the agenda, who
is here, and the chair's controls), the shared screen, joining with a code through the lobby,
versions of the plan's text, and the minutes (page, Markdown, PDF).

Every form is a plain POST answered with a 303; on bad input the page again with what was
typed (422); a chair action from a stale screen is refused with an explanation (409). Events
go out after commit; screens fetch the changed block with their own permissions."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from typing import Any

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from workspace import audit
from workspace.access import ROLE_LABELS, Action, CaseAccess, case_access
from workspace.auth.views import end_previous_session
from workspace.cases.views import qr_svg
from workspace.errors import Conflict, NotFound, Throttled, ValidationError
from workspace.grants import end_access
from workspace.i18n import N_
from workspace.markdown import render as render_markdown
from workspace.meetings import actions, minutes, versions
from workspace.meetings.actions import MeetingChanged
from workspace.meetings.models import (
    AgendaKind,
    Guest,
    GuestState,
    Meeting,
    MeetingState,
    VersionReason,
)
from workspace.models import Person, PersonKind
from workspace.notes import PALETTE, colour_for, section_document
from workspace.plan import actions as plan_actions
from workspace.plan import catalogue
from workspace.plan import views as plan_views
from workspace.plan.actions import load_plan
from workspace.plan.models import Decision, Evaluation, Section
from workspace.web import (
    SESSION_COOKIE,
    actor_of,
    client_source,
    cookie_header,
    form_data,
    is_htmx,
    live_events,
    parse_uuid,
    redirect,
    render,
    uuid_param,
)

log = logging.getLogger("kring.meetings")

GUEST_COOKIE = "kring_guest"

#: Blocks of meetings/show.html a screen may ask for, besides the plan's own.
MEETING_FRAGMENTS = {
    "meeting-head": "meeting_head",
    "meeting-focus": "meeting_now",
    "meeting-presence": "meeting_people",
    "meeting-lobby": "meeting_lobby",
    "meeting-agenda": "meeting_agenda",
}
SCREEN_FRAGMENTS = {
    "screen-focus": "screen_focus",
    "screen-people": "screen_people",
    "screen-agenda": "screen_agenda",
}


def _path(request: Request, name: str, **params: Any) -> str:
    return str(request.url_for(name, **params).path)


# -- the list, and planning a meeting --------------------------------------------------------


async def meetings_page(
    request: Request,
    *,
    status_code: int = 200,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
) -> Response:
    actor = actor_of(request)
    case_id = parse_uuid(request.path_params["case_id"])
    async with request.app.state.db.begin() as db:
        who = await case_access(db, actor, case_id)
        who.require(Action.VIEW_MEETING)
        meetings = await actions.meetings_of(db, who)
        participants = await actions.active_participants(db, case_id)
        audit.record(db, who, "meeting.list", object_type="case", object_id=case_id)
    if values is None:
        start = actions.local_now().replace(minute=0, second=0, microsecond=0)
        values = {
            "title": _default_title(len(meetings)),
            "starts_at": start.strftime("%Y-%m-%dT%H:%M"),
            "chair_id": str(who.participant.id)
            if who.role in ("coordinator", "professional")
            else "",
        }
    return render(
        request,
        "meetings/list.html",
        {
            "who": who,
            "case": who.case,
            "meetings": meetings,
            "participants": participants,
            "values": values,
            "errors": errors or {},
            "invited": set(values.get("invited", "").split(",")) if values.get("invited") else None,
            "can": _can(who),
            "role_labels": ROLE_LABELS,
            "states": STATE_LABELS,
        },
        status_code=status_code,
    )


STATE_LABELS = actions.STATE_LABELS


def _default_title(count: int) -> str:
    from workspace.i18n import _

    return _("Gezinsplanoverleg %(n)s") % {"n": count + 1}


def _can(who: CaseAccess) -> dict[str, bool]:
    return {a.name.lower(): who.can(a) for a in Action}


async def meetings_get(request: Request) -> Response:
    return await meetings_page(request)


async def post_meeting(request: Request) -> Response:
    actor = actor_of(request)
    case_id = parse_uuid(request.path_params["case_id"])
    form = await form_data(request)
    values = {name: str(form.get(name) or "") for name in actions.MEETING_FIELDS}
    invited = [str(v) for v in form.getlist("invited")]
    values["invited"] = ",".join(invited)
    try:
        async with request.app.state.db.begin() as db:
            who = await case_access(db, actor, case_id)
            meeting = await actions.plan_meeting(db, who, values, invited)
    except ValidationError as exc:
        return await meetings_page(request, status_code=422, values=values, errors=exc.errors)
    await request.app.state.events.publish(MeetingChanged(case_id, "meetings", meeting.id))
    return redirect(_path(request, "meeting", case_id=case_id, meeting_id=meeting.id))


# -- the meeting page -------------------------------------------------------------------------


async def _meeting_context(
    request: Request, db: Any, who: CaseAccess, meeting: Meeting
) -> dict[str, Any]:
    items = await actions.agenda(db, meeting.id)
    agenda = await actions.agenda_views(db, who, items)
    chair = actions.may_chair(who, meeting)
    present_now = request.app.state.presence.present(meeting.id)
    attendance = await actions.attendance(db, meeting.id)
    invited = await actions.invitees(db, meeting.id)
    participants = await actions.active_participants(db, who.case.id)
    by_id = {p.id: p for p in participants}
    marked = {a.participant_id: a for a in attendance}
    people = []
    for participant in participants:
        row = marked.get(participant.id)
        here = participant.id in present_now
        people.append(
            {
                "participant": participant,
                "here": here,
                "was_here": row is not None and row.present,
                "by_chair": row is not None and row.source == "chair",
                "invited": participant in invited,
                "colour": colour_for(participant),
                "role": ROLE_LABELS[participant.role],  # type: ignore[index]
            }
        )
    persons = []
    guests: list[Guest] = []
    if chair:
        guests = await actions.waiting_guests(db, meeting.id)

        persons = list(
            await db.scalars(
                select(Person).where(Person.case_id == who.case.id).order_by(Person.created_at)
            )
        )
    focus = next((a for a in agenda if str(a.item.id) == meeting.focus), None)
    return {
        "meeting": meeting,
        "agenda": agenda,
        "focus": focus,
        "chair": chair,
        "people": people,
        "present_count": sum(1 for p in people if p["here"] or p["was_here"]),
        "guests": guests,
        "persons": [p for p in persons if p.kind in (PersonKind.HOUSEHOLD, PersonKind.NETWORK)],
        "chair_name": by_id[meeting.chair_id].display_name if meeting.chair_id in by_id else "",
        "states": STATE_LABELS,
        "fragment_url": _path(request, "meeting", case_id=who.case.id, meeting_id=meeting.id)
        + "?fragment=",
        "live_url": _path(request, "meeting_live", case_id=who.case.id, meeting_id=meeting.id),
        "join_url": str(request.app.state.settings.base_url).rstrip("/") + "/meedoen",
    }


async def meeting_response(
    request: Request,
    meeting_id: uuid.UUID,
    *,
    status_code: int = 200,
    block: str | None = None,
    **extra: Any,
) -> Response:
    """The meeting page: the plan's page with the meeting around it. Also answers a plan form
    sent from here that came back with an error or a conflict."""
    actor = actor_of(request)
    case_id = parse_uuid(request.path_params["case_id"])
    if not is_htmx(request):
        block = None  # a block is only ever a fragment for htmx; otherwise the whole page
    meeting_block = block is not None and block not in PLAN_BLOCKS
    async with request.app.state.db.begin() as db:
        who = await case_access(db, actor, case_id)
        meeting = await actions.get_meeting(db, who, meeting_id)
        if meeting_block:
            # The meeting's own blocks (who is here, the lobby...) need none of the plan.
            context: dict[str, Any] = {"who": who, "case": who.case, "can": _can(who), **extra}
        else:
            context = await plan_views.plan_context(request, db, who, **extra)
        context.update(await _meeting_context(request, db, who, meeting))
        context["open_meeting"] = None
        audit.record(db, who, "meeting.view", object_type="meeting", object_id=meeting.id)
    if not meeting_block:
        context = await plan_views.finish_context(request, who, context, block)
    # The plan's own blocks live in plan/show.html (a child template's blocks don't include
    # its parent's): rendered with this meeting's context, their forms link to the meeting.
    name = "plan/show.html" if block in PLAN_BLOCKS else "meetings/show.html"
    return render(request, name, context, status_code=status_code, block=block)


PLAN_BLOCKS = frozenset(plan_views.PLAN_FRAGMENTS.values())


async def meeting_page(request: Request) -> Response:
    meeting_id = parse_uuid(request.path_params["meeting_id"])
    fragment = request.query_params.get("fragment")
    if fragment is not None:
        block = MEETING_FRAGMENTS.get(fragment) or plan_views.PLAN_FRAGMENTS.get(fragment)
        if block is None or request.headers.get("hx-request") != "true":
            raise NotFound("unknown fragment")
        return await meeting_response(request, meeting_id, block=block)
    return await meeting_response(request, meeting_id)


async def _chair_step(request: Request, step: str, *, anchor: str = "") -> Response:
    """One of the chair's actions: open, focus, close, agenda, attendance, admit, refuse."""
    actor = actor_of(request)
    case_id = parse_uuid(request.path_params["case_id"])
    meeting_id = parse_uuid(request.path_params["meeting_id"])
    form = await form_data(request)
    values = {k: str(form.get(k) or "") for k in form}
    changed: list[str] = []
    closed: actions.Closed | None = None
    try:
        async with request.app.state.db.begin() as db:
            who = await case_access(db, actor, case_id)
            if step == "open":
                await actions.open_meeting(db, who, meeting_id, values.get("version", ""))
                changed = ["meeting-state", "meeting-head", "meeting-focus", "meetings"]
            elif step == "focus":
                await actions.set_focus(
                    db,
                    who,
                    meeting_id,
                    values.get("item", ""),
                    values.get("version", ""),
                    target=values.get("target", ""),
                )
                changed = ["meeting-focus", "meeting-agenda", "meeting-head"]
            elif step == "close":
                closed = await actions.close_meeting(db, who, meeting_id, values)
                changed = ["meeting-state", "meeting-head", "meetings"]
            elif step == "agenda":
                await actions.add_agenda_item(db, who, meeting_id, values)
                changed = ["meeting-agenda", "meeting-head"]
            elif step == "agenda-remove":
                await actions.remove_agenda_item(
                    db,
                    who,
                    meeting_id,
                    parse_uuid(request.path_params["item_id"]),
                    values.get("version", ""),
                )
                changed = ["meeting-agenda", "meeting-focus", "meeting-head"]
            elif step == "attendance":
                await actions.set_attendance(
                    db,
                    who,
                    meeting_id,
                    values.get("participant_id", ""),
                    values.get("present") == "1",
                )
                changed = ["meeting-presence"]
            elif step == "admit":
                await actions.admit_guest(
                    db,
                    who,
                    meeting_id,
                    parse_uuid(request.path_params["guest_id"]),
                    values.get("person_id", ""),
                )
                changed = ["meeting-lobby", "meeting-presence"]
            elif step == "refuse":
                await actions.refuse_guest(
                    db, who, meeting_id, parse_uuid(request.path_params["guest_id"])
                )
                changed = ["meeting-lobby"]
            else:  # pragma: no cover - routes name the steps
                raise NotFound(step)
            if step == "open":
                meeting = await db.get(Meeting, meeting_id)
                assert meeting is not None
                sections = await _sections(db, case_id)
                await versions.capture(
                    db, request.app.state.realtime.store, sections, VersionReason.OPEN, meeting_id
                )
    except ValidationError as exc:
        return await meeting_response(
            request, meeting_id, status_code=422, chair_errors=exc.errors, chair_values=values
        )
    except Conflict:
        return await meeting_response(request, meeting_id, status_code=409, chair_conflict=step)
    if closed is not None:
        await _after_close(request, closed)
    for what in changed:
        await request.app.state.events.publish(MeetingChanged(case_id, what, meeting_id))
    url = _path(request, "meeting", case_id=case_id, meeting_id=meeting_id)
    if closed is not None:
        url = _path(request, "minutes", case_id=case_id, meeting_id=meeting_id)
    return redirect(url + (f"#{anchor}" if anchor else ""))


async def _sections(db: Any, case_id: uuid.UUID) -> list[Section]:
    return list(await db.scalars(select(Section).where(Section.case_id == case_id)))


async def _after_close(request: Request, closed: actions.Closed) -> None:
    """Committed: capture the texts as they are now, make the minutes, end guest sockets.

    Someone typing while the chair closes loses nothing: their edits keep being stored (the
    documents belong to the plan, not the meeting); the version and minutes hold what was
    stored at this moment. Guests' access ends first: their sockets and event streams close,
    what they sent before is stored (``end_access`` waits for it), and nothing they send
    after is taken."""
    meeting = closed.meeting
    realtime = request.app.state.realtime
    await end_access(request.app, closed.ended)
    async with request.app.state.db.begin() as db:
        fresh = await db.get(Meeting, meeting.id)
        assert fresh is not None
        await minutes.capture_close(db, realtime.store, fresh)
    async with request.app.state.db.begin() as db:
        fresh = await db.get(Meeting, meeting.id)
        assert fresh is not None
        await minutes.make_minutes(db, realtime.store.engine, fresh, closed.reaction_days)


async def post_open(request: Request) -> Response:
    return await _chair_step(request, "open")


async def post_focus(request: Request) -> Response:
    return await _chair_step(request, "focus", anchor="agenda")


async def post_close(request: Request) -> Response:
    return await _chair_step(request, "close")


async def post_agenda(request: Request) -> Response:
    return await _chair_step(request, "agenda", anchor="agenda")


async def post_agenda_remove(request: Request) -> Response:
    return await _chair_step(request, "agenda-remove", anchor="agenda")


async def post_attendance(request: Request) -> Response:
    return await _chair_step(request, "attendance", anchor="people")


async def post_admit(request: Request) -> Response:
    return await _chair_step(request, "admit", anchor="lobby")


async def post_refuse(request: Request) -> Response:
    return await _chair_step(request, "refuse", anchor="lobby")


# -- the live channel, with presence ---------------------------------------------------------


async def meeting_live(request: Request) -> Response:
    """Server-sent events for a meeting screen: the names of what changed in this case (plan
    fragments and meeting blocks), never content. While it is open its participant counts as
    present; the shared screen and the participants' screens learn of arrivals and departures.
    """
    actor = actor_of(request)
    case_id = parse_uuid(request.path_params["case_id"])
    meeting_id = parse_uuid(request.path_params["meeting_id"])
    async with request.app.state.db.begin() as db:
        who = await case_access(db, actor, case_id)
        meeting = await actions.get_meeting(db, who, meeting_id)
        audit.record(db, who, "meeting.live", object_type="meeting", object_id=meeting.id)
    events = request.app.state.events
    participant_id = who.participant.id
    app = request.app

    async def on_change(arrived: bool) -> None:
        if not arrived and participant_id in app.state.presence.present(meeting_id):
            return  # their screen on another worker is still open: they are still here
        try:
            async with app.state.db.begin() as db:
                await actions.mark_seen(db, meeting_id, participant_id, arrived=arrived)
        except Exception:
            # Presence is a convenience; a failed write must not end the meeting screen.
            log.warning("recording presence failed", exc_info=True)
        # Who is here right now changed either way: tell the screens.
        await events.publish(MeetingChanged(case_id, "meeting-presence", meeting_id))

    def this_meeting(event: object) -> bool:
        other = getattr(event, "meeting_id", None)
        # The plan's events on this page follow the plan's rule: only what its reader may see.
        return (other is None or other == meeting_id) and plan_views.hears(who, event)

    return live_events(
        request,
        case_id,
        keys=who.keys,
        accept=this_meeting,
        while_open=app.state.presence.attend(case_id, meeting_id, participant_id, on_change),
    )


# -- the shared screen -----------------------------------------------------------------------


async def screen_page(request: Request) -> Response:
    """The shared screen (projector, or a shared screen in a call): large, high contrast, what
    the chair put in focus, who is here, and how to join. It shows only what is meant for
    everyone in the case: whoever sits in the room can read a projector."""
    actor = actor_of(request)
    case_id = parse_uuid(request.path_params["case_id"])
    meeting_id = parse_uuid(request.path_params["meeting_id"])
    fragment = request.query_params.get("fragment")
    block = None
    if fragment is not None:
        block = SCREEN_FRAGMENTS.get(fragment)
        if block is None or request.headers.get("hx-request") != "true":
            raise NotFound("unknown fragment")
    async with request.app.state.db.begin() as db:
        who = await case_access(db, actor, case_id)
        meeting = await actions.get_meeting(db, who, meeting_id)
        context = await _meeting_context(request, db, who, meeting)
        plan = await load_plan(db, who)
        focus = context["focus"]
        shown = await _screen_focus(db, who, meeting, focus, plan)
        audit.record(db, who, "meeting.screen", object_type="meeting", object_id=meeting.id)
    documents = []
    for section in shown.get("sections", []):
        text = await request.app.state.realtime.text(section_document(case_id, section.id))
        documents.append(
            {
                "row": section,
                "document": section_document(case_id, section.id),
                "title": plan_actions.section_label(section),
                "html": render_markdown(text),
            }
        )
    context.update(
        {
            "who": who,
            "case": who.case,
            "plan": plan,
            "catalogue": catalogue,
            "shown": shown,
            "documents": documents,
            "charts": plan_views.chart(plan) if shown.get("scores") else [],
            "qr": qr_svg(context["join_url"] + "#" + meeting.code) if meeting.code else "",
            "screen_url": _path(request, "meeting_screen", case_id=case_id, meeting_id=meeting.id)
            + "?fragment=",
            "colour": colour_for(who.participant),
        }
    )
    return render(request, "meetings/screen.html", context, block=block)


async def _screen_focus(
    db: Any, who: CaseAccess, meeting: Meeting, focus: Any, plan: Any
) -> dict[str, Any]:
    """What the shared screen shows for the item in focus: only what everyone may see."""
    if focus is None:
        return {}
    item = focus.item
    if item.kind == AgendaKind.SECTION:
        if item.ref.startswith("kind:"):
            key = item.ref.removeprefix("kind:")
            sections = [
                s
                for s in await db.scalars(
                    select(Section)
                    .where(Section.case_id == who.case.id, Section.key == key)
                    .order_by(Section.position)
                )
                if s.audience == "all"
            ]
        else:
            section = await db.get(Section, uuid.UUID(item.ref))
            sections = [section] if section is not None and section.audience == "all" else []
        return {"sections": sections, "hidden": not sections}
    if item.kind == AgendaKind.AGREEMENTS:
        phase = item.ref.removeprefix("phase:")
        return {
            "agreements": [
                a
                for a in plan.agreements
                if str(a.phase) == phase and a.audience == "all" and a.status != "ended"
            ]
        }
    if item.kind == AgendaKind.SCORES:
        return {"scores": True}
    if item.kind == AgendaKind.EVALUATION:
        evaluation = await db.get(Evaluation, uuid.UUID(item.ref))
        ok = evaluation is not None and evaluation.audience == "all"
        return {"evaluation": evaluation if ok else None, "hidden": not ok}
    if item.kind == AgendaKind.DECISION:
        decision = await db.get(Decision, uuid.UUID(item.ref))
        if decision is None or decision.audience != "all":
            return {"hidden": True}
        from workspace.plan.actions import thread

        return {"decision": decision, "thread": await thread(db, decision.id)}
    return {"free": item.title}


# -- joining with a code, and the lobby ------------------------------------------------------


async def join_page(
    request: Request,
    *,
    status_code: int = 200,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
) -> Response:
    return render(
        request,
        "meetings/join.html",
        {"values": values or {}, "errors": errors or {}},
        status_code=status_code,
    )


async def join_get(request: Request) -> Response:
    return await join_page(request)


async def post_join(request: Request) -> Response:
    form = await form_data(request)
    values = {"code": str(form.get("code") or "").strip(), "name": str(form.get("name") or "")}
    settings = request.app.state.settings
    refused: ValidationError | None = None
    try:
        async with request.app.state.db.begin() as db:
            try:
                joined = await actions.join_with_code(db, settings, values, client_source(request))
                meeting = await db.get(Meeting, joined.guest.meeting_id)
                assert meeting is not None
                case_id = meeting.case_id
            except actions.CodeRefused as exc:
                refused = exc  # still committed: the failure row feeds the throttle
    except Throttled as exc:
        return await join_page(
            request, status_code=429, values=values, errors={"code": exc.message()}
        )
    if refused is not None:
        return await join_page(request, status_code=422, values=values, errors=refused.errors)
    await request.app.state.events.publish(
        MeetingChanged(case_id, "meeting-lobby", joined.guest.meeting_id)
    )
    response = redirect(_path(request, "lobby"))
    response.raw_headers.append(
        (
            b"set-cookie",
            cookie_header(
                GUEST_COOKIE, joined.token, settings, max_age=actions.GUEST_SESSION_HOURS * 3600
            ),
        )
    )
    return response


async def lobby_page(request: Request) -> Response:
    """Where a guest waits. Shows nothing of the plan: only whether the chair let them in."""
    token = request.cookies.get(GUEST_COOKIE, "")
    async with request.app.state.db.begin() as db:
        guest = await actions.guest_for_token(db, token)
        meeting = await db.get(Meeting, guest.meeting_id) if guest is not None else None
        state = guest.state if guest is not None else ""
        if meeting is not None and meeting.state == MeetingState.CLOSED:
            state = GuestState.ENDED
    block = "lobby_status" if request.query_params.get("fragment") == "status" else None
    return render(
        request,
        "meetings/lobby.html",
        {
            "guest": guest,
            "state": state,
            "name": guest.name if guest is not None else "",
            "started": guest is not None and guest.session_started_at is not None,
        },
        block=block,
    )


async def post_lobby_continue(request: Request) -> Response:
    """The admitted guest's browser takes its session (once) and goes to the meeting."""
    await form_data(request)
    token = request.cookies.get(GUEST_COOKIE, "")
    settings = request.app.state.settings
    async with request.app.state.db.begin() as db:
        guest = await actions.guest_for_token(db, token)
        if guest is None:
            raise NotFound("no guest")
        session = await actions.start_guest_session(db, guest, client_source(request))
    await end_previous_session(request)

    response = redirect(
        _path(request, "meeting", case_id=session.case_id, meeting_id=session.meeting_id)
    )
    response.raw_headers.append(
        (
            b"set-cookie",
            cookie_header(
                SESSION_COOKIE,
                session.token,
                settings,
                max_age=actions.GUEST_SESSION_HOURS * 3600,
            ),
        )
    )
    response.raw_headers.append(
        (b"set-cookie", cookie_header(GUEST_COOKIE, "", settings, max_age=0))
    )
    return response


# -- versions of the plan's text -------------------------------------------------------------


async def versions_page(request: Request) -> Response:
    """A section's versions; two of them side by side with who wrote what."""
    actor = actor_of(request)
    case_id = parse_uuid(request.path_params["case_id"])
    section_id = parse_uuid(request.path_params["section_id"])
    async with request.app.state.db.begin() as db:
        who = await case_access(db, actor, case_id)
        section = await plan_actions.get_section(db, who, section_id)
        found = await versions.of_section(db, section.id)
        participants = {p.id: p for p in await actions.active_participants(db, case_id)}
        meetings = {m.id: m for m in await actions.meetings_of(db, who)}
        audit.record(db, who, "section.versions", object_type="section", object_id=section.id)
    by_id = {str(v.id): v for v in found}
    older = by_id.get(request.query_params.get("a", ""))
    newer = by_id.get(request.query_params.get("b", ""))
    if older is None and newer is None and len(found) >= 2:
        older, newer = found[-2], found[-1]
    comparison = None
    if older is not None and newer is not None:
        if newer.upto_update_id < older.upto_update_id:
            older, newer = newer, older
        comparison = await versions.compare(
            request.app.state.realtime.store.engine,
            section_document(case_id, section.id),
            older,
            newer,
        )
    return render(
        request,
        "meetings/versions.html",
        {
            "who": who,
            "case": who.case,
            "section": section,
            "title": plan_actions.section_label(section),
            "versions": found,
            "older": older,
            "newer": newer,
            "comparison": comparison,
            "author_name": lambda key: _author(participants, key),
            "author_colour": lambda key: _author_colour(participants, key),
            "author_class": lambda key: (
                f"a-{PALETTE.index(_author_colour(participants, key))}"
                if _author_colour(participants, key) in PALETTE
                else "a-x"
            ),
            "meetings": meetings,
            "reasons": REASON_LABELS,
            "can": _can(who),
        },
    )


REASON_LABELS = {
    "open": N_("begin van het overleg"),
    "close": N_("einde van het overleg"),
    "quiet": N_("tussendoor"),
}


def _author(participants: dict[uuid.UUID, Any], key: str) -> str:
    if key.startswith("participant:"):
        with contextlib.suppress(ValueError):
            found = participants.get(uuid.UUID(key.split(":", 1)[1]))
            if found is not None:
                return str(found.display_name)
    return ""


def _author_colour(participants: dict[uuid.UUID, Any], key: str) -> str:
    if key.startswith("participant:"):
        with contextlib.suppress(ValueError):
            found = participants.get(uuid.UUID(key.split(":", 1)[1]))
            if found is not None:
                return colour_for(found)
    return "#4e5d6c"


# -- the minutes -----------------------------------------------------------------------------


async def _minutes_view(request: Request, **extra: Any) -> tuple[CaseAccess, dict[str, Any]]:
    actor = actor_of(request)
    case_id = parse_uuid(request.path_params["case_id"])
    meeting_id = parse_uuid(request.path_params["meeting_id"])
    async with request.app.state.db.begin() as db:
        who = await case_access(db, actor, case_id)
        view = await minutes.get_minutes(db, who, meeting_id)
        # For "Niet voor: ..." beside restricted items (the reader sees them, others not).
        names = {
            str(p.id): p.name
            for p in await db.scalars(select(Person).where(Person.case_id == case_id))
        }
    context = {
        "person_names": names,
        "who": who,
        "case": who.case,
        "meeting": view.meeting,
        "view": view,
        "m": view.content,
        "catalogue": catalogue,
        "role_labels": ROLE_LABELS,
        "can": _can(who),
        "values": {},
        "errors": {},
        "parse": _parse_iso,
    }
    context.update(extra)
    return who, context


def _parse_iso(value: str) -> Any:
    from datetime import date, datetime

    if not value:
        return None
    if len(value) == 10:
        return date.fromisoformat(value)
    return datetime.fromisoformat(value)


async def minutes_page(request: Request, *, status_code: int = 200, **extra: Any) -> Response:
    _, context = await _minutes_view(request, **extra)
    return render(request, "meetings/minutes.html", context, status_code=status_code)


async def minutes_get(request: Request) -> Response:
    return await minutes_page(request)


async def minutes_markdown(request: Request) -> Response:
    _, context = await _minutes_view(request)
    body = render(request, "meetings/minutes.md", context)
    return PlainTextResponse(
        bytes(body.body).decode(),
        media_type="text/markdown; charset=utf-8",
        headers={"content-disposition": 'attachment; filename="verslag.md"'},
    )


async def minutes_pdf(request: Request) -> Response:
    """The same minutes as the Markdown download, as a PDF (for printing, for the file)."""
    from workspace.pdf import markdown_pdf

    _, context = await _minutes_view(request)
    markdown = bytes(render(request, "meetings/minutes.md", context).body).decode()
    meeting = context["meeting"]
    pdf = await asyncio.to_thread(
        markdown_pdf, markdown, title=meeting.title, footer=f"Kring · {meeting.title}"
    )
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"content-disposition": 'attachment; filename="verslag.pdf"'},
    )


async def post_reaction(request: Request) -> Response:
    actor = actor_of(request)
    case_id = parse_uuid(request.path_params["case_id"])
    meeting_id = parse_uuid(request.path_params["meeting_id"])
    form = await form_data(request)
    text = str(form.get("text") or "")
    try:
        async with request.app.state.db.begin() as db:
            who = await case_access(db, actor, case_id)
            await minutes.react(db, who, meeting_id, text)
    except ValidationError as exc:
        return await minutes_page(
            request, status_code=422, values={"text": text}, errors=exc.errors
        )
    await request.app.state.events.publish(MeetingChanged(case_id, "minutes", meeting_id))
    return redirect(_path(request, "minutes", case_id=case_id, meeting_id=meeting_id) + "#reacties")


async def post_reaction_period(request: Request) -> Response:
    actor = actor_of(request)
    case_id = parse_uuid(request.path_params["case_id"])
    meeting_id = parse_uuid(request.path_params["meeting_id"])
    form = await form_data(request)
    days = str(form.get("days") or "")
    try:
        async with request.app.state.db.begin() as db:
            who = await case_access(db, actor, case_id)
            await minutes.set_reaction_period(db, who, meeting_id, days)
    except ValidationError as exc:
        return await minutes_page(
            request, status_code=422, period_values={"days": days}, period_errors=exc.errors
        )
    return redirect(_path(request, "minutes", case_id=case_id, meeting_id=meeting_id))


_case = f"/cases/{uuid_param('case_id')}"
_meeting = f"{_case}/meetings/{uuid_param('meeting_id')}"

routes = [
    Route(f"{_case}/meetings", meetings_get, methods=["GET"], name="meetings"),
    Route(f"{_case}/meetings", post_meeting, methods=["POST"], name="add_meeting"),
    Route(_meeting, meeting_page, methods=["GET"], name="meeting"),
    Route(f"{_meeting}/live", meeting_live, methods=["GET"], name="meeting_live"),
    Route(f"{_meeting}/scherm", screen_page, methods=["GET"], name="meeting_screen"),
    Route(f"{_meeting}/open", post_open, methods=["POST"], name="meeting_open"),
    Route(f"{_meeting}/focus", post_focus, methods=["POST"], name="meeting_focus"),
    Route(f"{_meeting}/close", post_close, methods=["POST"], name="meeting_close"),
    Route(f"{_meeting}/agenda", post_agenda, methods=["POST"], name="meeting_agenda"),
    Route(
        f"{_meeting}/agenda/{uuid_param('item_id')}/remove",
        post_agenda_remove,
        methods=["POST"],
        name="meeting_agenda_remove",
    ),
    Route(f"{_meeting}/attendance", post_attendance, methods=["POST"], name="meeting_attendance"),
    Route(
        f"{_meeting}/guests/{uuid_param('guest_id')}/admit",
        post_admit,
        methods=["POST"],
        name="meeting_admit",
    ),
    Route(
        f"{_meeting}/guests/{uuid_param('guest_id')}/refuse",
        post_refuse,
        methods=["POST"],
        name="meeting_refuse",
    ),
    Route(f"{_meeting}/verslag", minutes_get, methods=["GET"], name="minutes"),
    Route(f"{_meeting}/verslag.md", minutes_markdown, methods=["GET"], name="minutes_md"),
    Route(f"{_meeting}/verslag.pdf", minutes_pdf, methods=["GET"], name="minutes_pdf"),
    Route(f"{_meeting}/verslag/reacties", post_reaction, methods=["POST"], name="minutes_react"),
    Route(
        f"{_meeting}/verslag/termijn",
        post_reaction_period,
        methods=["POST"],
        name="minutes_period",
    ),
    Route(
        f"{_case}/plan/sections/{uuid_param('section_id')}/versies",
        versions_page,
        methods=["GET"],
        name="section_versions",
    ),
    Route("/meedoen", join_get, methods=["GET"], name="join"),
    Route("/meedoen", post_join, methods=["POST"], name="join_post"),
    Route("/meedoen/wacht", lobby_page, methods=["GET"], name="lobby"),
    Route("/meedoen/verder", post_lobby_continue, methods=["POST"], name="lobby_continue"),
]
