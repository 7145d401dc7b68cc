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


async def test_security_headers_on_every_page(browser):
    response = await browser().get("/login")
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert "script-src 'self'" in response.headers["content-security-policy"]


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
