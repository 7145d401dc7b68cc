"""The family plan's pages: the plan with its three phases, decisions, the timeline, the
Markdown export, and the live channel that tells open screens which fragment changed.

Every form is a plain POST answered with a 303 (or, on bad input, the page again with what was
typed and a message per field, status 422). Open screens learn about changes through the
live channel (server-sent events) and fetch the changed fragment - a named block of the page
template - with their own permissions, so an event never carries case data."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from realtime.store import DocumentUnavailable
from workspace import audit
from workspace.access import ROLE_LABELS, Action, CaseAccess, case_access
from workspace.errors import Conflict, Forbidden, NotFound, ValidationError
from workspace.i18n import _
from workspace.markdown import render as render_markdown
from workspace.meetings.actions import STATE_LABELS as MEETING_STATES
from workspace.meetings.actions import meetings_of, open_meeting_of
from workspace.models import CaseRole
from workspace.notes import PALETTE, colour_for, section_document
from workspace.notes.views import text_version
from workspace.plan import actions, catalogue
from workspace.plan.actions import AudienceInput, Plan, PlanChanged
from workspace.plan.chart import Series, score_chart
from workspace.plan.models import Decision, EntryKind, Section
from workspace.plan.visibility import audience_allows
from workspace.web import (
    actor_of,
    form_data,
    is_htmx,
    live_events,
    parse_uuid,
    redirect,
    render,
    uuid_param,
)

#: Fragments a screen may ask for (block names of plan/show.html), by live event name.
PLAN_FRAGMENTS = {
    "head": "plan_head",
    "incidents": "incidents",
    "scores": "scores",
    **{
        f"{kind}-{n}": f"{kind}_{n}"
        for kind in ("agreements", "decisions", "evaluations", "sections")
        for n in (1, 2, 3)
    },
}


def _audience_input(form: Any) -> AudienceInput:
    return AudienceInput(
        str(form.get("audience") or "all"), tuple(str(v) for v in form.getlist("excluded"))
    )


async def _sections_context(
    request: Request, who: CaseAccess, sections: list[Section]
) -> list[dict[str, Any]]:
    """Each visible section with its text (for the no-JavaScript view) and its document."""
    realtime = request.app.state.realtime
    out = []
    for section in sections:
        document = section_document(who.case.id, section.id)
        try:
            text = await realtime.text(document)
            unavailable = False
        except DocumentUnavailable:
            # One unreadable section never takes the plan down: it says so, the rest works.
            text, unavailable = "", True
        kind = catalogue.SECTIONS_BY_KEY.get(section.key)
        out.append(
            {
                "row": section,
                "document": document,
                "unavailable": unavailable,
                "title": actions.section_label(section),
                "hint": kind.hint if kind else "",
                "text": text,
                "html": render_markdown(text),
                "version": text_version(text),
            }
        )
    return out


def chart(plan: Plan) -> list[dict[str, Any]]:
    """One chart per scaling question, one line per person who answered it."""
    charts = []
    for question in plan.questions:
        scores = [s for s in plan.scores if s.question_id == question.id]
        by_person: dict[uuid.UUID, list[Any]] = {}
        for score in scores:
            by_person.setdefault(score.participant_id, []).append(score)
        # Colours by position, not the participant's cursor colour: within one chart every
        # line must differ (cursor colours may repeat in a large case).
        series = [
            Series(
                label=rows[0].participant.display_name,
                colour=PALETTE[index % len(PALETTE)],
                points=tuple((s.asked_on, s.value) for s in rows),
            )
            for index, rows in enumerate(by_person.values())
        ]
        days = sorted({s.asked_on for s in scores})
        table = [
            {
                "name": rows[0].participant.display_name,
                "by_day": {s.asked_on: s.value for s in rows},
            }
            for rows in by_person.values()
        ]
        charts.append(
            {
                "question": question,
                "label": question.label,
                "svg": score_chart(
                    series,
                    title=str(question.label),
                    description=_(
                        "Scores van 0 (helemaal niet) tot 10 (helemaal wel), per persoon."
                    ),
                    ident=f"chart-{question.id}",
                ),
                "days": days,
                "table": table,
            }
        )
    return charts


async def plan_context(request: Request, db: Any, who: CaseAccess, **extra: Any) -> dict[str, Any]:
    plan = await actions.load_plan(db, who)
    for_others = await actions.writes_down_words(db, who)
    scorable = await actions.scorable(db, who)
    context: dict[str, Any] = {
        "who": who,
        "case": who.case,
        "plan": plan,
        "catalogue": catalogue,
        "role_labels": ROLE_LABELS,
        "can": {a.name.lower(): who.can(a) for a in Action},
        "scorable": scorable,
        "colour": colour_for(who.participant),
        "forms": {},
        "conflict": None,
        "open_phase": who.case.phase,
        # Where this page's fragments and live channel are: the meeting page shows the same
        # blocks with its own (see workspace/meetings/views.py).
        "fragment_url": request.url_for("plan", case_id=who.case.id).path + "?fragment=",
        "live_url": request.url_for("plan_live", case_id=who.case.id).path,
        "meeting": None,
        "open_meeting": (
            await open_meeting_of(db, who.case.id) if who.can(Action.VIEW_MEETING) else None
        ),
        # Sections this reader may write in (own words stay one's own: plan.actions.may_write).
        "writable": {
            section.id
            for section in plan.sections
            if actions.may_write(who, section, for_others=for_others)
        },
    }
    context.update(extra)
    return context


async def finish_context(
    request: Request, who: CaseAccess, context: dict[str, Any], block: str | None = None
) -> dict[str, Any]:
    """The parts read outside the transaction: section texts come from the realtime store.

    A fragment gets only what its block shows: every open screen fetches the changed block on
    each event, and reading some thirty texts for an agreement's status would be waste."""
    plan: Plan = context["plan"]
    context["sections"] = (
        await _sections_context(request, who, plan.sections)
        if block is None or block.startswith("sections_")
        else []
    )
    context["charts"] = (
        chart(plan) if who.can(Action.VIEW_PLAN) and block in (None, "scores") else []
    )
    return context


