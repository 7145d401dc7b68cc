"""The shared notes on the case page: the live editor, and a form that works without it."""

from __future__ import annotations

import hashlib
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from workspace import audit
from workspace.access import Action, CaseAccess, case_access
from workspace.markdown import render as render_markdown
from workspace.notes import colour_for, document_name
from workspace.web import actor_of, form_data, parse_uuid, redirect


def text_version(text: str) -> str:
    """What the no-JS form saw: saving is refused if the text changed since."""
    return hashlib.sha256(text.encode()).hexdigest()[:32]


async def notes_context(request: Request, who: CaseAccess) -> dict[str, Any]:
    document = document_name(who.case.id)
    text = await request.app.state.realtime.text(document)
    return {
        "document": document,
        "text": text,
        "html": render_markdown(text),
        "version": text_version(text),
        "can_write": who.can(Action.EDIT_NOTES),
        "name": who.participant.display_name,
        "colour": colour_for(who.participant),
    }


async def save_notes(request: Request) -> Response:
    """Save the whole text from the no-JavaScript form, through the durable realtime path."""
    from workspace.cases.views import case_page_response

    actor = actor_of(request)
    case_id = parse_uuid(request.path_params["case_id"])
    form = await form_data(request)
    typed = str(form.get("text") or "").replace("\r\n", "\n")
    seen = str(form.get("version") or "")
    async with request.app.state.db.begin() as db:
        who = await case_access(db, actor, case_id)
        who.require(Action.EDIT_NOTES)
    realtime = request.app.state.realtime
    document = document_name(case_id)
    current = await realtime.text(document)
    if text_version(current) != seen and current != typed:
        # Someone else wrote meanwhile: never overwrite silently. Show both.
        return await case_page_response(request, status_code=409, notes_conflict={"typed": typed})
    await realtime.replace_text(document, typed, f"participant:{who.participant.id}")
    async with request.app.state.db.begin() as db:
        who = await case_access(db, actor, case_id)
        audit.record(db, who, "notes.edit", object_type="notes", object_id=case_id)
    return redirect(request.url_for("case", case_id=case_id).path + "#notes")


routes = [
    Route("/cases/{case_id:uuid}/notes", save_notes, methods=["POST"], name="save_notes"),
]
