"""Who may open a pseudonymised copy's documents (``intervision/<copy>/section/<section>``):
the active members of the copy's group, while the copy is released and within its end date.
Nobody else - not the case's own participants, not a manager - and every open and refusal is
audited, without naming the case (a group member's trail never points back to it)."""

from __future__ import annotations

import contextlib
import hashlib
from typing import TYPE_CHECKING, Any

from starlette.websockets import WebSocket

from workspace import audit
from workspace.access import grant_keys
from workspace.errors import NotFound
from workspace.learning import parse_copy_document
from workspace.learning.intervision import member_copy
from workspace.learning.models import CopySection
from workspace.notes import PALETTE

if TYPE_CHECKING:
    from realtime.server import Grant


def is_copy_document(document: str) -> bool:
    return document.startswith("intervision/")


async def authorize(websocket: WebSocket, document: str) -> Grant | None:
    from realtime.server import Grant

    app: Any = websocket.scope["app"]
    actor = websocket.scope.get("state", {}).get("actor")
    parsed = parse_copy_document(document)
    source = websocket.client.host if websocket.client else ""
    async with app.state.db.begin() as db:
        copy_id = section_id = None
        if actor is not None and parsed is not None:
            # Not a member (or no such copy): refused below, like any other stranger.
            with contextlib.suppress(NotFound):
                copy = await member_copy(db, actor, parsed[0])
                section = await db.get(CopySection, parsed[1])
                if section is not None and section.copy_id == copy.id:
                    copy_id, section_id = copy.id, section.id
        if actor is None or copy_id is None or section_id is None:
            # Names no copy: a refusal must not confirm that one exists.
            audit.record(
                db,
                actor,
                "copy.denied",
                object_type="document",
                outcome="denied",
                source=source,
                channel="websocket",
            )
            return None
        audit.record(
            db,
            actor,
            "copy.open",
            object_type="copy",
            object_id=copy_id,
            source=source,
            channel="websocket",
        )
    user = actor.user
    digest = hashlib.sha256(user.id.bytes).digest()
    return Grant(
        document=document,
        can_write=True,
        author=f"user:{user.id}",
        name=user.name,
        role="intervisie",
        colour=PALETTE[digest[0] % len(PALETTE)],
        keys=grant_keys(actor),
    )
