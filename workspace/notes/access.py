"""Who may open which co-edited document: the realtime server's authorizer.

Runs on the websocket upgrade, before accept. The actor comes from the session cookie (the
web middleware resolves it for websocket scopes too); identity shown to others (name, role,
colour) is decided here, never taken from the client."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from starlette.websockets import WebSocket

from workspace import audit
from workspace.access import ROLE_LABELS, Action, case_access
from workspace.errors import NotFound
from workspace.notes import colour_for, parse_document

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
    from realtime.server import Grant

    app: Any = websocket.scope["app"]
    actor = websocket.scope.get("state", {}).get("actor")
    parsed = parse_document(document)
    async with app.state.db.begin() as db:
        if actor is None or parsed is None:
            audit.record(
                db,
                actor,
                "notes.denied",
                object_type="document",
                outcome="denied",
                source=_source(websocket),
                channel="websocket",
            )
            return None
        case_id, _kind = parsed
        try:
            who = await case_access(db, actor, case_id)
        except NotFound:
            # Not "case_id=case_id": the row must not confirm that an unknown case exists.
            audit.record(
                db,
                actor,
                "notes.denied",
                object_type="document",
                outcome="denied",
                source=_source(websocket),
                channel="websocket",
            )
            return None
        if not who.can(Action.VIEW_CASE):
            audit.record(
                db,
                who,
                "notes.denied",
                object_type="document",
                object_id=document,
                outcome="denied",
                channel="websocket",
            )
            return None
        audit.record(
            db, who, "notes.open", object_type="document", object_id=document, channel="websocket"
        )
        participant = who.participant
        return Grant(
            document=document,
            can_write=who.can(Action.EDIT_NOTES),
            author=f"participant:{participant.id}",
            name=participant.display_name,
            role=ROLE_LABELS[who.role],
            colour=colour_for(participant),
        )


async def on_refused(grant: Grant, reason: str, app: Any) -> None:
    """A write the server refused (read-only participant): audited as a refused write."""
    import uuid

    from workspace.models import AuditEvent, Participant

    participant_id = uuid.UUID(grant.author.split(":", 1)[1])
    async with app.state.db.begin() as db:
        participant = await db.get(Participant, participant_id)
        if participant is None:
            return
        db.add(
            AuditEvent(
                action="notes.refused",
                outcome=reason,
                case_id=participant.case_id,
                object_type="document",
                object_id=grant.document,
                participant_id=participant.id,
                person_id=participant.person_id,
                user_id=participant.user_id,
                role=participant.role,
                channel="websocket",
            )
        )
