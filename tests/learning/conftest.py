"""Learning fixtures: the demo (the Bakker family, the local team's intervision group and
reflections) in the test's migrated database, signed-in browsers by e-mail, and pycrdt Yjs
clients on a copy's documents over real websockets."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
import websockets
from bs4 import BeautifulSoup
from sqlalchemy import select

from realtime import protocol
from tests.realtime.conftest import Client
from workspace.demo import DemoResult, create_demo, store_texts
from workspace.learning.models import Group
from workspace.web import SESSION_COOKIE

FATIMA = "fatima@demo.kring.nl"
JOOST = "joost@demo.kring.nl"
SANNE = "sanne@demo.kring.nl"
MEHMET = "mehmet@demo.kring.nl"
ANOUK = "anouk@demo.kring.nl"
MANAGER = "manager@demo.kring.nl"
PASSWORD = "kring-demo-wachtwoord"


def soup(response: Any) -> BeautifulSoup:
    return BeautifulSoup(response.text, "html.parser")


def hidden(page: BeautifulSoup, form_action_end: str, name: str) -> str:
    """The value of a hidden field in the form whose action ends with ``form_action_end``."""
    for form in page.select("form"):
        if form.get("action", "").endswith(form_action_end):
            field = form.select_one(f"input[name={name}]")
            if field is not None:
                return str(field["value"])
    raise AssertionError(f"no form ending {form_action_end} with {name}")


@pytest.fixture
async def demo(db, settings) -> DemoResult:
    async with db.begin() as session:
        result = await create_demo(session, settings)
    await store_texts(db.engine, result.texts)
    return result


@pytest.fixture
async def demo_group(db, demo) -> Group:
    async with db.begin() as session:
        group = await session.scalar(select(Group))
    assert group is not None
    return group


@pytest.fixture
def signed_in(browser):
    """signed_in(email) -> a browser signed in as that demo user (one per e-mail)."""
    made: dict[str, Any] = {}

    async def make(email: str) -> Any:
        if email not in made:
            b = browser()
            response = await b.post("/login", {"email": email, "password": PASSWORD})
            assert response.status_code == 303, response.text
            made[email] = b
        return made[email]

    return make


async def make_copy(signed_in, demo: DemoResult, group: Group, *, release: bool = True) -> str:
    """Fatima makes a copy of the Bakker plan for the group, reviews and releases it through
    the real pages. Returns the copy's id."""
    fatima = await signed_in(FATIMA)
    response = await fatima.post(
        "/intervisie/kopieen",
        {"case_id": demo.case_id, "group_id": str(group.id), "ends_on": _in_weeks(4)},
    )
    assert response.status_code == 303, response.text
    review_url = response.headers["location"]
    copy_id = re.search(r"/kopieen/([0-9a-f-]{36})/", review_url).group(1)
    if not release:
        return copy_id
    page = soup(await fatima.get(review_url))
    fingerprint = hidden(page, "/nagekeken", "fingerprint")
    assert (
        await fatima.post(f"/intervisie/kopieen/{copy_id}/nagekeken", {"fingerprint": fingerprint})
    ).status_code == 303
    page = soup(await fatima.get(review_url))
    version = hidden(page, "/vrijgeven", "version")
    response = await fatima.post(f"/intervisie/kopieen/{copy_id}/vrijgeven", {"version": version})
    assert response.status_code == 303, response.text
    assert response.headers["location"] == f"/intervisie/kopieen/{copy_id}"
    return copy_id


def _in_weeks(n: int) -> str:
    from datetime import date, timedelta

    return (date.today() + timedelta(weeks=n)).isoformat()


@pytest.fixture
async def yjs(live, settings, signed_in) -> AsyncIterator[Any]:
    """yjs(email, document) -> a pycrdt client synced over a real websocket, as that user."""
    clients: list[Client] = []

    async def make(email: str, document: str) -> Client:
        b = await signed_in(email)
        ws = await websockets.connect(
            f"{live}/realtime/{document}",
            additional_headers={
                "Origin": settings.origin,
                "Cookie": f"{SESSION_COOKIE}={b.http.cookies[SESSION_COOKIE]}",
            },
            max_size=None,
            compression=None,
        )
        client = Client(ws, True)
        await ws.send(protocol.write_var_uint(protocol.KRING) + bytes([0]) + b"\x011")
        await ws.send(protocol.sync_step1(client.doc.get_state()))
        clients.append(client)
        return client

    yield make
    for client in clients:
        if client.closed is None:
            await client.close()
