"""Sign-in: passwords, sessions, throttling, CSRF, invitation links."""

from __future__ import annotations

from datetime import timedelta

from bs4 import BeautifulSoup
from sqlalchemy import select, update
from starlette.routing import Route

from tests.conftest import PASSWORD, invite
from workspace.models import AuditEvent, Invitation, utcnow
from workspace.web import SESSION_COOKIE


async def test_professional_signs_in_and_sees_their_cases(browser, world):
    b = browser()
    response = await b.login(world.coordinator.email)
    assert response.headers["location"] == "/cases"
    page = await b.get("/cases")
    assert "Gezin Bakker" in page.text
    assert "Ander gezin" not in page.text


async def test_wrong_password_keeps_the_email_and_says_what_is_wrong(browser, world):
    b = browser()
    response = await b.post("/login", {"email": world.coordinator.email, "password": "nope"})
    assert response.status_code == 422
    soup = BeautifulSoup(response.text, "html.parser")
    assert soup.find("input", {"name": "email"})["value"] == world.coordinator.email
    assert "klopt niet" in soup.find(class_="error").text
    assert SESSION_COOKIE not in b.http.cookies


async def test_unknown_email_gets_the_same_answer_as_a_wrong_password(browser, world):
    b = browser()
    known = await b.post("/login", {"email": world.coordinator.email, "password": "nope"})
    unknown = await b.post("/login", {"email": "nobody@example.org", "password": "nope"})
    err = lambda r: BeautifulSoup(r.text, "html.parser").find(class_="error").text  # noqa: E731
    assert err(known) == err(unknown)


async def test_sign_in_is_throttled_after_repeated_failures(browser, world, settings):
    b = browser()
    for _ in range(settings.login_max_failures):
        assert (
            await b.post("/login", {"email": world.coordinator.email, "password": "x"})
        ).status_code == 422
    # Even the right password is refused while throttled, with a clear message.
    response = await b.post("/login", {"email": world.coordinator.email, "password": PASSWORD})
    assert response.status_code == 429
    assert "Te veel mislukte pogingen" in response.text
    assert SESSION_COOKIE not in b.http.cookies


async def test_logout_ends_the_session_on_the_server(browser, world):
    b = browser()
    await b.login(world.coordinator.email)
    stolen = b.http.cookies[SESSION_COOKIE]
    assert (await b.post("/logout")).status_code == 303
    thief = browser()
    thief.http.cookies.set(SESSION_COOKIE, stolen)
    response = await thief.get("/cases")
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login")


def _post_routes(app):
    for route in app.routes:
        if isinstance(route, Route) and "POST" in (route.methods or ()):
            yield route


#: POST routes that take no CSRF token, and why. Each must be unable to change case data.
WITHOUT_CSRF = {
    # "Snel weg" must work in one tap even from a page open for hours (an old token); all it
    # can do is sign this browser out, which a forged request gains nothing from.
    "/snel-weg",
}


