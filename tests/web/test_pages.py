"""Cross-cutting page behaviour: errors without stack traces, headers, the no-JS basics."""

from __future__ import annotations

import logging

from starlette.routing import Route


async def test_an_unhandled_error_shows_a_plain_dutch_page_without_a_trace(app, browser, caplog):
    async def boom(request):
        raise RuntimeError("secret internals")

    app.router.routes.append(Route("/boom", boom))
    b = browser()
    b.http._transport.raise_app_exceptions = False  # behave like a real server
    with caplog.at_level(logging.ERROR, logger="kring.http"):
        response = await b.get("/boom")
    assert response.status_code == 500
    assert "Er ging iets mis" in response.text
    assert "secret internals" not in response.text and "Traceback" not in response.text
    assert "incident" in caplog.text


async def test_security_headers_on_every_page(browser, world):
    b = browser()
    await b.login(world.coordinator.email)
    case = f"/cases/{world.case.id}"
    nonces = set()
    for path in ("/login", "/cases", case, f"{case}/plan", f"{case}/audit", "/nergens", "/healthz"):
        response = await b.get(path)
        headers = response.headers
        assert headers["x-frame-options"] == "DENY", path
        assert headers["referrer-policy"] == "no-referrer", path
        assert "camera=()" in headers["permissions-policy"], path
        policy = headers["content-security-policy"]
        assert "script-src 'self';" in policy, path
        style = policy.split("style-src ", 1)[1].split(";", 1)[0]
        assert style.startswith("'self' 'nonce-") and "unsafe" not in style, path
        assert "unsafe" not in policy.split("script-src ", 1)[1].split(";", 1)[0], path
        nonce = policy.split("'nonce-", 1)[1].split("'", 1)[0]
        if "text/html" in headers.get("content-type", ""):
            # The page hands the editor this response's nonce, and only that one.
            assert f'<meta name="csp-nonce" content="{nonce}">' in response.text, path
        nonces.add(nonce)
        # Over http a browser ignores HSTS; it is sent only when Kring is served over https.
        assert "strict-transport-security" not in headers, path
    assert len(nonces) == 7  # a fresh nonce for every response


async def test_hsts_when_served_over_https(settings):
    from dataclasses import replace

    from starlette.applications import Starlette

    from tests.conftest import Browser
    from workspace.app import create_app

    app: Starlette = create_app(replace(settings, base_url="https://kring.example.nl"))
    async with app.router.lifespan_context(app):
        b = Browser(app)
        response = await b.get("/login")
        await b.aclose()
    assert response.headers["strict-transport-security"].startswith("max-age=31536000")


async def test_an_audit_page_number_too_big_for_an_id_is_ignored(browser, world):
    b = browser()
    await b.login(world.coordinator.email)
    response = await b.get(f"/cases/{world.case.id}/audit?voor=99999999999999999999999")
    assert response.status_code == 200


async def test_cookies_are_http_only_and_same_site(browser, world):
    b = browser()
    response = await b.login(world.coordinator.email)
    cookie = next(
        v
        for k, v in response.headers.multi_items()
        if k == "set-cookie" and v.startswith("kring_session=")
    )
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


async def test_access_log_names_routes_not_tokens(browser, world, settings, db, caplog):
    from tests.conftest import invite

    link = await invite(db, settings, world, world.household)
    token = link.rsplit("/", 1)[1]
    with caplog.at_level(logging.INFO, logger="kring.http"):
        await browser().get(link.removeprefix(settings.base_url))
    assert "/uitnodiging/{token}" in caplog.text
    assert token not in caplog.text


async def test_home_sends_visitors_to_sign_in(browser):
    response = await browser().get("/")
    assert response.status_code == 303 and response.headers["location"] == "/login"


async def test_case_pages_ask_for_sign_in_and_come_back(browser, world):
    b = browser()
    response = await b.get(f"/cases/{world.case.id}")
    assert response.status_code == 303
    assert response.headers["location"] == f"/login?next=/cases/{world.case.id}"


async def test_health_says_so_when_the_database_does_not_answer(app, browser, monkeypatch):
    b = browser()
    assert (await b.get("/readyz")).text == "ok"

    # A database that cannot be reached (nothing listens on that port).
    from sqlalchemy.ext.asyncio import async_sessionmaker

    from workspace.db import create_engine

    gone = create_engine("postgresql+asyncpg://kring@127.0.0.1:9/kring")
    monkeypatch.setattr(app.state.db, "sessions", async_sessionmaker(gone))
    response = await b.get("/readyz")
    await gone.dispose()
    assert response.status_code == 503
    # Alive all the same: a supervisor must not restart it for a database outage.
    assert (await b.get("/healthz")).status_code == 200


async def test_static_files_are_kept_by_the_browser_and_compressed(browser):
    b = browser()
    first = await b.get("/static/editor.js", headers={"accept-encoding": "gzip"})
    assert first.status_code == 200
    assert first.headers["cache-control"] == "no-cache"
    assert first.headers["content-encoding"] == "gzip"
    again = await b.get("/static/editor.js", headers={"if-none-match": first.headers["etag"]})
    assert again.status_code == 304
    # Pages stay unkept: they hold case data.
    assert (await b.get("/login")).headers["cache-control"] == "no-store"
