"""Case pages: "Mijn gezinnen", a case's overview with "Wie is wie", and its audit page."""

from __future__ import annotations

import uuid
from typing import Any

import segno
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from workspace import access, audit
from workspace.access import Action, CaseAccess, case_access
from workspace.audit.family import member_history, parse_before
from workspace.auth import actions as auth_actions
from workspace.cases import actions
from workspace.errors import ValidationError
from workspace.grants import end_access
from workspace.models import CaseRole, Participant, PersonKind
from workspace.web import actor_of, form_data, form_values, parse_uuid, redirect, render, uuid_param


def qr_svg(url: str) -> str:
    """An inline SVG QR code of ``url`` (dark on light, big enough to scan off a projector)."""
    return str(segno.make(url, error="m").svg_inline(scale=5, border=2, dark="#000", light="#fff"))


async def case_list(request: Request) -> Response:
    actor = actor_of(request)
    async with request.app.state.db.begin() as db:
        rows = await actions.my_cases(db, actor)
        for case, participant in rows:
            audit.record(
                db,
                CaseAccess(actor, case, participant),
                "case.list",
                object_type="case",
                object_id=case.id,
            )
    return render(
        request,
        "cases/list.html",
        {"rows": rows, "values": {}, "errors": {}, "role_labels": access.ROLE_LABELS},
    )


async def create_case(request: Request) -> Response:
    actor = actor_of(request)
    form = await form_data(request)
    values = form_values(form, "title")
    try:
        async with request.app.state.db.begin() as db:
            case = await actions.create_case(db, actor, values["title"])
    except ValidationError as exc:
        async with request.app.state.db.begin() as db:
            rows = await actions.my_cases(db, actor)
        return render(
            request,
            "cases/list.html",
            {
                "rows": rows,
                "values": values,
                "errors": exc.errors,
                "role_labels": access.ROLE_LABELS,
            },
            status_code=422,
        )
    return redirect(request.url_for("case", case_id=case.id).path)


async def _overview_context(db: Any, who: CaseAccess, **extra: Any) -> dict[str, Any]:
    data = await actions.overview(db, who)
    roles = [
        {
            "role": role,
            "label": access.ROLE_LABELS[role],
            "summary": access.ROLE_SUMMARIES[role],
            "may": access.may_do(role),
        }
        for role in CaseRole
    ]
    context: dict[str, Any] = {
        "who": who,
        "case": who.case,
        "data": data,
        "roles": roles,
        "role_labels": access.ROLE_LABELS,
        "can": {a.name.lower(): who.can(a) for a in Action},
        "person_values": {"kind": PersonKind.HOUSEHOLD, "participates": "1"},
        "person_errors": {},
        "pro_values": {"role": CaseRole.PROFESSIONAL},
        "pro_errors": {},
        "invite": None,
        "manage_errors": {},
        "notes": None,
        "notes_conflict": None,
    }
    context.update(extra)
    return context


async def case_page(request: Request) -> Response:
    return await case_page_response(request)


async def case_page_response(request: Request, *, status_code: int = 200, **extra: Any) -> Response:
    """The case page (audited as a read), with ``extra`` context such as a notes conflict."""
    from workspace.notes.views import notes_context

    actor = actor_of(request)
    case_id = parse_uuid(request.path_params["case_id"])
    async with request.app.state.db.begin() as db:
        who = await case_access(db, actor, case_id)
        context = await _overview_context(db, who, **extra)
        audit.record(db, who, "case.view", object_type="case", object_id=case_id)
    # After the transaction: the notes come from the realtime store, on its own connection.
    context["notes"] = await notes_context(request, who)
    return render(request, "cases/show.html", context, status_code=status_code)


async def _case_form(
    request: Request,
    fields: tuple[str, ...],
    work: Any,
    *,
    block: str,
    errors_key: str,
    values_key: str,
) -> Response:
    """The shared shape of every form on the case page: check CSRF, run ``work`` in one
    transaction, then publish and redirect (plain POST) or re-render the block (htmx). On bad
    input the page or block comes back with what was typed and a message per field."""
    actor = actor_of(request)
    case_id = parse_uuid(request.path_params["case_id"])
    form = await form_data(request)
    values = form_values(form, *fields)
    try:
        async with request.app.state.db.begin() as db:
            who = await case_access(db, actor, case_id)
            extra = await work(db, who, values, request) or {}
    except ValidationError as exc:
        async with request.app.state.db.begin() as db:
            who = await case_access(db, actor, case_id)
            context = await _overview_context(
                db, who, **{values_key: values, errors_key: exc.errors}
            )
            audit.record(db, who, "case.view", object_type="case", object_id=case_id)
        return render(request, "cases/show.html", context, status_code=422, block=block)
    await request.app.state.events.publish(actions.CaseChanged(case_id, block))
    if "invite" in extra or request.headers.get("hx-request") == "true":
        async with request.app.state.db.begin() as db:
            who = await case_access(db, actor, case_id)
            context = await _overview_context(db, who, **extra)
            audit.record(db, who, "case.view", object_type="case", object_id=case_id)
        # An invitation link is shown once, right here: only its hash is stored.
        return render(request, "cases/show.html", context, block=block)
    return redirect(request.url_for("case", case_id=case_id).path + f"#{block}")


