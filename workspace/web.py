"""The web plumbing every view shares: templates, forms, CSRF, the actor, errors.

Permission checks live in views and domain functions, never in templates."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import quote

from jinja2 import Environment, FileSystemLoader, pass_context, select_autoescape
from jinja2_fragments.starlette import Jinja2Blocks
from markupsafe import Markup
from starlette.datastructures import FormData
from starlette.requests import HTTPConnection, Request
from starlette.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from workspace import i18n
from workspace.access import Actor
from workspace.config import PACKAGE, Settings
from workspace.errors import CsrfError, KringError, NotSignedIn
from workspace.events import END

log = logging.getLogger("kring.http")

SESSION_COOKIE = "kring_session"
CSRF_COOKIE = "kring_csrf"
DEVICE_COOKIE = "kring_device"
LANG_COOKIE = "kring_lang"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"

_env = Environment(
    loader=FileSystemLoader(PACKAGE / "templates"),
    autoescape=select_autoescape(),
    extensions=["jinja2.ext.i18n"],
)
# Our own callables, not Jinja's newstyle ones: those mark every result safe, and a msgid can
# be a person's words (see ``i18n.template_gettext``). The i18n extension stays for extraction.
_env.globals.update(
    _=i18n.template_gettext, gettext=i18n.template_gettext, ngettext=i18n.template_ngettext
)
templates = Jinja2Blocks(env=_env)
templates.env.globals["LOCALES"] = i18n.LOCALES


def _local_time(value: datetime | None, fmt: str = "%d-%m-%Y %H:%M") -> str:
    """Show times in the Netherlands' zone; they are stored in UTC."""
    if value is None:
        return ""
    from zoneinfo import ZoneInfo

    return value.astimezone(ZoneInfo("Europe/Amsterdam")).strftime(fmt)


templates.env.filters["localtime"] = _local_time


@pass_context
def _csrf_input(context: Mapping[str, Any]) -> Markup:
    request: Request = context["request"]
    token = getattr(request.state, "csrf_token", "")
    return Markup('<input type="hidden" name="{}" value="{}">').format(CSRF_FIELD, token)


templates.env.globals["csrf_input"] = _csrf_input


@pass_context
def _meeting_input(context: Mapping[str, Any]) -> Markup:
    """In a plan form shown inside a meeting: which meeting, so the record is linked to it."""
    meeting = context.get("meeting")
    if meeting is None or getattr(meeting, "state", "") != "open":
        return Markup("")
    return Markup('<input type="hidden" name="meeting_id" value="{}">').format(meeting.id)


templates.env.globals["meeting_input"] = _meeting_input


@pass_context
def _path_for(context: Mapping[str, Any], name: str, /, **params: Any) -> str:
    """Root-relative URLs, so pages work behind any proxy or host name."""
    request: Request = context["request"]
    return str(request.app.url_path_for(name, **params))


templates.env.globals["url_for"] = _path_for


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def render(
    request: Request,
    name: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
    block: str | None = None,
) -> Response:
    """Render a page, or - for htmx requests that name a block - just that block."""
    ctx = {
        "actor": getattr(request.state, "actor", None),
        "locale": i18n.current_locale.get(),
        "csp_nonce": getattr(request.state, "csp_nonce", ""),
    }
    ctx.update(context or {})
    kwargs: dict[str, Any] = {"status_code": status_code}
    if block is not None and is_htmx(request):
        kwargs["block_name"] = block
    return templates.TemplateResponse(request, name, ctx, **kwargs)


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def actor_of(conn: HTTPConnection) -> Actor:
    actor: Actor | None = getattr(conn.state, "actor", None)
    if actor is None:
        raise NotSignedIn("sign-in required")
    return actor


def client_source(conn: HTTPConnection) -> str:
    return conn.client.host if conn.client else ""


# -- CSRF: a random cookie, and a form token that is an HMAC of it under the secret key --------


def csrf_token_for(secret_key: str, cookie_value: str) -> str:
    return hmac.new(
        secret_key.encode(), b"csrf:" + cookie_value.encode(), hashlib.sha256
    ).hexdigest()


async def form_data(request: Request) -> FormData:
    """Read a state-changing request's form, refusing it without a valid CSRF token.

    Every POST view reads its form through here; tests sweep all POST routes to prove it."""
    form = await request.form()
    settings: Settings = request.app.state.settings
    cookie = request.cookies.get(CSRF_COOKIE, "")
    sent = request.headers.get(CSRF_HEADER) or str(form.get(CSRF_FIELD) or "")
    if (
        not cookie
        or not sent
        or not hmac.compare_digest(sent, csrf_token_for(settings.secret_key, cookie))
    ):
        raise CsrfError("missing or wrong CSRF token")
    return form