async def _plan_response(
    request: Request,
    *,
    status_code: int = 200,
    block: str | None = None,
    meeting_id: uuid.UUID | None = None,
    **extra: Any,
) -> Response:
    """The plan page (or one of its blocks); inside a meeting, the meeting page instead, so
    a form with an error comes back where it was filled in."""
    if meeting_id is not None:
        from workspace.meetings.views import meeting_response

        return await meeting_response(
            request, meeting_id, status_code=status_code, block=block, **extra
        )
    actor = actor_of(request)
    case_id = parse_uuid(request.path_params["case_id"])
    async with request.app.state.db.begin() as db:
        who = await case_access(db, actor, case_id)
        context = await plan_context(request, db, who, **extra)
        audit.record(db, who, "plan.view", object_type="case", object_id=case_id)
    context = await finish_context(request, who, context, block if is_htmx(request) else None)
    return render(request, "plan/show.html", context, status_code=status_code, block=block)


async def plan_page(request: Request) -> Response:
    fragment = request.query_params.get("fragment")
    if fragment is not None:
        block = PLAN_FRAGMENTS.get(fragment)
        if block is None or request.headers.get("hx-request") != "true":
            raise NotFound("unknown fragment")
        return await _plan_response(request, block=block)
    return await _plan_response(request)


#: What a form changed: a fragment's name (for everyone who sees that fragment), or an event
#: that carries the changed item's audience (``PlanChanged.about``).
Change = str | PlanChanged
Work = Callable[[Any, CaseAccess, dict[str, str], Any], Awaitable[list[Change] | None]]


