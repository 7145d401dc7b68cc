"""The app factory: routes, middleware, and a lifespan that owns the long-lived things."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket

from realtime.server import RealtimeServer
from workspace.auth import views as auth_views
from workspace.cases import views as case_views
from workspace.config import ROOT, Settings
from workspace.db import Database
from workspace.errors import KringError
from workspace.events import EventBus
from workspace.learning import views as learning_views
from workspace.meetings import views as meeting_views
from workspace.meetings.presence import Presence
from workspace.meetings.versions import watch_quiet_moments
from workspace.notes import access as notes_access
from workspace.notes import views as notes_views
from workspace.plan import views as plan_views
from workspace.web import (
    WebMiddleware,
    handle_kring_error,
    handle_not_found,
    handle_server_error,
    redirect,
)


async def home(request: Request) -> Response:
    return redirect("/cases" if getattr(request.state, "actor", None) else "/login")


async def health(request: Request) -> Response:
    return PlainTextResponse("ok")


async def _realtime_endpoint(websocket: WebSocket) -> None:
    await websocket.app.state.realtime.endpoint(websocket)


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings.from_env()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        db = Database(settings.database_url)
        app.state.db = db
        realtime = RealtimeServer(
            db.engine,
            notes_access.authorize,
            allowed_origins={settings.origin, *settings.allowed_origins},
            max_message_bytes=settings.realtime_max_message_bytes,
            on_refused=lambda grant, reason: notes_access.on_refused(grant, reason, app),
            on_denied=notes_access.on_denied,
        )
        app.state.realtime = realtime
        try:
            async with realtime:
                watcher = asyncio.create_task(watch_quiet_moments(db, realtime))
                try:
                    yield
                finally:
                    watcher.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await watcher
        finally:
            await db.dispose()

    app = Starlette(
        routes=[
            Route("/", home, name="home"),
            Route("/healthz", health),
            *auth_views.routes,
            *case_views.routes,
            *notes_views.routes,
            *plan_views.routes,
            *meeting_views.routes,
            *learning_views.routes,
            WebSocketRoute("/realtime/{document:path}", _realtime_endpoint),
            Mount("/static", StaticFiles(directory=ROOT / "static"), name="static"),
        ],
        middleware=[Middleware(WebMiddleware)],
        exception_handlers={
            KringError: handle_kring_error,
            404: handle_not_found,
            405: handle_not_found,
            500: handle_server_error,
        },
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.events = EventBus()
    app.state.presence = Presence()
    return app
