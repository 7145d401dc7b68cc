"""Learning's pages: reflection logs, the manager's review and digest, intervision groups,
the review and release of pseudonymised copies, sessions on the shared screen, annotations.

Every form is a plain POST answered with a 303, or on bad input the page again with what was
typed and a message per field (422); a stale form gets the page with the news (409). Reads
are audited in the transaction that reads; co-edited text is read and written through the
realtime store outside it. A copy's pages never name or link its case."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from workspace import audit
from workspace.access import Actor, grant_keys
from workspace.cases.actions import my_cases
from workspace.errors import Conflict, NotFound, ValidationError
from workspace.i18n import _
from workspace.learning import copy_document, methods
from workspace.learning import intervision as iv
from workspace.learning import reflection as rf
from workspace.learning.chart import Bars, bar_chart, month_label
from workspace.learning.models import Copy, CopyState, Group, Reflection, Session
from workspace.markdown import render as render_markdown
from workspace.models import UserRole
from workspace.pdf import markdown_pdf
from workspace.plan.visibility import PROFESSIONAL_ROLES
from workspace.web import (
    actor_of,
    form_data,
    is_htmx,
    live_events,
    parse_uuid,
    redirect,
    render,
    templates,
    uuid_param,
)

KEEPALIVE_SECONDS = 15.0


def _values(form: FormData, names: tuple[str, ...]) -> dict[str, str]:
    return {name: str(form.get(name) or "") for name in names}


def _today() -> date:
    return date.today()


# -- the landing page -------------------------------------------------------------------------


async def learning_home(request: Request) -> Response:
    actor = actor_of(request)
    if actor.user is not None and actor.user.role == UserRole.MANAGER:
        return redirect(request.url_for("learning_review").path)
    rf.require_professional(actor)
    return redirect(request.url_for("reflections").path)


# -- reflections ------------------------------------------------------------------------------


async def _case_choices(db: Any, actor: Actor) -> list[tuple[str, str]]:
    return [(str(case.id), case.title) for case, _ in await my_cases(db, actor)]


async def _reflections_page(
    request: Request,
    *,
    status_code: int = 200,
    values: dict[str, str] | None = None,
    tags: list[str] | None = None,
    errors: dict[str, str] | None = None,
) -> Response:
    actor = actor_of(request)
    async with request.app.state.db.begin() as db:
        mine = await rf.my_reflections(db, actor)
        cases = await _case_choices(db, actor)
        audit.record(db, actor, "reflection.list", object_type="reflection")
    return render(
        request,
        "learning/reflections.html",
        {
            "reflections": mine,
            "cases": cases,
            "case_titles": dict(cases),
            "methods": methods,
            "values": values or {"audience": "private"},
            "tags": tags or [],
            "errors": errors or {},
        },
        status_code=status_code,
    )


async def reflections_get(request: Request) -> Response:
    return await _reflections_page(request)


async def reflections_post(request: Request) -> Response:
    actor = actor_of(request)
    form = await form_data(request)
    values = _values(form, rf.REFLECTION_FIELDS)
    tags = [str(t) for t in form.getlist("tags")]
    try:
        async with request.app.state.db.begin() as db:
            reflection = await rf.write_reflection(db, actor, values, tags)
    except ValidationError as exc:
        return await _reflections_page(
            request, status_code=422, values=values, tags=tags, errors=exc.errors
        )
    return redirect(request.url_for("reflection", reflection_id=reflection.id).path)


async def _reflection_page(
    request: Request,
    *,
    status_code: int = 200,
    values: dict[str, str] | None = None,
    tags: list[str] | None = None,
    errors: dict[str, str] | None = None,
    conflict: bool = False,
    response_text: str = "",
) -> Response:
    actor = actor_of(request)
    reflection_id = parse_uuid(request.path_params["reflection_id"])
    async with request.app.state.db.begin() as db:
        own = False
        reflection: Reflection | None = None
        if actor.user is not None and actor.user.role == UserRole.PROFESSIONAL:
            with contextlib.suppress(NotFound):
                reflection = await rf.own_reflection(db, actor, reflection_id)
                own = True
        if reflection is None:
            reflection = await rf.shared_reflection(db, actor, reflection_id)  # audits the read
        else:
            audit.record(
                db, actor, "reflection.view", object_type="reflection", object_id=reflection.id
            )
        responses = await rf.responses(db, reflection.id)
        cases = await _case_choices(db, actor) if own else []
    if values is None and own:
        values = {
            "title": reflection.title,
            "body": reflection.body,
            "case_id": str(reflection.case_id or ""),
            "question": reflection.question,
            "signal": reflection.signal,
            "audience": reflection.audience,
            "version": str(reflection.version),
            **{f"p-{k}": v for k, v in reflection.answers.items()},
        }
        tags = list(reflection.tags)
    return render(
        request,
        "learning/reflection.html",
        {
            "reflection": reflection,
            "own": own,
            "shown": reflection.shared if not own else None,
            "responses": responses,
            "cases": cases,
            "case_titles": dict(cases),
            "methods": methods,
            "values": values or {},
            "tags": tags or [],
            "errors": errors or {},
            "conflict": conflict,
            "response_text": response_text,
            "is_manager": actor.user is not None and actor.user.role == UserRole.MANAGER,
            "markdown": render_markdown,
        },
        status_code=status_code,
    )


async def reflection_get(request: Request) -> Response:
    return await _reflection_page(request)


async def reflection_post(request: Request) -> Response:
    actor = actor_of(request)
    reflection_id = parse_uuid(request.path_params["reflection_id"])
    form = await form_data(request)
    values = _values(form, (*rf.REFLECTION_FIELDS, "version"))
    tags = [str(t) for t in form.getlist("tags")]
    try:
        async with request.app.state.db.begin() as db:
            await rf.update_reflection(db, actor, reflection_id, values, tags)
    except ValidationError as exc:
        return await _reflection_page(
            request, status_code=422, values=values, tags=tags, errors=exc.errors
        )
    except Conflict:
        return await _reflection_page(request, status_code=409, conflict=True)
    return redirect(request.url_for("reflection", reflection_id=reflection_id).path)


async def reflection_respond(request: Request) -> Response:
    actor = actor_of(request)
    reflection_id = parse_uuid(request.path_params["reflection_id"])
    form = await form_data(request)
    values = _values(form, ("response",))
    try:
        async with request.app.state.db.begin() as db:
            await rf.respond(db, actor, reflection_id, values)
    except ValidationError as exc:
        return await _reflection_page(
            request, status_code=422, errors=exc.errors, response_text=values["response"]
        )
    return redirect(request.url_for("reflection", reflection_id=reflection_id).path + "#reacties")


async def reflection_signal(request: Request) -> Response:
    actor = actor_of(request)
    reflection_id = parse_uuid(request.path_params["reflection_id"])
    await form_data(request)
    try:
        async with request.app.state.db.begin() as db:
            await rf.raise_signal(db, actor, reflection_id)
    except ValidationError as exc:
        return await _reflection_page(request, status_code=422, errors=exc.errors)
    return redirect(request.url_for("reflection", reflection_id=reflection_id).path)


async def team_page(request: Request) -> Response:
    actor = actor_of(request)
    async with request.app.state.db.begin() as db:
        shared = await rf.team_reflections(db, actor)
    return render(request, "learning/team.html", {"reflections": shared, "methods": methods})


# -- the manager's review and digest ----------------------------------------------------------


def _period(request: Request, default_days: int) -> tuple[date, date]:
    today = _today()
    try:
        since = date.fromisoformat(request.query_params.get("van", ""))
    except ValueError:
        since = today - timedelta(days=default_days)
    try:
        until = date.fromisoformat(request.query_params.get("tot", ""))
    except ValueError:
        until = today
    return since, max(since, until)


def _months(since: date, until: date) -> list[str]:
    months = []
    y, m = since.year, since.month
    while (y, m) <= (until.year, until.month):
        months.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return months[-12:]


@dataclass(frozen=True)
class Chart:
    svg: Any
    months: list[str]
    rows: list[tuple[str, tuple[int, ...]]]


async def review_page(request: Request) -> Response:
    actor = actor_of(request)
    since, until = _period(request, 183)
    async with request.app.state.db.begin() as db:
        found = await rf.review(db, actor, since)
    months = _months(since, until)
    themes = found.themes_by_month()
    theme_series = [
        Bars(_(p.title), tuple(themes.get(m, {}).get(p.key, 0) for m in months))
        for p in methods.PROMPTS
    ]
    top_tags, by_tag = found.tags_by_month()
    tag_series = [Bars(t, tuple(by_tag.get(m, {}).get(t, 0) for m in months)) for t in top_tags]
    charts = {
        "themes": Chart(
            bar_chart(
                months,
                theme_series,
                title=_("Thema's per maand"),
                description=_(
                    "Hoe vaak een vraag beantwoord werd in gedeelde reflecties, per maand."
                ),
                ident="chart-themes",
            ),
            months,
            [(b.label, b.counts) for b in theme_series],
        ),
        "tags": Chart(
            bar_chart(
                months,
                tag_series,
                title=_("Labels per maand"),
                description=_("De meest gebruikte labels in gedeelde reflecties, per maand."),
                ident="chart-tags",
            ),
            months,
            [(b.label, b.counts) for b in tag_series],
        ),
    }
    return render(
        request,
        "learning/review.html",
        {
            "review": found,
            "charts": charts,
            "since": since,
            "until": until,
            "methods": methods,
            "month_label": month_label,
        },
    )


async def _digest_markdown(request: Request) -> tuple[str, date, date]:
    actor = actor_of(request)
    since, until = _period(request, 91)
    async with request.app.state.db.begin() as db:
        found = await rf.digest(db, actor, since, until)
        groups = {
            s.group_id: g.name
            for s in found.lessons
            if (g := await db.get(Group, s.group_id)) is not None
        }
    response = templates.TemplateResponse(
        request,
        "learning/digest.md",
        {"digest": found, "groups": groups, "methods": methods},
    )
    return bytes(response.body).decode(), since, until


async def digest_md(request: Request) -> Response:
    text, since, until = await _digest_markdown(request)
    return PlainTextResponse(
        text,
        media_type="text/markdown; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="leeroverzicht-{since}-{until}.md"'},
    )


async def digest_pdf(request: Request) -> Response:
    text, since, until = await _digest_markdown(request)
    data = await asyncio.to_thread(markdown_pdf, text, title=_("Leeroverzicht"), footer="Kring")
    return Response(
        data,
        media_type="application/pdf",
        headers={
            "content-disposition": f'attachment; filename="leeroverzicht-{since}-{until}.pdf"'
        },
    )


# -- intervision: groups ----------------------------------------------------------------------


async def _intervision_page(
    request: Request, *, status_code: int = 200, forms: dict[str, Any] | None = None
) -> Response:
    actor = actor_of(request)
    async with request.app.state.db.begin() as db:
        ended = await iv.end_expired(db)
        groups = await iv.my_groups(db, actor)
        drafts = await iv.my_drafts(db, actor)
        cases = [
            (str(case.id), case.title)
            for case, participant in await my_cases(db, actor)
            if participant.role in PROFESSIONAL_ROLES
        ]
        audit.record(db, actor, "group.list", object_type="group")
    await _close_documents(request, ended)
    return render(
        request,
        "learning/intervision.html",
        {
            "groups": groups,
            "drafts": drafts,
            "cases": cases,
            "forms": forms or {},
            "default_end": (_today() + timedelta(days=methods.COPY_DEFAULT_DAYS)).isoformat(),
        },
        status_code=status_code,
    )


async def _close_documents(request: Request, documents: list[str]) -> None:
    """Committed: whoever has a deleted copy's text open is authorized again (and refused),
    and the loaded room is dropped, so the text is gone from memory too, not only from the
    store. (A dropped room's pending unload sees it is no longer registered and does nothing.)"""
    realtime = request.app.state.realtime
    for document in documents:
        await realtime.reauthorize(document)
        realtime.rooms.rooms.pop(document, None)


async def intervision_get(request: Request) -> Response:
    return await _intervision_page(request)


async def group_create(request: Request) -> Response:
    actor = actor_of(request)
    form = await form_data(request)
    values = _values(form, iv.GROUP_FIELDS)
    try:
        async with request.app.state.db.begin() as db:
            group = await iv.create_group(db, actor, values)
    except ValidationError as exc:
        return await _intervision_page(
            request, status_code=422, forms={"group": {"values": values, "errors": exc.errors}}
        )
    return redirect(request.url_for("group", group_id=group.id).path)


async def _group_page(
    request: Request, *, status_code: int = 200, forms: dict[str, Any] | None = None
) -> Response:
    actor = actor_of(request)
    group_id = parse_uuid(request.path_params["group_id"])
    async with request.app.state.db.begin() as db:
        group = await iv.member_group(db, actor, group_id)
        members = await iv.active_members(db, group.id)
        copies = await iv.group_copies(db, group.id)
        sessions = await iv.group_sessions(db, group.id)
        audit.record(db, actor, "group.view", object_type="group", object_id=group.id)
    return render(
        request,
        "learning/group.html",
        {
            "group": group,
            "members": members,
            "copies": copies,
            "copy_titles": {c.id: c.title for c in copies},
            "sessions": sessions,
            "methods": methods,
            "forms": forms or {},
            "today": _today().isoformat(),
        },
        status_code=status_code,
    )


async def group_get(request: Request) -> Response:
    return await _group_page(request)


async def group_add_member(request: Request) -> Response:
    actor = actor_of(request)
    group_id = parse_uuid(request.path_params["group_id"])
    form = await form_data(request)
    values = _values(form, ("email",))
    try:
        async with request.app.state.db.begin() as db:
            await iv.add_member(db, actor, group_id, values)
    except ValidationError as exc:
        return await _group_page(
            request, status_code=422, forms={"member": {"values": values, "errors": exc.errors}}
        )
    return redirect(request.url_for("group", group_id=group_id).path + "#leden")


async def group_leave(request: Request) -> Response:
    actor = actor_of(request)
    group_id = parse_uuid(request.path_params["group_id"])
    await form_data(request)
    async with request.app.state.db.begin() as db:
        await iv.leave_group(db, actor, group_id)
    return redirect(request.url_for("intervision").path)


async def session_create(request: Request) -> Response:
    actor = actor_of(request)
    group_id = parse_uuid(request.path_params["group_id"])
    form = await form_data(request)
    values = _values(form, iv.SESSION_FIELDS)
    try:
        async with request.app.state.db.begin() as db:
            session = await iv.start_session(db, actor, group_id, values)
    except ValidationError as exc:
        return await _group_page(
            request, status_code=422, forms={"session": {"values": values, "errors": exc.errors}}
        )
    return redirect(request.url_for("session", session_id=session.id).path)


# -- intervision: making a copy ---------------------------------------------------------------


async def copy_create(request: Request) -> Response:
    actor = actor_of(request)
    form = await form_data(request)
    values = _values(form, iv.COPY_FIELDS)
    try:
        async with request.app.state.db.begin() as db:
            copy = await iv.start_copy(db, actor, values)
    except ValidationError as exc:
        return await _intervision_page(
            request, status_code=422, forms={"copy": {"values": values, "errors": exc.errors}}
        )
    return redirect(request.url_for("copy_review", copy_id=copy.id).path)


async def _texts(request: Request, material: iv.Material) -> list[str]:
    realtime = request.app.state.realtime
    return [await realtime.text(s.document) if s.document else s.text for s in material.sources]


async def _draft(
    request: Request, actor: Actor, copy_id: uuid.UUID, *, audited: bool
) -> tuple[Copy, iv.Draft, str, str]:
    """The draft as releasing would publish it now, read as its maker may see the case."""
    async with request.app.state.db.begin() as db:
        copy = await iv.maker_copy(db, actor, copy_id)
        material = await iv.gather(db, actor, copy)
        group = await db.get(Group, copy.group_id)
        if audited:
            # The maker reads the case's plan to check the copy: the family's audit page says so.
            audit.record(
                db,
                actor,
                "copy.draft",
                case_id=copy.source_case_id,
                object_type="copy",
                object_id=copy.id,
            )
    draft = iv.make_draft(copy, material, await _texts(request, material))
    return copy, draft, material.case_title, group.name if group else ""


async def _review_page(
    request: Request,
    *,
    status_code: int = 200,
    forms: dict[str, Any] | None = None,
    conflict: bool = False,
) -> Response:
    actor = actor_of(request)
    copy_id = parse_uuid(request.path_params["copy_id"])
    copy, draft, case_title, group_name = await _draft(request, actor, copy_id, audited=True)
    return render(
        request,
        "learning/copy_review.html",
        {
            "copy": copy,
            "draft": draft,
            "case_title": case_title,
            "group_name": group_name,
            "reviewed_now": copy.reviewed == draft.fingerprint,
            "forms": forms or {},
            "conflict": conflict,
        },
        status_code=status_code,
    )


async def copy_review_get(request: Request) -> Response:
    return await _review_page(request)


async def copy_mark(request: Request) -> Response:
    actor = actor_of(request)
    copy_id = parse_uuid(request.path_params["copy_id"])
    form = await form_data(request)
    values = _values(form, ("word", "replacement", "version", "remove"))
    try:
        async with request.app.state.db.begin() as db:
            if values["remove"]:
                await iv.unmark_word(db, actor, copy_id, values["remove"], values["version"])
            else:
                await iv.mark_word(db, actor, copy_id, values)
    except ValidationError as exc:
        return await _review_page(
            request, status_code=422, forms={"mark": {"values": values, "errors": exc.errors}}
        )
    except Conflict:
        return await _review_page(request, status_code=409, conflict=True)
    return redirect(request.url_for("copy_review", copy_id=copy_id).path + "#woorden")


async def copy_reviewed(request: Request) -> Response:
    actor = actor_of(request)
    copy_id = parse_uuid(request.path_params["copy_id"])
    form = await form_data(request)
    seen = str(form.get("fingerprint") or "")
    _copy, draft, _title, _group = await _draft(request, actor, copy_id, audited=False)
    try:
        async with request.app.state.db.begin() as db:
            await iv.review_copy(db, actor, copy_id, draft, seen)
    except ValidationError as exc:
        return await _review_page(
            request, status_code=422, forms={"release": {"values": {}, "errors": exc.errors}}
        )
    return redirect(request.url_for("copy_review", copy_id=copy_id).path + "#vrijgeven")


async def copy_release(request: Request) -> Response:
    """Release: check, write the copy's documents (new ids: nothing to open yet), then commit
    the rows that make them visible to the group."""
    actor = actor_of(request)
    copy_id = parse_uuid(request.path_params["copy_id"])
    form = await form_data(request)
    seen = str(form.get("version") or "")
    copy, draft, _title, _group = await _draft(request, actor, copy_id, audited=False)
    try:
        if str(copy.version) != seen.strip():
            raise Conflict("the draft changed since the page was shown")
        release = iv.plan_release(copy, draft)
    except ValidationError as exc:
        return await _review_page(
            request, status_code=422, forms={"release": {"values": {}, "errors": exc.errors}}
        )
    except Conflict:
        return await _review_page(request, status_code=409, conflict=True)
    assert actor.user is not None
    for document, text in release.texts.items():
        await request.app.state.realtime.replace_text(document, text, f"user:{actor.user.id}")
    try:
        async with request.app.state.db.begin() as db:
            released = await iv.release_copy(db, actor, copy_id, draft, release, seen)
    except ValidationError as exc:
        return await _review_page(
            request, status_code=422, forms={"release": {"values": {}, "errors": exc.errors}}
        )
    except Conflict:
        return await _review_page(request, status_code=409, conflict=True)
    return redirect(request.url_for("copy", copy_id=released.id).path)


async def copy_end(request: Request) -> Response:
    actor = actor_of(request)
    copy_id = parse_uuid(request.path_params["copy_id"])
    await form_data(request)
    async with request.app.state.db.begin() as db:
        copy = await db.get(Copy, copy_id)
        group_id = copy.group_id if copy is not None else None
        documents = await iv.end_copy(db, actor, copy_id)
    await _close_documents(request, documents)
    if group_id is None:
        return redirect(request.url_for("intervision").path)
    return redirect(request.url_for("group", group_id=group_id).path)


# -- intervision: reading a copy, annotating ----------------------------------------------------


async def document_state(request: Request, document: str) -> bytes:
    """A document's current state: the loaded room's, or the store's."""
    realtime = request.app.state.realtime
    room = realtime.rooms.rooms.get(document)
    if room is not None:
        state: bytes = room.doc.get_update()
        return state
    loaded = await realtime.store.load(document)
    return loaded.state or b""


async def _copy_context(
    request: Request, db: Any, actor: Actor, copy: Copy
) -> tuple[dict[str, Any], list[str]]:
    """The copy's sections and annotations (rows; texts come after the transaction)."""
    sections = await iv.copy_sections(db, copy.id)
    annotations = await iv.copy_annotations(db, copy.id)
    return {"copy": copy, "sections": sections, "annotations": annotations}, [
        copy_document(copy.id, s.id) for s in sections
    ]


async def _place_texts(request: Request, context: dict[str, Any]) -> None:
    copy: Copy = context["copy"]
    placed_sections = []
    number = 0
    for section in context["sections"]:
        document = copy_document(copy.id, section.id)
        text, placed = iv.place(
            context["annotations"], section.id, await document_state(request, document)
        )
        numbers = list(range(number + 1, number + len(placed) + 1))
        pieces = [
            (piece, [numbers[i - 1] for i in covering])
            for piece, covering in iv.highlight(text, placed)
        ]
        placed_sections.append(
            {
                "row": section,
                "document": document,
                "pieces": pieces,
                "placed": list(zip(numbers, placed, strict=True)),
                "text": text,
            }
        )
        number += len(placed)
    context["placed_sections"] = placed_sections


async def _copy_page(
    request: Request,
    *,
    status_code: int = 200,
    forms: dict[str, Any] | None = None,
) -> Response:
    actor = actor_of(request)
    copy_id = parse_uuid(request.path_params["copy_id"])
    async with request.app.state.db.begin() as db:
        copy = await iv.member_copy(db, actor, copy_id)
        group = await db.get(Group, copy.group_id)
        context, _documents = await _copy_context(request, db, actor, copy)
        audit.record(db, actor, "copy.view", object_type="copy", object_id=copy.id)
    await _place_texts(request, context)
    context.update({"group": group, "forms": forms or {}, "session": None, "name": actor.name})
    return render(request, "learning/copy.html", context, status_code=status_code)


async def copy_get(request: Request) -> Response:
    return await _copy_page(request)


async def annotation_create(request: Request) -> Response:
    actor = actor_of(request)
    copy_id = parse_uuid(request.path_params["copy_id"])
    form = await form_data(request)
    values = _values(form, iv.ANNOTATION_FIELDS)
    async with request.app.state.db.begin() as db:
        copy = await iv.member_copy(db, actor, copy_id)
        sections = await iv.copy_sections(db, copy.id)
    states = {s.id: await document_state(request, copy_document(copy.id, s.id)) for s in sections}
    try:
        async with request.app.state.db.begin() as db:
            annotation = await iv.add_annotation(db, actor, copy_id, values, states)
    except ValidationError as exc:
        forms = {"annotation": {"values": values, "errors": exc.errors}}
        if values.get("session_id"):
            with contextlib.suppress(ValueError):
                request.path_params["session_id"] = str(uuid.UUID(values["session_id"]))
                return await _session_page(request, status_code=422, forms=forms)
        return await _copy_page(request, status_code=422, forms=forms)
    if annotation.session_id is not None:
        return redirect(
            request.url_for("session", session_id=annotation.session_id).path
            + f"#opmerking-{annotation.id}"
        )
    return redirect(request.url_for("copy", copy_id=copy_id).path + f"#opmerking-{annotation.id}")


# -- intervision: sessions and the shared screen ----------------------------------------------


@dataclass(frozen=True)
class SessionChanged:
    """Published after commit. The event bus is keyed by ``case_id``: here it carries the
    session's id, so only that session's screens hear it (and they learn no content)."""

    case_id: uuid.UUID
    what: str


async def _session_page(
    request: Request,
    *,
    status_code: int = 200,
    forms: dict[str, Any] | None = None,
    conflict: str = "",
    template: str = "learning/session.html",
) -> Response:
    actor = actor_of(request)
    session_id = parse_uuid(request.path_params["session_id"])
    async with request.app.state.db.begin() as db:
        session = await iv.member_session(db, actor, session_id)
        group = await db.get(Group, session.group_id)
        context: dict[str, Any] = {"copy": None, "sections": [], "annotations": []}
        if session.copy_id is not None:
            copy = await db.get(Copy, session.copy_id)
            if copy is not None and copy.state == CopyState.RELEASED and copy.ends_on >= _today():
                context, _documents = await _copy_context(request, db, actor, copy)
        audit.record(db, actor, "session.view", object_type="session", object_id=session.id)
    await _place_texts(request, context)
    method = methods.METHODS_BY_KEY[session.method]
    context.update(
        {
            "session": session,
            "group": group,
            "method": method,
            "step": method.steps[session.step],
            "forms": forms or {},
            "conflict": conflict,
            "name": actor.name,
        }
    )
    block = (
        "screen_step"
        if request.query_params.get("fragment") == "step" and is_htmx(request)
        else None
    )
    return render(request, template, context, status_code=status_code, block=block)


async def session_get(request: Request) -> Response:
    return await _session_page(request)


async def screen_get(request: Request) -> Response:
    return await _session_page(request, template="learning/screen.html")


async def session_step(request: Request) -> Response:
    actor = actor_of(request)
    session_id = parse_uuid(request.path_params["session_id"])
    form = await form_data(request)
    values = _values(form, ("step", "version", "from"))
    try:
        async with request.app.state.db.begin() as db:
            await iv.set_step(db, actor, session_id, values["step"], values["version"])
    except (ValidationError, Conflict):
        # Someone else moved the screen meanwhile: show where it is now.
        template = "learning/screen.html" if values["from"] == "scherm" else "learning/session.html"
        return await _session_page(request, status_code=409, conflict="step", template=template)
    await request.app.state.events.publish(SessionChanged(session_id, "step"))
    name = "screen" if values["from"] == "scherm" else "session"
    return redirect(request.url_for(name, session_id=session_id).path + "#stap")


async def session_outcome(request: Request) -> Response:
    actor = actor_of(request)
    session_id = parse_uuid(request.path_params["session_id"])
    form = await form_data(request)
    values = _values(form, ("conclusions", "lessons", "version", "close"))
    try:
        async with request.app.state.db.begin() as db:
            session = await iv.save_outcome(db, actor, session_id, values)
            if values["close"]:
                await iv.close_session(db, actor, session_id, str(session.version))
    except ValidationError as exc:
        return await _session_page(
            request, status_code=422, forms={"outcome": {"values": values, "errors": exc.errors}}
        )
    except Conflict:
        return await _session_page(
            request,
            status_code=409,
            conflict="outcome",
            forms={"outcome": {"values": values, "errors": {}}},
        )
    return redirect(request.url_for("session", session_id=session_id).path + "#uitkomst")


async def session_live(request: Request) -> Response:
    """Server-sent events for one session's screens: "step" when the step moved."""
    actor = actor_of(request)
    session_id = parse_uuid(request.path_params["session_id"])
    async with request.app.state.db.begin() as db:
        await iv.member_session(db, actor, session_id)
        audit.record(db, actor, "session.live", object_type="session", object_id=session_id)
    return live_events(request, session_id, keys=grant_keys(actor))


async def _session_markdown(request: Request) -> tuple[str, Session]:
    actor = actor_of(request)
    session_id = parse_uuid(request.path_params["session_id"])
    async with request.app.state.db.begin() as db:
        session = await iv.member_session(db, actor, session_id)
        group = await db.get(Group, session.group_id)
        copy = await db.get(Copy, session.copy_id) if session.copy_id else None
        audit.record(db, actor, "session.export", object_type="session", object_id=session.id)
    response = templates.TemplateResponse(
        request,
        "learning/session.md",
        {
            "session": session,
            "group": group,
            "copy_title": copy.title if copy is not None else "",
            "method": methods.METHODS_BY_KEY[session.method],
        },
    )
    return bytes(response.body).decode(), session


async def session_md(request: Request) -> Response:
    text, session = await _session_markdown(request)
    return PlainTextResponse(
        text,
        media_type="text/markdown; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="intervisie-{session.held_on}.md"'},
    )


async def session_pdf(request: Request) -> Response:
    text, session = await _session_markdown(request)
    data = await asyncio.to_thread(markdown_pdf, text, title=_("Intervisie"), footer="Kring")
    return Response(
        data,
        media_type="application/pdf",
        headers={"content-disposition": f'attachment; filename="intervisie-{session.held_on}.pdf"'},
    )


_r = f"/leren/reflecties/{uuid_param('reflection_id')}"
_c = f"/intervisie/kopieen/{uuid_param('copy_id')}"
_s = f"/intervisie/sessies/{uuid_param('session_id')}"
_g = f"/intervisie/groepen/{uuid_param('group_id')}"

routes = [
    Route("/leren", learning_home, methods=["GET"], name="learning"),
    Route("/leren/reflecties", reflections_get, methods=["GET"], name="reflections"),
    Route("/leren/reflecties", reflections_post, methods=["POST"], name="add_reflection"),
    Route(_r, reflection_get, methods=["GET"], name="reflection"),
    Route(_r, reflection_post, methods=["POST"], name="edit_reflection"),
    Route(f"{_r}/reactie", reflection_respond, methods=["POST"], name="reflection_respond"),
    Route(f"{_r}/agenderen", reflection_signal, methods=["POST"], name="reflection_signal"),
    Route("/leren/team", team_page, methods=["GET"], name="learning_team"),
    Route("/leren/overzicht", review_page, methods=["GET"], name="learning_review"),
    Route("/leren/leeroverzicht.md", digest_md, methods=["GET"], name="digest_md"),
    Route("/leren/leeroverzicht.pdf", digest_pdf, methods=["GET"], name="digest_pdf"),
    Route("/intervisie", intervision_get, methods=["GET"], name="intervision"),
    Route("/intervisie/groepen", group_create, methods=["POST"], name="add_group"),
    Route(_g, group_get, methods=["GET"], name="group"),
    Route(f"{_g}/leden", group_add_member, methods=["POST"], name="group_member"),
    Route(f"{_g}/verlaten", group_leave, methods=["POST"], name="group_leave"),
    Route(f"{_g}/sessies", session_create, methods=["POST"], name="add_session"),
    Route("/intervisie/kopieen", copy_create, methods=["POST"], name="add_copy"),
    Route(f"{_c}/nakijken", copy_review_get, methods=["GET"], name="copy_review"),
    Route(f"{_c}/woorden", copy_mark, methods=["POST"], name="copy_mark"),
    Route(f"{_c}/nagekeken", copy_reviewed, methods=["POST"], name="copy_reviewed"),
    Route(f"{_c}/vrijgeven", copy_release, methods=["POST"], name="copy_release"),
    Route(f"{_c}/beeindigen", copy_end, methods=["POST"], name="copy_end"),
    Route(_c, copy_get, methods=["GET"], name="copy"),
    Route(f"{_c}/opmerkingen", annotation_create, methods=["POST"], name="add_annotation"),
    Route(_s, session_get, methods=["GET"], name="session"),
    Route(f"{_s}/scherm", screen_get, methods=["GET"], name="screen"),
    Route(f"{_s}/live", session_live, methods=["GET"], name="session_live"),
    Route(f"{_s}/stap", session_step, methods=["POST"], name="session_step"),
    Route(f"{_s}/uitkomst", session_outcome, methods=["POST"], name="session_outcome"),
    Route(f"{_s}/verslag.md", session_md, methods=["GET"], name="session_md"),
    Route(f"{_s}/verslag.pdf", session_pdf, methods=["GET"], name="session_pdf"),
]
