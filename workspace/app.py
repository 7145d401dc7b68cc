"""The app factory: routes, middleware, and a lifespan that owns the long-lived things."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket

from realtime.fanout import RedisFanout
from realtime.server import RealtimeServer
from realtime.store import DocumentUnavailable
from workspace import region
from workspace.audit.coalesce import Refusals, Visits, keep_writing_refusals, write_refusals
from workspace.auth import views as auth_views
from workspace.cases import views as case_views
from workspace.config import PACKAGE, Settings
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
    handle_unavailable,
    redirect,
)


async def home(request: Request) -> Response:
    return redirect("/cases" if getattr(request.state, "actor", None) else "/login")


log = logging.getLogger("kring.app")


async def health(request: Request) -> Response:
    """Alive: the process answers (for a supervisor's liveness check)."""
    return PlainTextResponse("ok")


async def ready(request: Request) -> Response:
    """Ready: ok only if the database answers within a few seconds (for a load balancer)."""
    try:
        async with asyncio.timeout(3):
            async with request.app.state.db.read() as session:
                await session.execute(text("SELECT 1"))
    except Exception:
        log.warning("health check: the database does not answer")
        return PlainTextResponse("database unavailable", status_code=503)
    return PlainTextResponse("ok")


async def _realtime_endpoint(websocket: WebSocket) -> None:
    await websocket.app.state.realtime.endpoint(websocket)


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings.from_env()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        db = Database(settings.database_url, **settings.engine_options())
        app.state.db = db
        realtime = RealtimeServer(
            db.engine,
            notes_access.authorize,
            fanout=RedisFanout(settings.redis_url, settings.redis_prefix)
            if settings.redis_url
            else None,
            allowed_origins={settings.origin, *settings.allowed_origins},
            max_message_bytes=settings.realtime_max_message_bytes,
            on_refused=lambda grant, reason: notes_access.on_refused(grant, reason, app),
            on_denied=notes_access.on_denied,
        )
        app.state.realtime = realtime
        region.connect(app.state.events, app.state.presence, realtime)
        try:
            async with realtime, region.heartbeat(app.state.events, app.state.presence, realtime):
                watcher = asyncio.create_task(watch_quiet_moments(db, realtime))
                counter = asyncio.create_task(keep_writing_refusals(db, app.state.refusals))
                try:
                    yield
                finally:
                    app.state.events.close()
                    for task in (watcher, counter):
                        task.cancel()
                        with contextlib.suppress(asyncio.CancelledError):
                            await task
                    with contextlib.suppress(Exception):
                        await write_refusals(db, app.state.refusals)
        finally:
            await db.dispose()

    app = Starlette(
        routes=[
            Route("/", home, name="home"),
            Route("/healthz", health, name="health"),
            Route("/readyz", ready, name="ready"),
            *auth_views.routes,
            *case_views.routes,
            *notes_views.routes,
            *plan_views.routes,
            *meeting_views.routes,
            *learning_views.routes,
            WebSocketRoute("/realtime/{document:path}", _realtime_endpoint),
            # Static files only are compressed: pages carry CSRF tokens next to user text,
            # and compressing those together is what BREACH reads secrets through.
            Mount(
                "/static",
                GZipMiddleware(StaticFiles(directory=PACKAGE / "static"), minimum_size=1000),
                name="static",
            ),
        ],
        middleware=[Middleware(WebMiddleware)],
        exception_handlers={
            KringError: handle_kring_error,
            DocumentUnavailable: handle_unavailable,
            404: handle_not_found,
            405: handle_not_found,
            500: handle_server_error,
        },
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.events = EventBus()
    app.state.presence = Presence()
    app.state.refusals = Refusals()
    app.state.visits = Visits()
    return app
