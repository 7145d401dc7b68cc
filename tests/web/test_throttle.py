"""Sign-in throttling that slows guessing without locking anyone out, sessions that rotate on
sign-in and end when idle (issue 14)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from tests.conftest import PASSWORD, invite
from workspace.auth import throttle
from workspace.models import LoginFailure, Session, utcnow
from workspace.web import SESSION_COOKIE


async def _fail(b, email: str, times: int) -> None:
    for _ in range(times):
        response = await b.post("/login", {"email": email, "password": "fout"})
        assert response.status_code in (422, 429)


def test_the_wait_doubles_and_never_exceeds_the_window():
    window = timedelta(minutes=15)
    assert throttle.wait_after(4, 5, window) == timedelta(0)
    assert throttle.wait_after(5, 5, window) == timedelta(seconds=30)
    assert throttle.wait_after(6, 5, window) == timedelta(seconds=60)
    assert throttle.wait_after(7, 5, window) == timedelta(seconds=120)
    assert throttle.wait_after(40, 5, window) == window


async def test_the_message_says_how_long_to_wait(browser, world, settings):
    b = browser()
    await _fail(b, world.coordinator.email, settings.login_max_failures)
    response = await b.post("/login", {"email": world.coordinator.email, "password": PASSWORD})
    assert response.status_code == 429
    assert "Wacht 30 seconden" in response.text
    # Once the wait is over, the right password works again: a delay, never a wall.
    async with b.app.state.db.begin() as db:
        await db.execute(update(LoginFailure).values(at=utcnow() - timedelta(minutes=1)))
    assert (
        await b.post("/login", {"email": world.coordinator.email, "password": PASSWORD})
    ).status_code == 303


async def test_guessing_from_elsewhere_does_not_lock_out_her_own_phone(browser, world, settings):
    phone = browser()
    await phone.login(world.coordinator.email)
    assert throttle.KNOWN_COOKIE in phone.http.cookies
    await phone.post("/logout")
    attacker = browser()
    await _fail(attacker, world.coordinator.email, settings.login_max_failures + 3)
    assert (
        await attacker.post("/login", {"email": world.coordinator.email, "password": PASSWORD})
    ).status_code == 429
    # Her phone signed in before: others' guesses do not count against it.
    assert (
        await phone.post("/login", {"email": world.coordinator.email, "password": PASSWORD})
    ).status_code == 303


async def test_a_forged_known_device_cookie_counts_for_nothing(browser, world, settings):
    attacker = browser()
    attacker.http.cookies.set(throttle.KNOWN_COOKIE, "0" * 32)
    await _fail(attacker, world.coordinator.email, settings.login_max_failures)
    assert (
        await attacker.post("/login", {"email": world.coordinator.email, "password": PASSWORD})
    ).status_code == 429


async def test_wrong_meeting_codes_never_slow_down_signing_in(browser, world, settings):
    b = browser()
    for _ in range(settings.login_max_failures * throttle.SOURCE_FACTOR):
        response = await b.post("/meedoen", {"code": "ZZZZZZ", "name": "Hasan"})
        assert response.status_code in (422, 429)
    assert (await b.post("/meedoen", {"code": "ZZZZZZ", "name": "Hasan"})).status_code == 429
    assert (
        await b.post("/login", {"email": world.coordinator.email, "password": PASSWORD})
    ).status_code == 303


async def test_signing_in_ends_the_browsers_previous_session(browser, world):
    b = browser()
    await b.login(world.professional.email)
    first = b.http.cookies[SESSION_COOKIE]
    await b.login(world.coordinator.email)
    assert b.http.cookies[SESSION_COOKIE] != first
    other = browser()
    other.http.cookies.set(SESSION_COOKIE, first)
    assert (await other.get("/cases")).status_code in (302, 303, 401)


async def test_a_members_session_ends_after_two_days_unused(browser, world, db, settings):
    b = browser()
    await b.claim(await invite(db, settings, world, world.household))
    assert (await b.get(f"/cases/{world.case.id}/plan")).status_code == 200
    async with db.begin() as session:
        row = await session.scalar(select(Session).where(Session.participant_id.is_not(None)))
        assert row is not None
        row.last_seen_at = utcnow() - timedelta(hours=settings.member_session_idle_hours + 1)
    response = await b.get(f"/cases/{world.case.id}/plan")
    assert response.status_code in (302, 303)
    assert response.headers["location"].startswith("/login")
