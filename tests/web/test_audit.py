"""The audit log: every read and write of case data, and the family's page that shows it."""

from __future__ import annotations

from bs4 import BeautifulSoup
from sqlalchemy import select

from tests.conftest import invite
from workspace.models import AuditEvent


async def _events(db, **where):
    async with db.begin() as session:
        stmt = select(AuditEvent).order_by(AuditEvent.id)
        for k, v in where.items():
            stmt = stmt.where(getattr(AuditEvent, k) == v)
        return (await session.scalars(stmt)).all()


async def test_a_case_view_leaves_a_complete_audit_row(browser, world, db):
    b = browser()
    await b.login(world.professional.email)
    before = len(await _events(db, action="case.view"))
    assert (await b.get(f"/cases/{world.case.id}")).status_code == 200
    rows = await _events(db, action="case.view")
    assert len(rows) == before + 1
    row = rows[-1]
    assert row.case_id == world.case.id
    assert row.object_type == "case" and row.object_id == str(world.case.id)
    assert row.user_id == world.professional.id
    assert row.participant_id is not None
    assert row.role == "professional"
    assert row.source == "127.0.0.1"
    assert row.at.tzinfo is not None
    assert row.outcome == "ok"


async def test_every_change_is_audited_with_its_object(browser, world, db):
    b = browser()
    await b.login(world.coordinator.email)
    await b.post(
        f"/cases/{world.case.id}/persons",
        {"name": "Kees", "kind": "network", "relation": "oom", "participates": "1"},
    )
    await b.post(f"/cases/{world.case.id}/participants/{world.network.id}/invitations")
    actions = [
        e.action for e in await _events(db, case_id=world.case.id, user_id=world.coordinator.id)
    ]
    for expected in ("person.create", "participant.create", "invitation.create"):
        assert expected in actions


async def test_member_reads_are_audited_as_that_person(browser, world, settings, db):
    phone = browser()
    await phone.claim(await invite(db, settings, world, world.household))
    await phone.get(f"/cases/{world.case.id}")
    row = (await _events(db, action="case.view"))[-1]
    assert row.user_id is None
    assert row.person_id == world.household.person_id
    assert row.role == "household"


async def test_audit_text_holds_no_names_or_content(browser, world, db):
    b = browser()
    await b.login(world.coordinator.email)
    await b.post(f"/cases/{world.case.id}/persons", {"name": "Geheimnaam", "kind": "household"})
    for row in await _events(db):
        for value in (
            row.action,
            row.object_type,
            row.object_id,
            row.role,
            row.on_behalf_of,
            row.source,
            row.outcome,
        ):
            assert "Geheimnaam" not in value


async def test_family_sees_who_looked_at_their_plan(browser, world, settings, db):
    pro = browser()
    await pro.login(world.professional.email)
    await pro.get(f"/cases/{world.case.id}")
    phone = browser()
    await phone.claim(await invite(db, settings, world, world.household))
    page = await phone.get(f"/cases/{world.case.id}/audit")
    assert page.status_code == 200
    rows = BeautifulSoup(page.text, "html.parser").find("table", class_="log").find_all("tr")[1:]
    text = " ".join(r.text for r in rows)
    assert "Petra" in text and "heeft het plan gelezen" in text
    # Looking at the log is itself logged.
    assert (await _events(db, action="audit.view"))[-1].person_id == world.household.person_id


async def test_network_members_do_not_see_the_audit_page(browser, world, settings, db):
    phone = browser()
    await phone.claim(await invite(db, settings, world, world.network))
    assert (await phone.get(f"/cases/{world.case.id}/audit")).status_code == 404


async def test_a_member_sees_professionals_and_herself_not_other_members_or_hidden_things(
    browser, world, settings, db
):
    """Issue 15: the page let the person using violence watch every read and action of the
    other household members, and showed rows about records he could not see."""
    from datetime import date

    from tests.conftest import add_member
    from workspace.access import Actor, case_access
    from workspace.models import Participant, User
    from workspace.plan import actions as plan

    erik = await add_member(db, world.case, world.coordinator, "Erik")
    linda_phone, erik_phone = browser(), browser()
    await linda_phone.claim(await invite(db, settings, world, world.household))
    await erik_phone.claim(await invite(db, settings, world, erik))
    # Linda reads her plan three times and posts a reaction-free visit; Petra reads it twice.
    for _ in range(3):
        await linda_phone.get(f"/cases/{world.case.id}/plan")
    pro = browser()
    await pro.login(world.professional.email)
    for _ in range(2):
        await pro.get(f"/cases/{world.case.id}/plan")
    # Fatima records an incident hidden from Erik.
    async with db.begin() as session:
        erik_person = (await session.get(Participant, erik.id)).person_id
        who = await case_access(
            session,
            Actor(world.case.id, await session.get(User, world.coordinator.id), None),
            world.case.id,
        )
        await plan.add_incident(
            session,
            who,
            {"occurred_on": date.today().isoformat(), "what": "Ruzie", "reported_by": "Linda"},
            plan.AudienceInput("except", (str(erik_person),)),
        )
    await erik_phone.get(f"/cases/{world.case.id}/plan")
    page = await erik_phone.get(f"/cases/{world.case.id}/audit")
    assert page.status_code == 200
    text = BeautifulSoup(page.text, "html.parser").find("table", class_="log").text
    assert "Linda" not in text  # not what another member does
    assert "incident" not in text  # nothing about what is hidden from him
    assert "Petra" in text
    assert text.count("heeft het plan gelezen") == 2  # Petra's visit, and his own
    # Linda sees her incident being recorded, and Petra's visit as one line.
    page = await linda_phone.get(f"/cases/{world.case.id}/audit")
    text = BeautifulSoup(page.text, "html.parser").find("table", class_="log").text
    assert "heeft een incident vastgelegd" in text
    assert "Erik" not in text