async def test_quick_exit_only_ever_signs_out(browser, world, settings, db):
    from tests.conftest import invite

    phone = browser()
    await phone.claim(await invite(db, settings, world, world.household))
    assert (await phone.get(f"/cases/{world.case.id}/plan")).status_code == 200
    page = await phone.get(f"/cases/{world.case.id}/plan")
    assert 'action="/snel-weg"' in page.text
    response = await phone.post("/snel-weg", csrf=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("https://")
    assert "storage" in response.headers["clear-site-data"]
    assert (await phone.get(f"/cases/{world.case.id}/plan")).status_code in (302, 303, 401)


async def test_every_post_route_refuses_a_request_without_csrf_token(app, browser, world):
    b = browser()
    await b.login(world.coordinator.email)
    ids = {
        "case_id": world.case.id,
        "participant_id": world.household.id,
        "invitation_id": world.household.id,
    }
    checked = 0
    for route in _post_routes(app):
        if route.path in WITHOUT_CSRF:
            continue
        # Any other id: CSRF is checked before the record is even looked up.
        params = {name: ids.get(name, world.case.id) for name in route.param_convertors}
        url = app.url_path_for(route.name, **params) if route.name else route.path
        response = await b.post(str(url), {"email": "x", "title": "t", "name": "n"}, csrf=False)
        assert response.status_code == 403, (route.path, response.status_code)
        wrong = await b.http.post(str(url), data={"csrf_token": "0" * 64})
        assert wrong.status_code == 403, route.path
        checked += 1
    assert checked >= 20


async def test_csrf_token_is_bound_to_the_browser(browser, world):
    a, b = browser(), browser()
    token_of_a = await a.csrf()
    await b.csrf()
    response = await b.http.post(
        "/login",
        data={"email": world.coordinator.email, "password": PASSWORD, "csrf_token": token_of_a},
    )
    assert response.status_code == 403


async def test_member_joins_by_invitation_and_sees_only_their_case(
    app, browser, world, settings, db
):
    link = await invite(db, settings, world, world.household)
    phone = browser()
    landing = await phone.get(link.removeprefix(settings.base_url))
    assert landing.status_code == 200
    assert "Gezin Bakker" not in landing.text  # a link preview learns nothing
    response = await phone.claim(link)
    assert response.status_code == 303
    assert response.headers["location"] == f"/cases/{world.case.id}"
    page = await phone.get(response.headers["location"])
    assert page.status_code == 200 and "Linda" in page.text
    assert (await phone.get(f"/cases/{world.other_case.id}")).status_code == 404
    listing = await phone.get("/cases")
    assert "Gezin Bakker" in listing.text and "Ander gezin" not in listing.text


async def test_a_claimed_link_is_useless_on_another_device(browser, world, settings, db):
    link = await invite(db, settings, world, world.household)
    assert (await browser().claim(link)).status_code == 303
    other = browser()
    response = await other.claim(link)
    assert response.status_code == 403
    assert "al gebruikt op een ander apparaat" in response.text
    assert SESSION_COOKIE not in other.http.cookies


async def test_the_same_device_can_use_its_link_again(browser, world, settings, db):
    link = await invite(db, settings, world, world.household)
    phone = browser()
    await phone.claim(link)
    await phone.post("/logout")
    assert (await phone.claim(link)).status_code == 303
    assert (await phone.get(f"/cases/{world.case.id}")).status_code == 200


async def test_revoking_an_invitation_ends_the_member_session(browser, world, settings, db):
    link = await invite(db, settings, world, world.household)
    phone = browser()
    await phone.claim(link)
    coordinator = browser()
    await coordinator.login(world.coordinator.email)
    async with db.begin() as session:
        invitation = await session.scalar(
            select(Invitation).where(Invitation.participant_id == world.household.id)
        )
    response = await coordinator.post(f"/cases/{world.case.id}/invitations/{invitation.id}/revoke")
    assert response.status_code == 303
    assert (await phone.get(f"/cases/{world.case.id}")).status_code == 303  # to /login
    assert (await phone.claim(link)).status_code == 403


async def test_an_expired_link_is_refused_with_what_to_do(browser, world, settings, db):
    link = await invite(db, settings, world, world.household)
    async with db.begin() as session:
        await session.execute(update(Invitation).values(expires_at=utcnow() - timedelta(minutes=1)))
    response = await browser().claim(link)
    assert response.status_code == 403
    assert "verlopen" in response.text and "regisseur" in response.text


async def test_a_new_invitation_replaces_the_unused_one(browser, world, settings, db):
    first = await invite(db, settings, world, world.household)
    second = await invite(db, settings, world, world.household)
    assert (await browser().claim(first)).status_code == 403
    assert (await browser().claim(second)).status_code == 303


async def test_refused_invitation_is_audited(browser, world, settings, db):
    link = await invite(db, settings, world, world.household)
    await browser().claim(link)
    await browser().claim(link)
    async with db.begin() as session:
        refused = (
            await session.scalars(
                select(AuditEvent).where(AuditEvent.action == "invitation.refused")
            )
        ).all()
    assert [r.outcome for r in refused] == ["claimed"]
    assert refused[0].case_id == world.case.id
