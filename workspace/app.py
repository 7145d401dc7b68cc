"""The app factory: routes, middleware, and a lifespan that owns the long-lived things."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from workspace.auth import views as auth_views
from workspace.cases import views as case_views
from workspace.config import ROOT, Settings
from workspace.db import Database
from workspace.errors import KringError
from workspace.events import EventBus
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


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings.from_env()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        db = Database(settings.database_url)
        app.state.db = db
        try:
            yield
        finally:
            await db.dispose()

    app = Starlette(
        routes=[
            Route("/", home, name="home"),
            Route("/healthz", health),
            *auth_views.routes,
            *case_views.routes,
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
    return app
