"""Every role against every case route: what the server allows is exactly the policy."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.conftest import World, invite
from workspace.models import Invitation

ROLES = [
    "coordinator",
    "professional",
    "observer",
    "household",
    "network",
    "outsider",
    "manager",
    "anonymous",
]

# route -> roles that get through (anyone else gets the same 404, or a sign-in redirect)
EXPECTED = {
    "view": {"coordinator", "professional", "observer", "household", "network"},
    "audit": {"coordinator", "household"},
    "add_person": {"coordinator", "professional"},
    "add_professional": {"coordinator"},
    "invite": {"coordinator"},
    "revoke_invitation": {"coordinator"},
    "revoke_participant": {"coordinator"},
}


async def _as(role: str, browser, world: World, settings, db):
    b = browser()
    users = {
        "coordinator": world.coordinator,
        "professional": world.professional,
        "observer": world.observer,
        "outsider": world.outsider,
        "manager": world.manager,
    }
    if role in users:
        await b.login(users[role].email)
    elif role in ("household", "network"):
        participant = world.household if role == "household" else world.network
        response = await b.claim(await invite(db, settings, world, participant))
        assert response.status_code == 303
    return b


async def _request(route: str, b, world: World, db):
    case = f"/cases/{world.case.id}"
    if route == "view":
        return await b.get(case)
    if route == "audit":
        return await b.get(f"{case}/audit")
    if route == "add_person":
        return await b.post(
            f"{case}/persons", {"name": "Kees", "kind": "network", "relation": "oom"}
        )
    if route == "add_professional":
        return await b.post(
            f"{case}/participants", {"email": world.outsider.email, "role": "professional"}
        )
    if route == "invite":
        return await b.post(f"{case}/participants/{world.network.id}/invitations")
    if route == "revoke_invitation":
        async with db.begin() as session:
            inv = await session.scalar(
                select(Invitation)
                .where(Invitation.participant_id == world.network.id)
                .order_by(Invitation.created_at.desc())
            )
        return await b.post(f"{case}/invitations/{inv.id}/revoke")
    if route == "revoke_participant":
        return await b.post(f"{case}/participants/{world.professional_participant.id}/revoke")
    raise AssertionError(route)


@pytest.mark.parametrize("role", ROLES)
async def test_access_matrix(role, browser, world, settings, db):
    # An open invitation for the network member, so revoking one has a target.
    await invite(db, settings, world, world.network)
    b = await _as(role, browser, world, settings, db)
    for route, allowed in EXPECTED.items():
        if role == "network" and route == "revoke_invitation":
            continue  # the network member's own session came through that invitation
        response = await _request(route, b, world, db)
        if role in allowed:
            assert response.status_code in (200, 303), (role, route, response.status_code)
            if response.status_code == 303:
                assert "/login" not in response.headers["location"], (role, route)
        elif role == "anonymous":
            assert response.status_code in (303, 401), (role, route, response.status_code)
            if response.status_code == 303:
                assert response.headers["location"].startswith("/login"), (role, route)
        else:
            assert response.status_code == 404, (role, route, response.status_code)


async def test_forbidden_and_missing_cases_look_the_same(browser, world):
    b = browser()
    await b.login(world.professional.email)
    forbidden = await b.get(f"/cases/{world.other_case.id}")
    missing = await b.get("/cases/00000000-0000-4000-8000-000000000000")
    malformed = await b.get("/cases/not-a-uuid")
    assert forbidden.status_code == missing.status_code == malformed.status_code == 404
    # Identical but for the page's own address (echoed in the language switch).
    assert forbidden.text.replace(str(world.other_case.id), "ID") == missing.text.replace(
        "00000000-0000-4000-8000-000000000000", "ID"
    )


async def test_revoked_professional_loses_access_at_once(browser, world):
    pro = browser()
    await pro.login(world.professional.email)
    assert (await pro.get(f"/cases/{world.case.id}")).status_code == 200
    coordinator = browser()
    await coordinator.login(world.coordinator.email)
    async with coordinator.app.state.db.begin() as session:
        from workspace.models import Participant

        participant = await session.scalar(
            select(Participant).where(Participant.user_id == world.professional.id)
        )
    response = await coordinator.post(
        f"/cases/{world.case.id}/participants/{participant.id}/revoke"
    )
    assert response.status_code == 303
    assert (await pro.get(f"/cases/{world.case.id}")).status_code == 404


async def test_the_last_coordinator_cannot_be_removed(browser, world, db):
    from workspace.models import Participant

    b = browser()
    await b.login(world.coordinator.email)
    async with db.begin() as session:
        me = await session.scalar(
            select(Participant).where(Participant.user_id == world.coordinator.id)
        )
    response = await b.post(f"/cases/{world.case.id}/participants/{me.id}/revoke")
    assert response.status_code == 422
    assert "altijd een regisseur" in response.text
