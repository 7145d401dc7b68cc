"""Sign-in pages: password login for professionals, invitation links for members."""

from __future__ import annotations

import secrets

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from workspace import i18n
from workspace.auth import actions, throttle
from workspace.config import Settings
from workspace.errors import Throttled, ValidationError
from workspace.grants import end_access
from workspace.i18n import N_
from workspace.models import Session
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


async def end_previous_session(request: Request) -> None:
    """After a new sign-in in this browser: the session its cookie held before ends, with
    everything opened under it. One browser, one session - an old cookie copied from it
    earlier stops working."""
    old = request.cookies.get(SESSION_COOKIE, "")
    if not old:
        return
    async with request.app.state.db.begin() as db:
        ended = await actions.end_sessions(db, Session.token_hash == actions.token_hash(old))
    await end_access(request.app, ended)


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
    known_cookie = request.cookies.get(throttle.KNOWN_COOKIE, "")
    key = actions.email_key(values["email"])
    try:
        async with request.app.state.db.begin() as db:
            new = await actions.login(
                db,
                settings,
                values["email"],
                str(form.get("password") or ""),
                client_source(request),
                known_device=throttle.is_known(settings.secret_key, known_cookie, key),
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
            {"values": values, "errors": {"form": exc.message()}, "next": next_url},
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
    await end_previous_session(request)
    response = redirect(next_url)
    # This browser is now a known device of the account: others' guesses never slow it down.
    response.raw_headers.append(
        (
            b"set-cookie",
            cookie_header(
                throttle.KNOWN_COOKIE,
                throttle.remember(settings.secret_key, known_cookie, key),
                settings,
                max_age=DEVICE_MAX_AGE,
            ),
        )
    )
    return _signed_in(response, settings, new.token, settings.session_max_hours * 3600)


async def logout(request: Request) -> Response:
    await form_data(request)
    actor = getattr(request.state, "actor", None)
    if actor is not None:
        async with request.app.state.db.begin() as db:
            ended = await actions.logout(db, actor)
        await end_access(request.app, ended)
    response = redirect("/login")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


#: Where "Snel weg" goes: a page that says nothing about Kring, help or the family.
QUICK_EXIT_URL = "https://www.google.nl/"


async def quick_exit(request: Request) -> Response:
    """"Snel weg": for someone whose phone may be looked at by the person using violence.
    Ends the session on this device at once (everything open closes, see ``end_access``),
    forgets the cookies, and leaves for a neutral site. No CSRF check on purpose: it must
    work in one tap from any page, and all it can do is sign this browser out."""
    actor = getattr(request.state, "actor", None)
    if actor is not None:
        async with request.app.state.db.begin() as db:
            ended = await actions.logout(db, actor)
        await end_access(request.app, ended)
    response = RedirectResponse(QUICK_EXIT_URL, status_code=303)
    for cookie in (SESSION_COOKIE, throttle.KNOWN_COOKIE, LANG_COOKIE):
        response.delete_cookie(cookie, path="/")
    # Ask the browser to drop what it kept of this site (cache, storage) as well.
    response.headers["clear-site-data"] = '"cache", "storage"'
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
    await end_previous_session(request)
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
    Route("/snel-weg", quick_exit, methods=["POST"], name="quick_exit"),
    Route("/uitnodiging/{token}", invitation_page, methods=["GET"], name="invitation"),
    Route("/uitnodiging", claim_invitation, methods=["POST"], name="claim_invitation"),
    Route("/taal", set_language, methods=["POST"], name="language"),
]