def form_values(form: FormData, *names: str) -> dict[str, str]:
    return {name: str(form.get(name) or "") for name in names}


def uuid_param(name: str) -> str:
    """A route path parameter that only matches a UUID: ``f"/cases/{uuid_param('case_id')}"``."""
    return "{" + name + ":uuid}"


def parse_uuid(value: object) -> uuid.UUID:
    from workspace.errors import NotFound

    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise NotFound("malformed id") from None


def safe_next(value: str | None) -> str:
    """Only local paths: never redirect a sign-in to another site."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/cases"


# -- live channels (server-sent events) -------------------------------------------------------

#: How often an idle live channel sends a comment, so proxies keep it open and a closed
#: browser tab is noticed.
KEEPALIVE_SECONDS = 15.0


def live_events(
    request: Request,
    channel: uuid.UUID,
    *,
    keys: Iterable[str],
    accept: Callable[[Any], bool] | None = None,
    while_open: AbstractAsyncContextManager[Any] | None = None,
) -> StreamingResponse:
    """Server-sent events for one channel's screens (a case, an intervision session): the
    names of what changed (``event.what``), never content; each screen fetches the changed
    block with its own permissions. ``accept`` filters events (a name may itself tell too much:
    see the plan's live channel); ``while_open`` is held for as long as the stream is (e.g.
    presence). ``keys`` name the grant it runs under: when that ends (logout, revocation), the
    stream ends at once (``EventBus.end``), as it does when the server shuts down."""
    events = request.app.state.events

    async def stream() -> AsyncIterator[str]:
        async with (
            events.subscribe(channel, keys) as queue,
            while_open or contextlib.nullcontext(),
        ):
            yield "retry: 2000\n\n"
            while True:
                try:
                    event = await asyncio.wait_for(queue.get(), KEEPALIVE_SECONDS)
                except TimeoutError:
                    if await request.is_disconnected():
                        return
                    yield ": keepalive\n\n"
                    continue
                if event is END:
                    return
                what = getattr(event, "what", "")
                if what and (accept is None or accept(event)):
                    yield f"event: {what}\ndata: {what}\n\n"

    async def guarded() -> AsyncIterator[str]:
        # The browser going away cancels the stream: that is its normal end.
        with contextlib.suppress(asyncio.CancelledError):
            async for chunk in stream():
                yield chunk

    return StreamingResponse(
        guarded(),
        media_type="text/event-stream",
        headers={"x-accel-buffering": "no", "cache-control": "no-store"},
    )


# -- middleware ------------------------------------------------------------------------------

SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    # Invitation links carry a token: never leak a URL to another site.
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
    # Nothing here uses the camera, microphone, location or payment: no page may ask.
    (
        b"permissions-policy",
        b"camera=(), microphone=(), geolocation=(), payment=(), usb=(), interest-cohort=()",
    ),
]
def content_security_policy(nonce: str) -> tuple[bytes, bytes]:
    """Scripts from our own origin only; styles too, plus the ones the editor (CodeMirror)
    inserts itself, which carry this response's nonce (``EditorView.cspNonce``). No
    'unsafe-inline': an injected style or script never runs."""
    return (
        b"content-security-policy",
        b"default-src 'self'; img-src 'self' data:; style-src 'self' 'nonce-"
        + nonce.encode()
        # Style *attributes* (not elements): the editor colours each person's caret with one.
        # An attribute cannot load a script, and user text never becomes markup to carry one.
        + b"'; style-src-attr 'unsafe-inline'; script-src 'self'; connect-src 'self'; "
        b"frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    )


#: Sent only when Kring is served over https (a browser ignores it over http anyway).
HSTS = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")


def cookie_header(
    name: str, value: str, settings: Settings, *, max_age: int | None = None, http_only: bool = True
) -> bytes:
    cookie: SimpleCookie = SimpleCookie()
    cookie[name] = value
    morsel = cookie[name]
    morsel["path"] = "/"
    morsel["samesite"] = "Lax"
    if http_only:
        morsel["httponly"] = True
    if settings.secure_cookies:
        morsel["secure"] = True
    if max_age is not None:
        morsel["max-age"] = max_age
    return morsel.OutputString().encode("latin-1")


def _route_template(scope: Scope) -> str:
    """The path with its parameters named, e.g. /cases/{case_id}: no ids or tokens in logs."""
    path: str = scope.get("path", "")
    for name, value in (scope.get("path_params") or {}).items():
        path = path.replace(quote(str(value), safe="/"), "{" + name + "}")
    return path


class WebMiddleware:
    """Per request: locale, CSRF cookie, the signed-in actor, security headers, an access log
    without ids or tokens. Pure ASGI so websockets pass through it too (they get the actor)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        conn = HTTPConnection(scope)
        state = scope.setdefault("state", {})
        settings: Settings = scope["app"].state.settings
        lang = conn.cookies.get(LANG_COOKIE, i18n.DEFAULT_LOCALE)
        token = i18n.current_locale.set(lang if lang in i18n.LOCALES else i18n.DEFAULT_LOCALE)
        csrf_cookie = conn.cookies.get(CSRF_COOKIE, "")
        new_csrf = ""
        if not csrf_cookie:
            new_csrf = csrf_cookie = secrets.token_urlsafe(24)
        state["csrf_token"] = csrf_token_for(settings.secret_key, csrf_cookie)
        state["csp_nonce"] = nonce = secrets.token_urlsafe(16)
        state["actor"] = await self._actor(scope, conn, settings)
        started = time.perf_counter()
        status = 0

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                names = {k.lower() for k, _ in headers}
                if scope.get("path", "").startswith("/static/"):
                    # Not case data: the browser keeps it, and asks again with its ETag (a
                    # new bundle after a deploy is picked up at once, unchanged ones are 304).
                    headers.append((b"cache-control", b"no-cache"))
                    names.add(b"cache-control")
                headers += [(k, v) for k, v in SECURITY_HEADERS if k not in names]
                if b"content-security-policy" not in names:
                    headers.append(content_security_policy(nonce))
                if settings.secure_cookies:
                    headers.append(HSTS)
                if new_csrf:
                    headers.append((b"set-cookie", cookie_header(CSRF_COOKIE, new_csrf, settings)))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            i18n.current_locale.reset(token)
            if scope["type"] == "http":
                log.info(
                    "%s %s %s %.1fms",
                    scope["method"],
                    _route_template(scope),
                    status,
                    (time.perf_counter() - started) * 1000,
                )

    async def _actor(self, scope: Scope, conn: HTTPConnection, settings: Settings) -> Actor | None:
        session_token = conn.cookies.get(SESSION_COOKIE, "")
        if not session_token or scope.get("path", "").startswith("/static/"):
            return None
        from workspace.auth.actions import actor_for_token, needs_touch, touch_session

        db = scope["app"].state.db
        # A read (no lock on SQLite): every page, fragment and websocket upgrade does this.
        async with db.read() as session:
            actor = await actor_for_token(
                session, settings, session_token, client_source(conn), touch=False
            )
        if actor is not None and actor.last_seen_at and needs_touch(actor.last_seen_at):
            # At most once a minute per session, a short write of its own.
            async with db.begin() as session:
                await touch_session(session, actor.session_id)
        return actor