async def _plan_form(
    request: Request, form_id: str, fields: tuple[str, ...], work: Work, *, anchor: str
) -> Response:
    """Run one plan form: CSRF, one transaction, events after commit, 303 to the anchor. Bad
    input: the plan page again with what was typed (422); a stale form: the page with the
    news and nothing overwritten (409)."""
    actor = actor_of(request)
    case_id = parse_uuid(request.path_params["case_id"])
    form = await form_data(request)
    values = {name: str(form.get(name) or "") for name in fields}
    for key in form:
        if key.startswith("score-"):
            values[key] = str(form.get(key) or "")
    values["excluded"] = ",".join(str(v) for v in form.getlist("excluded"))
    values["meeting_id"] = str(form.get("meeting_id") or "")
    meeting_id = meeting_of(values)
    try:
        async with request.app.state.db.begin() as db:
            who = await case_access(db, actor, case_id)
            changed = await work(db, who, values, form) or []
    except ValidationError as exc:
        return await _plan_response(
            request,
            status_code=422,
            meeting_id=meeting_id,
            forms={form_id: {"values": values, "errors": exc.errors}},
            open_phase=_phase_of(values),
        )
    except Conflict:
        return await _plan_response(
            request, status_code=409, meeting_id=meeting_id, conflict=form_id
        )
    for change in changed:
        event = change if isinstance(change, PlanChanged) else PlanChanged(case_id, change)
        await request.app.state.events.publish(event)
    return redirect(back_to(request, case_id, meeting_id) + f"#{anchor}")


def meeting_of(values: dict[str, str]) -> uuid.UUID | None:
    """The meeting page a form came from (checked where it is used, never trusted)."""
    try:
        return uuid.UUID(values.get("meeting_id") or "")
    except ValueError:
        return None


def back_to(request: Request, case_id: uuid.UUID, meeting_id: uuid.UUID | None) -> str:
    """Where a saved form returns: the meeting page it came from, or the plan."""
    if meeting_id is not None:
        return request.url_for("meeting", case_id=case_id, meeting_id=meeting_id).path
    return request.url_for("plan", case_id=case_id).path


def _phase_of(values: dict[str, str]) -> int | None:
    phase = values.get("phase")
    return int(phase) if phase in ("1", "2", "3") else None


async def post_agreement(request: Request) -> Response:
    async def work(db: Any, who: CaseAccess, values: dict[str, str], form: Any) -> list[Change]:
        agreement = await actions.add_agreement(db, who, values, _audience_input(form))
        return [
            PlanChanged.about(
                who.case.id, f"agreements-{agreement.phase}", agreement, agreement=True
            )
        ]

    return await _plan_form(
        request, "agreement", (*actions.AGREEMENT_FIELDS, "audience"), work, anchor="agreements"
    )


async def post_agreement_status(request: Request) -> Response:
    agreement_id = parse_uuid(request.path_params["agreement_id"])

    async def work(db: Any, who: CaseAccess, values: dict[str, str], form: Any) -> list[Change]:
        agreement = await actions.set_agreement_status(
            db, who, agreement_id, values["status"], values["version"]
        )
        return [
            PlanChanged.about(
                who.case.id, f"agreements-{agreement.phase}", agreement, agreement=True
            )
        ]

    return await _plan_form(
        request,
        f"agreement-{agreement_id}",
        ("status", "version"),
        work,
        anchor=f"agreement-{agreement_id}",
    )


async def post_incident(request: Request) -> Response:
    async def work(db: Any, who: CaseAccess, values: dict[str, str], form: Any) -> list[Change]:
        incident = await actions.add_incident(db, who, values, _audience_input(form))
        return [PlanChanged.about(who.case.id, what, incident) for what in ("incidents", "head")]

    return await _plan_form(
        request,
        "incident",
        ("occurred_on", "what", "reported_by", "audience"),
        work,
        anchor="incidents",
    )


async def post_scores(request: Request) -> Response:
    async def work(db: Any, who: CaseAccess, values: dict[str, str], form: Any) -> list[Change]:
        await actions.add_scores(db, who, values)
        return ["scores"]

    return await _plan_form(request, "scores", ("asked_on", "question_id"), work, anchor="scores")


async def post_question(request: Request) -> Response:
    async def work(db: Any, who: CaseAccess, values: dict[str, str], form: Any) -> list[Change]:
        await actions.add_question(db, who, values)
        return ["scores"]

    return await _plan_form(request, "question", ("question",), work, anchor="scores")


async def post_evaluation(request: Request) -> Response:
    async def work(db: Any, who: CaseAccess, values: dict[str, str], form: Any) -> list[Change]:
        evaluation = await actions.add_evaluation(db, who, values, _audience_input(form))
        return [PlanChanged.about(who.case.id, f"evaluations-{evaluation.phase}", evaluation)]

    return await _plan_form(
        request, "evaluation", (*actions.EVALUATION_FIELDS, "audience"), work, anchor="evaluations"
    )


