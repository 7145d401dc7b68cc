"""The case's co-edited documents: its shared notes (`case/<id>/notes`) and every section of
its plan (`case/<id>/section/<section id>`, one document per section so that each has its own
audience).

This module decides who may open which document; realtime/ knows documents and permissions,
not families, and asks here through the authorizer."""

from __future__ import annotations

import hashlib
import uuid

from workspace.models import Participant

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


def section_document(case_id: uuid.UUID, section_id: uuid.UUID) -> str:
    return f"case/{case_id}/section/{section_id}"


def parse_document(name: str) -> tuple[uuid.UUID, uuid.UUID | None] | None:
    """``case/<uuid>/notes`` -> (case id, None); ``case/<uuid>/section/<uuid>`` -> (case id,
    section id); anything else -> None. Ids must be in their canonical form, so one document
    has exactly one name."""
    parts = name.split("/")
    try:
        if len(parts) == 3 and parts[0] == "case" and parts[2] == "notes":
            case_id = uuid.UUID(parts[1])
            return (case_id, None) if str(case_id) == parts[1] else None
        if len(parts) == 4 and parts[0] == "case" and parts[2] == "section":
            case_id, section_id = uuid.UUID(parts[1]), uuid.UUID(parts[3])
            if str(case_id) == parts[1] and str(section_id) == parts[3]:
                return case_id, section_id
    except ValueError:
        return None
    return None


def audit_ref(document: str) -> tuple[str, str]:
    """(object_type, object_id) for an audit row about ``document``: short ids, since a
    section document's full name is longer than the audit column."""
    parsed = parse_document(document)
    if parsed is None:
        return "document", ""
    case_id, section_id = parsed
    return ("section", str(section_id)) if section_id is not None else ("notes", str(case_id))


def colour_for(participant: Participant) -> str:
    """A stable colour per participant, decided by the server (never by the client)."""
    digest = hashlib.sha256(participant.id.bytes).digest()
    return PALETTE[digest[0] % len(PALETTE)]