# -- errors ----------------------------------------------------------------------------------


async def handle_kring_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, KringError)
    if isinstance(exc, NotSignedIn):
        if request.method == "GET":
            return redirect("/login?next=" + quote(request.url.path))
        return render(request, "errors/error.html", {"message": exc.message()}, status_code=401)
    return render(
        request,
        "errors/error.html",
        {"message": exc.message()},
        status_code=exc.status_code,
    )


async def handle_not_found(request: Request, exc: Exception) -> Response:
    from workspace.errors import NotFound

    return render(
        request, "errors/error.html", {"message": i18n._(NotFound.user_message)}, status_code=404
    )


async def handle_unavailable(request: Request, exc: Exception) -> Response:
    """A stored document that cannot be read (see ``realtime.store``): say so, never a 500."""
    log.error(
        "a document could not be read on %s %s", request.method, _route_template(request.scope)
    )
    return render(
        request,
        "errors/error.html",
        {
            "message": i18n._(
                "Een tekst in dit plan kan nu niet worden geladen. Er is niets verloren gegaan "
                "van wat wel te lezen is. Meld het bij de regisseur als het zo blijft."
            )
        },
        status_code=503,
    )


async def handle_server_error(request: Request, exc: Exception) -> Response:
    incident = uuid.uuid4().hex[:8]
    log.exception(
        "unhandled error (incident %s) on %s %s",
        incident,
        request.method,
        _route_template(request.scope),
    )
    # A plain response: the template engine itself may be what failed.
    body = (
        "<!doctype html><html lang=nl><meta charset=utf-8><title>Kring</title>"
        "<body><h1>Er ging iets mis</h1><p>Er ging bij ons iets mis. Je gegevens zijn niet "
        "kwijt, maar wat je net deed is misschien niet opgeslagen. Probeer het opnieuw. "
        f"Meld dit nummer als het blijft gebeuren: <strong>{incident}</strong>.</p></body></html>"
    )
    return HTMLResponse(body, status_code=500)
