"""Who may see a section or record: its audience, checked on the server for every read.

A Yjs document is all-or-nothing for a connection, so a section's audience is also its
document's audience (``workspace.notes.access`` asks ``can_see`` on the websocket upgrade)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from typing import TypeVar

from workspace.access import Action, CaseAccess
from workspace.models import CaseRole
from workspace.plan.models import Audience, Audienced

#: "Alleen professionals": the case's coordinators and professionals (not observers, who may
#: be e.g. a teacher who only follows the agreements).
PROFESSIONAL_ROLES = frozenset({CaseRole.COORDINATOR, CaseRole.PROFESSIONAL})

T = TypeVar("T", bound=Audienced)


def audience_allows(who: CaseAccess, audience: str, excluded: Sequence[str]) -> bool:
    if audience == Audience.ALL:
        return True
    if audience == Audience.PROFESSIONALS:
        return who.role in PROFESSIONAL_ROLES
    if audience == Audience.EXCEPT:
        person = who.participant.person_id
        return person is None or str(person) not in set(excluded)
    return False  # an unknown audience shows nothing: fail closed


def can_see(who: CaseAccess, item: Audienced, *, agreement: bool = False) -> bool:
    """``agreement``: observers may see agreements (their audience permitting), nothing else."""
    needed = Action.VIEW_AGREEMENTS if agreement else Action.VIEW_PLAN
    return who.can(needed) and audience_allows(who, item.audience, item.excluded or [])


def visible(who: CaseAccess, items: Iterable[T], *, agreement: bool = False) -> list[T]:
    return [item for item in items if can_see(who, item, agreement=agreement)]


def excluded_ids(values: Iterable[str], persons: Iterable[uuid.UUID]) -> list[str]:
    """The form's chosen persons, kept only if they are persons of this case."""
    known = {str(p) for p in persons}
    return sorted({v for v in values if v in known})
