"""Who may open which co-edited document: the realtime server's authorizer.

Runs on the websocket upgrade, before accept. The actor comes from the session cookie (the
web middleware resolves it for websocket scopes too); identity shown to others (name, role,
colour) is decided here, never taken from the client."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from starlette.websockets import WebSocket

from workspace import audit
from workspace.access import ROLE_LABELS, Action, case_access
from workspace.errors import NotFound
from workspace.learning import access as learning_access
from workspace.notes import audit_ref, colour_for, parse_document
from workspace.plan.actions import get_section, may_write_section

if TYPE_CHECKING:
    from realtime.server import Grant

log = logging.getLogger("kring.notes")


def _source(websocket: WebSocket) -> str:
    return websocket.client.host if websocket.client else ""


async def on_denied(websocket: WebSocket, document: str, reason: str) -> None:
    """A refused upgrade before any access check ran (e.g. a foreign Origin): audited."""
    if reason == "access":
        return  # authorize() already wrote the row
    app: Any = websocket.scope["app"]
    actor = websocket.scope.get("state", {}).get("actor")
    if actor is None:
        # Anyone can knock: counted, one row a minute (audit.coalesce), never a write each.
        app.state.refusals.add("notes.denied", reason, _source(websocket), "websocket")
        return
    async with app.state.db.begin() as db:
        audit.record(
            db,
            actor,
            "notes.denied",
            object_type="document",
            outcome=reason,
            source=_source(websocket),
            channel="websocket",
        )


async def authorize(websocket: WebSocket, document: str) -> Grant | None:
    """A Grant for ``document``, or None (the server closes with 1008). Both are audited."""
    if learning_access.is_copy_document(document):
        # A pseudonymised copy for intervision: its group decides, not a case.
        return await learning_access.authorize(websocket, document)
    app: Any = websocket.scope["app"]
    actor = websocket.scope.get("state", {}).get("actor")
    parsed = parse_document(document)
    object_type, object_id = audit_ref(document)
    if actor is None:
        app.state.refusals.add("notes.denied", "denied", _source(websocket), "websocket")
        return None
    # The checks only read (no lock on SQLite: a storm of upgrades must not queue behind
    # writers); the audit row, when one is due, is written after, in its own transaction.
    rows: list[Callable[[Any], object]] = []

    def denied(who: Any, object_id: str = "") -> None:
        # Before access is established the row names no case and no object, so it cannot
        # confirm that an unknown case or section exists.
        rows.append(
            lambda db: audit.record(
                db,
                who,
                "notes.denied",
                object_type=object_type if object_id else "document",
                object_id=object_id,
                outcome="denied",
                source=_source(websocket),
                channel="websocket",
            )
        )

    grant = await _check(app, actor, document, parsed, object_type, object_id, denied, rows)
    if rows:
        async with app.state.db.begin() as db:
            for row in rows:
                row(db)
    return grant


async def _check(
    app: Any,
    actor: Any,
    document: str,
    parsed: Any,
    object_type: str,
    object_id: str,
    denied: Callable[..., None],
    rows: list[Callable[[Any], object]],
) -> Grant | None:
    from realtime.server import Grant

    async with app.state.db.read() as db:
        if parsed is None:
            denied(actor)
            return None
        case_id, section_id = parsed
        try:
            who = await case_access(db, actor, case_id)
            section = None
            if section_id is not None:
                # The section's audience is the document's audience (all-or-nothing).
                section = await get_section(db, who, section_id)
        except NotFound:
            denied(actor)
            return None
        if not who.can(Action.VIEW_CASE if section_id is None else Action.VIEW_PLAN):
            denied(who, object_id)
            return None
        # One row per session, document and visit: a page's reconnects are the same visit.
        if app.state.visits.first((actor.session_id, document)):
            rows.append(
                lambda db: audit.record(
                    db,
                    who,
                    "notes.open",
                    object_type=object_type,
                    object_id=object_id,
                    channel="websocket",
                )
            )
        participant = who.participant
        # A per-person section is written by that person (or the chair writing their words).
        can_write = (
            await may_write_section(db, who, section)
            if section is not None
            else who.can(Action.EDIT_NOTES)
        )
        return Grant(
            document=document,
            can_write=can_write,
            author=f"participant:{participant.id}",
            name=participant.display_name,
            role=ROLE_LABELS[who.role],
            colour=colour_for(participant),
            keys=who.keys,
        )


async def on_refused(grant: Grant, reason: str, app: Any) -> None:
    """A write the server refused (read-only participant): audited as a refused write."""
    import uuid

    from workspace.models import AuditEvent, Participant

    if not grant.author.startswith("participant:"):
        return  # a copy's member always writes; nothing else is refused there
    participant_id = uuid.UUID(grant.author.split(":", 1)[1])
    object_type, object_id = audit_ref(grant.document)
    async with app.state.db.begin() as db:
        participant = await db.get(Participant, participant_id)
        if participant is None:
            return
        db.add(
            AuditEvent(
                action="notes.refused",
                outcome=reason,
                case_id=participant.case_id,
                object_type=object_type,
                object_id=object_id,
                participant_id=participant.id,
                person_id=participant.person_id,
                user_id=participant.user_id,
                role=participant.role,
                channel="websocket",
            )
        )