async def add_person(request: Request) -> Response:
    async def work(db: Any, who: CaseAccess, values: dict[str, str], _: Request) -> None:
        await actions.add_person(
            db,
            who,
            actions.PersonInput(
                name=values["name"],
                kind=values["kind"],
                relation=values["relation"],
                birth_year=values["birth_year"],
                participates=values["participates"] == "1",
            ),
        )

    return await _case_form(
        request,
        ("name", "kind", "relation", "birth_year", "participates"),
        work,
        block="people",
        errors_key="person_errors",
        values_key="person_values",
    )


async def add_professional(request: Request) -> Response:
    async def work(db: Any, who: CaseAccess, values: dict[str, str], _: Request) -> None:
        await actions.add_professional(
            db,
            who,
            actions.ProfessionalInput(
                email=values["email"], role=values["role"], case_function=values["case_function"]
            ),
        )

    return await _case_form(
        request,
        ("email", "role", "case_function"),
        work,
        block="people",
        errors_key="pro_errors",
        values_key="pro_values",
    )


async def revoke_participant(request: Request) -> Response:
    participant_id = parse_uuid(request.path_params["participant_id"])

    ended: set[str] = set()

    async def work(db: Any, who: CaseAccess, values: dict[str, str], _: Request) -> None:
        ended.update(await actions.revoke_participant(db, who, participant_id))

    response = await _case_form(
        request, (), work, block="people", errors_key="manage_errors", values_key="_ignored"
    )
    await end_access(request.app, ended)  # committed: now nothing of theirs stays open
    return response


async def invite(request: Request) -> Response:
    participant_id = parse_uuid(request.path_params["participant_id"])

    async def work(
        db: Any, who: CaseAccess, values: dict[str, str], req: Request
    ) -> dict[str, Any]:
        settings = req.app.state.settings
        new = await auth_actions.create_invitation(db, settings, who, participant_id)
        url = f"{settings.base_url}/uitnodiging/{new.token}"
        participant = await db.get(Participant, participant_id)
        person = participant.person if participant else None
        return {
            "invite": {
                "url": url,
                "qr": qr_svg(url),
                "participant_id": participant_id,
                "name": person.name if person else "",
                "expires_at": new.invitation.expires_at,
            }
        }

    return await _case_form(
        request, (), work, block="people", errors_key="manage_errors", values_key="_ignored"
    )


async def revoke_invitation(request: Request) -> Response:
    invitation_id = parse_uuid(request.path_params["invitation_id"])

    ended: set[str] = set()

    async def work(db: Any, who: CaseAccess, values: dict[str, str], _: Request) -> None:
        ended.update(await auth_actions.revoke_invitation(db, who, invitation_id))

    response = await _case_form(
        request, (), work, block="people", errors_key="manage_errors", values_key="_ignored"
    )
    await end_access(request.app, ended)  # committed: now nothing of theirs stays open
    return response


async def audit_page(request: Request) -> Response:
    actor = actor_of(request)
    case_id = parse_uuid(request.path_params["case_id"])
    before = request.query_params.get("voor")
    async with request.app.state.db.begin() as db:
        who = await case_access(db, actor, case_id)
        who.require(Action.VIEW_AUDIT)
        family = who.participant.user_id is None
        if family:
            # A member sees the professionals and themselves, never another member, never a
            # row about what is hidden from them (audit.family).
            page = await member_history(db, who, before=parse_before(before))
            lines, next_page = page.lines, page.before
        else:
            # Ids are 64-bit: anything longer is not one (and must not reach the database).
            before_id = int(before) if before and before.isdigit() and len(before) <= 18 else None
            lines, next_id = await audit.case_history(db, case_id, before_id=before_id)
            next_page = str(next_id) if next_id else None
        audit.record(db, who, "audit.view", object_type="case", object_id=case_id)
    return render(
        request,
        "cases/audit.html",
        {
            "who": who,
            "case": who.case,
            "lines": lines,
            "family": family,
            "next_page": next_page,
            "role_labels": {r.value: label for r, label in access.ROLE_LABELS.items()},
        },
    )


routes = [
    Route("/cases", case_list, methods=["GET"], name="cases"),
    Route("/cases", create_case, methods=["POST"]),
    Route(f"/cases/{uuid_param('case_id')}", case_page, methods=["GET"], name="case"),
    Route(
        f"/cases/{uuid_param('case_id')}/persons", add_person, methods=["POST"], name="add_person"
    ),
    Route(
        f"/cases/{uuid_param('case_id')}/participants",
        add_professional,
        methods=["POST"],
        name="add_professional",
    ),
    Route(
        f"/cases/{uuid_param('case_id')}/participants/{uuid_param('participant_id')}/revoke",
        revoke_participant,
        methods=["POST"],
        name="revoke_participant",
    ),
    Route(
        f"/cases/{uuid_param('case_id')}/participants/{uuid_param('participant_id')}/invitations",
        invite,
        methods=["POST"],
        name="invite",
    ),
    Route(
        f"/cases/{uuid_param('case_id')}/invitations/{uuid_param('invitation_id')}/revoke",
        revoke_invitation,
        methods=["POST"],
        name="revoke_invitation",
    ),
    Route(f"/cases/{uuid_param('case_id')}/audit", audit_page, methods=["GET"], name="case_audit"),
]

__all__ = ["routes", "uuid"]
