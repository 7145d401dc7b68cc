"""Learning (issue 6): intervision on pseudonymised copies of cases, reflection logs, and the
manager's review of what professionals chose to share.

A released copy's texts are Yjs documents named ``intervision/<copy id>/section/<section id>``:
only the group's members may open them (``workspace.learning.access``)."""

from __future__ import annotations

import uuid


def copy_document(copy_id: uuid.UUID, section_id: uuid.UUID) -> str:
    return f"intervision/{copy_id}/section/{section_id}"


def parse_copy_document(name: str) -> tuple[uuid.UUID, uuid.UUID] | None:
    """``intervision/<uuid>/section/<uuid>`` -> (copy id, section id); anything else -> None.
    Ids must be canonical, so one document has exactly one name."""
    parts = name.split("/")
    if len(parts) != 4 or parts[0] != "intervision" or parts[2] != "section":
        return None
    try:
        copy_id, section_id = uuid.UUID(parts[1]), uuid.UUID(parts[3])
    except ValueError:
        return None
    if str(copy_id) != parts[1] or str(section_id) != parts[3]:
        return None
    return copy_id, section_id
