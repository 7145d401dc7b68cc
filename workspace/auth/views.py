"""Sign-in pages: password login for professionals, invitation links for members."""

from __future__ import annotations

import secrets

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from workspace import i18n
from workspace.auth import actions
from workspace.config import Settings
from workspace.errors import Throttled, ValidationError
from workspace.i18n import N_
from workspace.web import (
    DEVICE_COOKIE,
    LANG_COOKIE,
    SESSION_COOKIE,
    client_source,
    cookie_header,
    form_data,
    form_values,
    redirect,
    render,
    safe_next,
)

DEVICE_MAX_AGE = 400 * 24 * 3600


def _signed_in(response: Response, settings: Settings, token: str, max_age: int) -> Response:
    response.raw_headers.append(
        (b"set-cookie", cookie_header(SESSION_COOKIE, token, settings, max_age=max_age))
    )
    return response


async def login_page(request: Request) -> Response:
    if getattr(request.state, "actor", None) is not None:
        return redirect(safe_next(request.query_params.get("next")))
    return render(
        request,
        "auth/login.html",
        {"values": {}, "errors": {}, "next": safe_next(request.query_params.get("next"))},
    )


async def login(request: Request) -> Response:
    form = await form_data(request)
    values = form_values(form, "email")
    next_url = safe_next(str(form.get("next") or ""))
    settings: Settings = request.app.state.settings
    try:
        async with request.app.state.db.begin() as db:
            new = await actions.login(
                db,
                settings,
                values["email"],
                str(form.get("password") or ""),
                client_source(request),
            )
    except ValidationError as exc:
        return render(
            request,
            "auth/login.html",
            {"values": values, "errors": exc.errors, "next": next_url},
            status_code=422,
        )
    except Throttled as exc:
        return render(
            request,
            "auth/login.html",
            {"values": values, "errors": {"form": exc.user_message}, "next": next_url},
            status_code=429,
        )
    if isinstance(new, actions.Refused):
        # Committed above: the failure counts towards throttling.
        errors = {"password": i18n._("Dit e-mailadres of wachtwoord klopt niet.")}
        return render(
            request,
            "auth/login.html",
            {"values": values, "errors": errors, "next": next_url},
            status_code=422,
        )
    return _signed_in(redirect(next_url), settings, new.token, settings.session_max_hours * 3600)


async def logout(request: Request) -> Response:
    await form_data(request)
    actor = getattr(request.state, "actor", None)
    if actor is not None:
        async with request.app.state.db.begin() as db:
            await actions.logout(db, actor)
    response = redirect("/login")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


REFUSALS = {
    "unknown": N_(
        "Deze link werkt niet. Kijk of je de hele link hebt gebruikt, of vraag je regisseur om een nieuwe."
    ),
    "expired": N_("Deze uitnodiging is verlopen. Vraag je regisseur om een nieuwe uitnodiging."),
    "revoked": N_(
        "Deze uitnodiging is ingetrokken. Vraag je regisseur om een nieuwe als je wilt meedoen."
    ),
    "claimed": N_(
        "Deze uitnodiging is al gebruikt op een ander apparaat. Vraag je regisseur om een nieuwe uitnodiging voor dit apparaat."
    ),
}


async def invitation_page(request: Request) -> Response:
    # Shows nothing about the case: link previews and onlookers learn nothing from a GET.
    # Claiming takes a POST, so a chat app's preview bot cannot use the link up.
    return render(request, "auth/invitation.html", {"token": request.path_params["token"]})


async def claim_invitation(request: Request) -> Response:
    form = await form_data(request)
    token = str(form.get("token") or "")
    settings: Settings = request.app.state.settings
    device = request.cookies.get(DEVICE_COOKIE) or secrets.token_urlsafe(24)
    async with request.app.state.db.begin() as db:
        new = await actions.claim_invitation(db, settings, token, device, client_source(request))
    if isinstance(new, actions.Refused):
        return render(
            request,
            "auth/invitation.html",
            {"token": "", "refusal": i18n._(REFUSALS[new.reason])},
            status_code=403,
        )
    response = redirect(f"/cases/{new.case_id}")
    response.raw_headers.append(
        (b"set-cookie", cookie_header(DEVICE_COOKIE, device, settings, max_age=DEVICE_MAX_AGE))
    )
    return _signed_in(response, settings, new.token, settings.member_session_days * 24 * 3600)


async def set_language(request: Request) -> Response:
    form = await form_data(request)
    lang = str(form.get("lang") or "")
    response = redirect(safe_next(str(form.get("next") or "")))
    if lang in i18n.LOCALES:
        response.raw_headers.append(
            (
                b"set-cookie",
                cookie_header(
                    LANG_COOKIE, lang, request.app.state.settings, max_age=DEVICE_MAX_AGE
                ),
            )
        )
    return response


routes = [
    Route("/login", login_page, methods=["GET"], name="login"),
    Route("/login", login, methods=["POST"]),
    Route("/logout", logout, methods=["POST"], name="logout"),
    Route("/uitnodiging/{token}", invitation_page, methods=["GET"], name="invitation"),
    Route("/uitnodiging", claim_invitation, methods=["POST"], name="claim_invitation"),
    Route("/taal", set_language, methods=["POST"], name="language"),
]