async def post_section(request: Request) -> Response:
    async def work(db: Any, who: CaseAccess, values: dict[str, str], form: Any) -> list[Change]:
        section = await actions.add_section(db, who, values, _audience_input(form))
        return [PlanChanged.about(who.case.id, f"sections-{section.phase}", section)]

    return await _plan_form(
        request, "section", ("phase", "title", "audience"), work, anchor="sections"
    )


async def post_section_audience(request: Request) -> Response:
    section_id = parse_uuid(request.path_params["section_id"])
    case_id = parse_uuid(request.path_params["case_id"])

    async def work(db: Any, who: CaseAccess, values: dict[str, str], form: Any) -> list[Change]:
        before = await actions.get_section(db, who, section_id)
        old = PlanChanged.about(who.case.id, f"sections-{before.phase}", before)
        section = await actions.set_section_audience(
            db, who, section_id, _audience_input(form), values["version"]
        )
        # Those who saw it before see it go; those who see it now see it come.
        return [old, PlanChanged.about(who.case.id, f"sections-{section.phase}", section)]

    response = await _plan_form(
        request,
        f"section-{section_id}",
        ("audience", "version"),
        work,
        anchor=f"section-{section_id}",
    )
    if response.status_code == 303:
        # Committed: whoever has the document open must be authorized again (all-or-nothing).
        await request.app.state.realtime.reauthorize(section_document(case_id, section_id))
    return response


async def post_section_text(request: Request) -> Response:
    """Save a section's whole text from the no-JavaScript form, through the durable realtime
    path; refused when the text changed since the form was shown (both texts are shown)."""
    actor = actor_of(request)
    case_id = parse_uuid(request.path_params["case_id"])
    section_id = parse_uuid(request.path_params["section_id"])
    form = await form_data(request)
    typed = str(form.get("text") or "").replace("\r\n", "\n")
    seen = str(form.get("version") or "")
    meeting_id = meeting_of({"meeting_id": str(form.get("meeting_id") or "")})
    async with request.app.state.db.begin() as db:
        who = await case_access(db, actor, case_id)
        who.require(Action.EDIT_NOTES)
        section = await actions.get_section(db, who, section_id)
        if not await actions.may_write_section(db, who, section):
            raise Forbidden("a per-person section is written by that person")
    realtime = request.app.state.realtime
    document = section_document(case_id, section.id)
    current = await realtime.text(document)
    if text_version(current) != seen and current != typed:
        return await _plan_response(
            request,
            status_code=409,
            meeting_id=meeting_id,
            forms={f"section-{section_id}": {"values": {"text": typed}, "errors": {}}},
            conflict=f"section-{section_id}",
            open_phase=section.phase,
        )
    await realtime.replace_text(document, typed, f"participant:{who.participant.id}")
    async with request.app.state.db.begin() as db:
        who = await case_access(db, actor, case_id)
        audit.record(db, who, "section.edit", object_type="section", object_id=section_id)
    return redirect(back_to(request, case_id, meeting_id) + f"#section-{section_id}")


# -- decisions ------------------------------------------------------------------------------


def _meeting_qs(request: Request) -> str:
    """``?overleg=<id>`` when a decision page is used from a meeting: its forms link what they
    record to that meeting, and lead back to it."""
    raw = request.query_params.get("overleg", "")
    try:
        return f"?overleg={uuid.UUID(raw)}"
    except ValueError:
        return ""


async def _meeting_in_context(request: Request, db: Any, who: CaseAccess) -> Any:
    from workspace.meetings.models import Meeting

    qs = _meeting_qs(request)
    if not qs or not who.can(Action.VIEW_MEETING):
        return None
    meeting = await db.get(Meeting, uuid.UUID(qs.removeprefix("?overleg=")))
    return meeting if meeting is not None and meeting.case_id == who.case.id else None


