"""Stock Yjs clients (Node: yjs + y-websocket, unchanged) against Kring's server."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from workspace.notes import document_name
from workspace.web import SESSION_COOKIE


async def _cookie(browser, who_email: str) -> str:
    b = browser()
    await b.login(who_email)
    return f"{SESSION_COOKIE}={b.http.cookies[SESSION_COOKIE]}"


async def test_three_stock_clients_converge(live, node, browser, world, settings):
    room = document_name(world.case.id)
    emails = [world.coordinator.email, world.professional.email, world.coordinator.email]
    clients = [
        await node(f"{live}/realtime", room, await _cookie(browser, e), settings.origin)
        for e in emails
    ]
    for c in clients:
        await c.wait_for(lambda c: c.synced_count() >= 1)
    for round_ in range(5):
        await asyncio.gather(*(c.type(f"[{i}.{round_}]") for i, c in enumerate(clients)))
    expected = {f"[{i}.{r}]" for i in range(3) for r in range(5)}
    for c in clients:
        await c.wait_for(lambda c: set(re.findall(r"\[\d\.\d\]", c.text)) == expected)
    assert clients[0].text == clients[1].text == clients[2].text
    assert len(clients[0].text) == sum(len(t) for t in expected)  # nothing twice


async def test_a_read_only_stock_client_cannot_change_the_text(
    live, node, browser, world, settings
):
    room = document_name(world.case.id)
    writer = await node(
        f"{live}/realtime", room, await _cookie(browser, world.coordinator.email), settings.origin
    )
    reader = await node(
        f"{live}/realtime", room, await _cookie(browser, world.observer.email), settings.origin
    )
    for c in (writer, reader):
        await c.wait_for(lambda c: c.synced_count() >= 1)
    await writer.type("vastgesteld")
    await reader.wait_for(lambda c: c.text == "vastgesteld")
    await reader.type(" (veranderd door meelezer)")
    await writer.type(".")
    await reader.wait_for(lambda c: "." in c.text)
    late = await node(
        f"{live}/realtime", room, await _cookie(browser, world.professional.email), settings.origin
    )
    await late.wait_for(lambda c: c.text == "vastgesteld.")
    assert "meelezer" not in writer.text


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class KringProcess:
    """`kring serve` as its own process, so it can be killed with SIGKILL and started again."""

    def __init__(self, data_dir: Path, port: int) -> None:
        self.data_dir, self.port = data_dir, port
        self.env = {**os.environ, "KRING_BASE_URL": f"http://127.0.0.1:{port}"}
        self.env.pop("KRING_DATABASE_URL", None)
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "workspace.cli",
                "serve",
                "--data-dir",
                str(self.data_dir),
                "--port",
                str(self.port),
            ],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    async def ready(self) -> None:
        async with httpx.AsyncClient() as client:
            for _ in range(300):
                # Not listening yet (it is starting up): try again shortly.
                with contextlib.suppress(httpx.TransportError):
                    if (
                        await client.get(f"http://127.0.0.1:{self.port}/healthz")
                    ).status_code == 200:
                        return
                await asyncio.sleep(0.05)
        raise RuntimeError("kring serve did not come up")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()


@pytest.fixture
async def kring_process(tmp_path):
    port = _free_port()
    data_dir = tmp_path / "demo"
    env = {**os.environ, "KRING_BASE_URL": f"http://127.0.0.1:{port}"}
    env.pop("KRING_DATABASE_URL", None)
    demo = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "workspace.cli",
        "demo",
        "--data-dir",
        str(data_dir),
        "--no-serve",
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    assert await asyncio.wait_for(demo.wait(), 120) == 0
    server = KringProcess(data_dir, port)
    server.start()
    await server.ready()
    yield server
    if server.proc is not None and server.proc.poll() is None:
        server.proc.terminate()
        server.proc.wait(timeout=10)


async def _login(base: str, email: str) -> tuple[str, str]:
    """Sign in over real HTTP; returns the session cookie and the demo case's document."""
    async with httpx.AsyncClient(base_url=base) as client:
        page = await client.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        await client.post(
            "/login",
            data={"email": email, "password": "kring-demo-wachtwoord", "csrf_token": token},
        )
        cases = await client.get("/cases")
        case_id = re.search(r'href="/cases/([0-9a-f-]{36})"', cases.text).group(1)
        return f"{SESSION_COOKIE}={client.cookies[SESSION_COOKIE]}", f"case/{case_id}/notes"


async def test_sigkill_while_typing_loses_nothing_and_duplicates_nothing(kring_process, node):
    base = f"http://127.0.0.1:{kring_process.port}"
    clients = []
    for email in ("fatima@demo.kring.nl", "joost@demo.kring.nl", "petra@demo.kring.nl"):
        cookie, room = await _login(base, email)
        clients.append(
            await node(f"ws://127.0.0.1:{kring_process.port}/realtime", room, cookie, base)
        )
    for c in clients:
        await c.wait_for(lambda c: c.synced_count() >= 1)
    rng = random.Random(7)
    typed: list[str] = []
    kills = 0
    for step in range(90):
        i = step % 3
        token = f"<{i}:{step}>"
        typed.append(token)
        await clients[i].type(token)
        await asyncio.sleep(rng.uniform(0.005, 0.03))
        if step in (20, 45, 70):
            kring_process.kill()  # mid-typing, no warning
            kills += 1
            await asyncio.sleep(rng.uniform(0.05, 0.3))
            kring_process.start()
            await kring_process.ready()
    assert kills == 3
    want = set(typed)
    for c in clients:
        await c.wait_for(lambda c: set(re.findall(r"<\d:\d+>", c.text)) == want, timeout=30)
    assert clients[0].text == clients[1].text == clients[2].text
    assert len(re.findall(r"<\d:\d+>", clients[0].text)) == len(typed)  # no duplicates
    # What the server stored is the same text: a fresh client after one more restart sees it.
    kring_process.kill()
    kring_process.start()
    await kring_process.ready()
    cookie, room = await _login(base, "fatima@demo.kring.nl")
    fresh = await node(f"ws://127.0.0.1:{kring_process.port}/realtime", room, cookie, base)
    await fresh.wait_for(lambda c: c.text == clients[0].text, timeout=30)
