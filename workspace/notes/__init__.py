"""The case's shared notes: one co-edited Yjs document per case (`case/<id>/notes`).

This module decides who may open which document; realtime/ knows documents and permissions,
not families, and asks here through the authorizer."""

from __future__ import annotations

import hashlib
import uuid

from workspace.models import Participant

DOCUMENT_KINDS = ("notes",)

#: Cursor colours: distinct, and dark enough for white name labels (WCAG AA on white text).
PALETTE = (
    "#1f5fbf",
    "#b3261e",
    "#1b7a3a",
    "#8a3ffc",
    "#a15c00",
    "#006f7a",
    "#c2185b",
    "#4e5d6c",
)


def document_name(case_id: uuid.UUID, kind: str = "notes") -> str:
    return f"case/{case_id}/{kind}"


def parse_document(name: str) -> tuple[uuid.UUID, str] | None:
    """``case/<uuid>/<kind>`` -> (case id, kind); anything else -> None."""
    parts = name.split("/")
    if len(parts) != 3 or parts[0] != "case" or parts[2] not in DOCUMENT_KINDS:
        return None
    try:
        return uuid.UUID(parts[1]), parts[2]
    except ValueError:
        return None


def colour_for(participant: Participant) -> str:
    """A stable colour per participant, decided by the server (never by the client)."""
    digest = hashlib.sha256(participant.id.bytes).digest()
    return PALETTE[digest[0] % len(PALETTE)]