async def _decision_context(
    db: Any, who: CaseAccess, decision: Decision, **extra: Any
) -> dict[str, Any]:
    thread = await actions.thread(db, decision.id)
    plan = await actions.load_plan(db, who)
    names = {p.id: p for p in plan.participants}
    meeting = extra.get("meeting")
    for_others = await actions.writes_for_others(
        db, who, {"meeting_id": str(meeting.id) if meeting is not None else ""}
    )
    members = [p for p in plan.participants if p.person_id is not None]
    # Whose response it is: the household first; a network member is marked as such.
    members.sort(key=lambda p: p.role != CaseRole.HOUSEHOLD)
    context: dict[str, Any] = {
        "who": who,
        "case": who.case,
        "decision": decision,
        "thread": thread,
        "names": names,
        "catalogue": catalogue,
        "role_labels": ROLE_LABELS,
        "can": {a.name.lower(): who.can(a) for a in Action},
        "members": members,
        "records_for_others": for_others,
        "forms": {},
        "conflict": None,
        "EntryKind": EntryKind,
    }
    context.update(extra)
    return context


async def decision_page(request: Request, *, status_code: int = 200, **extra: Any) -> Response:
    actor = actor_of(request)
    case_id = parse_uuid(request.path_params["case_id"])
    decision_id = parse_uuid(request.path_params["decision_id"])
    async with request.app.state.db.begin() as db:
        who = await case_access(db, actor, case_id)
        decision = await actions.get_decision(db, who, decision_id)
        meeting = await _meeting_in_context(request, db, who)
        context = await _decision_context(
            db,
            who,
            decision,
            meeting=meeting,
            meeting_qs=_meeting_qs(request) if meeting else "",
            **extra,
        )
        audit.record(db, who, "decision.view", object_type="decision", object_id=decision_id)
    block = "decision" if request.query_params.get("fragment") == "decision" else None
    return render(request, "plan/decision.html", context, status_code=status_code, block=block)


async def decision_get(request: Request) -> Response:
    return await decision_page(request)


async def new_decision(
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
        who.require(Action.PROPOSE_DECISION)
        plan = await actions.load_plan(db, who)
        meeting = await _meeting_in_context(request, db, who)
        audit.record(db, who, "plan.view", object_type="case", object_id=case_id)
    if values is None:
        closes = request.query_params.get("sluit", "")
        phase = closes or request.query_params.get("fase", "") or str(who.case.phase)
        values = {
            "phase": phase if phase in ("1", "2", "3") else str(who.case.phase),
            "kind": "ordinary",
            "regime": who.case.regime,
            "closes_phase": closes if closes == str(who.case.phase) else "",
            "audience": "all",
        }
        if values["closes_phase"]:
            values["question"] = _("Fase %(n)s afsluiten?") % {"n": closes}
    return render(
        request,
        "plan/decision_new.html",
        {
            "who": who,
            "case": who.case,
            "plan": plan,
            "catalogue": catalogue,
            "values": values,
            "errors": errors or {},
            "can": {a.name.lower(): who.can(a) for a in Action},
            "role_labels": ROLE_LABELS,
            "meeting": meeting,
            "meeting_qs": _meeting_qs(request) if meeting else "",
        },
        status_code=status_code,
    )


async def post_decision(request: Request) -> Response:
    actor = actor_of(request)
    case_id = parse_uuid(request.path_params["case_id"])
    form = await form_data(request)
    values = {
        name: str(form.get(name) or "")
        for name in (*actions.DECISION_FIELDS, "audience", "meeting_id")
    }
    values["excluded"] = ",".join(str(v) for v in form.getlist("excluded"))
    try:
        async with request.app.state.db.begin() as db:
            who = await case_access(db, actor, case_id)
            decision = await actions.propose_decision(db, who, values, _audience_input(form))
    except ValidationError as exc:
        return await new_decision(request, status_code=422, values=values, errors=exc.errors)
    await request.app.state.events.publish(
        PlanChanged.about(case_id, f"decisions-{decision.phase}", decision)
    )
    return redirect(
        request.url_for("decision", case_id=case_id, decision_id=decision.id).path
        + _meeting_qs(request)
    )


async def post_entry(request: Request) -> Response:
    """Dissent, an answer to it, the household's response, or a correction of one of them."""
    actor = actor_of(request)
    case_id = parse_uuid(request.path_params["case_id"])
    decision_id = parse_uuid(request.path_params["decision_id"])
    form = await form_data(request)
    values = {
        n: str(form.get(n) or "")
        for n in ("kind", "text", "answers", "supersedes", "author_id", "meeting_id")
    }
    form_id = (
        values["kind"]
        + (f"-{values['answers']}" if values["answers"] else "")
        + (f"-{values['supersedes']}" if values["supersedes"] else "")
    )
    try:
        kind = EntryKind(values["kind"])
    except ValueError:
        raise NotFound("unknown entry kind") from None
    try:
        async with request.app.state.db.begin() as db:
            who = await case_access(db, actor, case_id)
            await actions.add_entry(db, who, decision_id, kind, values)
    except ValidationError as exc:
        return await decision_page(
            request, status_code=422, forms={form_id: {"values": values, "errors": exc.errors}}
        )
    except Conflict:
        # E.g. another entry on this decision committed first: what was typed stays.
        return await decision_page(
            request,
            status_code=409,
            conflict=form_id,
            forms={form_id: {"values": values, "errors": {}}},
        )
    await _decision_changed(request, case_id, decision_id)
    return redirect(
        request.url_for("decision", case_id=case_id, decision_id=decision_id).path
        + _meeting_qs(request)
        + "#thread"
    )


async def _decision_changed(
    request: Request, case_id: uuid.UUID, decision_id: uuid.UUID, *more: str
) -> None:
    async with request.app.state.db.begin() as db:
        decision = await db.get(Decision, decision_id)
        phase = decision.phase if decision else 1
    for what in (f"decision-{decision_id}", f"decisions-{phase}", *more):
        await request.app.state.events.publish(PlanChanged.about(case_id, what, decision))


STEPS = {
    "dissent": actions.open_for_dissent,
    "take": actions.take_decision,
    "withdraw": actions.withdraw_decision,
}


async def post_decision_step(request: Request) -> Response:
    actor = actor_of(request)
    case_id = parse_uuid(request.path_params["case_id"])
    decision_id = parse_uuid(request.path_params["decision_id"])
    form = await form_data(request)
    step = STEPS.get(str(form.get("step") or ""))
    if step is None:
        raise NotFound("unknown step")
    try:
        async with request.app.state.db.begin() as db:
            who = await case_access(db, actor, case_id)
            decision = await step(db, who, decision_id, str(form.get("version") or ""))
            marked = decision.new_regime is not None or decision.closes_phase is not None
    except ValidationError as exc:
        return await decision_page(
            request, status_code=422, forms={"step": {"values": {}, "errors": exc.errors}}
        )
    except Conflict:
        return await decision_page(request, status_code=409, conflict="step")
    more = (
        ("head", "sections-1", "sections-2", "sections-3")
        if marked and decision.state == "taken"
        else ()
    )
    await _decision_changed(request, case_id, decision_id, *more)
    return redirect(
        request.url_for("decision", case_id=case_id, decision_id=decision_id).path
        + _meeting_qs(request)
    )


# -- timeline, export, live -----------------------------------------------------------------


async def timeline_page(request: Request) -> Response:
    actor = actor_of(request)
    case_id = parse_uuid(request.path_params["case_id"])
    chosen = {k for k in request.query_params.getlist("soort") if k in actions.TIMELINE_KINDS}
    async with request.app.state.db.begin() as db:
        who = await case_access(db, actor, case_id)
        plan = await actions.load_plan(db, who)
        meetings = await meetings_of(db, who)
        audit.record(db, who, "timeline.view", object_type="case", object_id=case_id)
    extra = [
        actions.TimelineEntry(
            m.closed_at or m.opened_at or m.starts_at,
            "meeting",
            m.title,
            m.state,
            f"meeting-{m.id}",
            link=request.url_for("meeting", case_id=case_id, meeting_id=m.id).path,
        )
        for m in meetings
    ]
    return render(
        request,
        "plan/timeline.html",
        {
            "who": who,
            "case": who.case,
            "entries": actions.timeline(plan, chosen or None, extra),
            "kinds": actions.TIMELINE_KINDS,
            "meeting_states": MEETING_STATES,
            "chosen": chosen,
            "catalogue": catalogue,
            "can": {a.name.lower(): who.can(a) for a in Action},
        },
    )


async def export_markdown(request: Request) -> Response:
    """The plan as Markdown, as this reader may see it (same audience rules as the page)."""
    actor = actor_of(request)
    case_id = parse_uuid(request.path_params["case_id"])
    async with request.app.state.db.begin() as db:
        who = await case_access(db, actor, case_id)
        context = await plan_context(request, db, who)
        audit.record(db, who, "plan.export", object_type="case", object_id=case_id)
    context = await finish_context(request, who, context)
    response = render(request, "plan/export.md", context)
    return PlainTextResponse(
        bytes(response.body).decode(),
        media_type="text/markdown; charset=utf-8",
        headers={"content-disposition": 'attachment; filename="gezinsplan.md"'},
    )


async def live(request: Request) -> Response:
    """Server-sent events: the names of fragments that changed in this case, nothing more."""
    actor = actor_of(request)
    case_id = parse_uuid(request.path_params["case_id"])
    async with request.app.state.db.begin() as db:
        who = await case_access(db, actor, case_id)
        audit.record(db, who, "plan.live", object_type="case", object_id=case_id)
    return live_events(request, case_id, keys=who.keys, accept=lambda e: hears(who, e))


def hears(who: CaseAccess, event: Any) -> bool:
    """Whether this screen is told about ``event``: only if its reader may see what changed.
    (Events without an audience, e.g. a meeting's, concern everyone on the channel.)"""
    audience = getattr(event, "audience", None)
    if audience is None:
        return True
    agreement = bool(getattr(event, "agreement", False))
    if not who.can(Action.VIEW_AGREEMENTS if agreement else Action.VIEW_PLAN):
        return False
    return audience_allows(who, audience, getattr(event, "excluded", ()))


_case = f"/cases/{uuid_param('case_id')}"

routes = [
    Route(f"{_case}/plan", plan_page, methods=["GET"], name="plan"),
    Route(f"{_case}/plan.md", export_markdown, methods=["GET"], name="plan_export"),
    Route(f"{_case}/live", live, methods=["GET"], name="plan_live"),
    Route(f"{_case}/timeline", timeline_page, methods=["GET"], name="timeline"),
    Route(f"{_case}/plan/agreements", post_agreement, methods=["POST"], name="add_agreement"),
    Route(
        f"{_case}/plan/agreements/{uuid_param('agreement_id')}/status",
        post_agreement_status,
        methods=["POST"],
        name="agreement_status",
    ),
    Route(f"{_case}/plan/incidents", post_incident, methods=["POST"], name="add_incident"),
    Route(f"{_case}/plan/scores", post_scores, methods=["POST"], name="add_scores"),
    Route(f"{_case}/plan/questions", post_question, methods=["POST"], name="add_question"),
    Route(f"{_case}/plan/evaluations", post_evaluation, methods=["POST"], name="add_evaluation"),
    Route(f"{_case}/plan/sections", post_section, methods=["POST"], name="add_section"),
    Route(
        f"{_case}/plan/sections/{uuid_param('section_id')}/audience",
        post_section_audience,
        methods=["POST"],
        name="section_audience",
    ),
    Route(
        f"{_case}/plan/sections/{uuid_param('section_id')}/text",
        post_section_text,
        methods=["POST"],
        name="section_text",
    ),
    Route(f"{_case}/decisions/new", new_decision, methods=["GET"], name="new_decision"),
    Route(f"{_case}/decisions", post_decision, methods=["POST"], name="add_decision"),
    Route(
        f"{_case}/decisions/{uuid_param('decision_id')}",
        decision_get,
        methods=["GET"],
        name="decision",
    ),
    Route(
        f"{_case}/decisions/{uuid_param('decision_id')}/entries",
        post_entry,
        methods=["POST"],
        name="decision_entry",
    ),
    Route(
        f"{_case}/decisions/{uuid_param('decision_id')}/step",
        post_decision_step,
        methods=["POST"],
        name="decision_step",
    ),
]
