"""Interop fixtures: stock Node Yjs clients (tests/interop/client.mjs) driven from Python."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import npm_installed

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="session")
def node_clients() -> Path:
    npm_installed(HERE, "y-websocket")
    return HERE / "client.mjs"


class NodeClient:
    """One stock y-websocket client in its own Node process."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.text = ""
        self.events: list[dict[str, Any]] = []
        self._changed = asyncio.Condition()
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        async for line in self.proc.stdout:
            event = json.loads(line)
            self.events.append(event)
            if event.get("event") == "text":
                self.text = event["text"]
            async with self._changed:
                self._changed.notify_all()

    async def type(self, text: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write((json.dumps({"cmd": "type", "text": text}) + "\n").encode())
        await self.proc.stdin.drain()

    async def wait_for(self, predicate: Callable[[NodeClient], bool], timeout: float = 10) -> None:  # noqa: ASYNC109
        async def wait() -> None:
            async with self._changed:
                await self._changed.wait_for(lambda: predicate(self))

        await asyncio.wait_for(wait(), timeout)

    def synced_count(self) -> int:
        return sum(1 for e in self.events if e.get("event") == "synced")

    async def stop(self) -> None:
        if self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()
        self._reader.cancel()


@pytest.fixture
async def node(node_clients: Path) -> AsyncIterator[Any]:
    """node(server_url, room, cookie, origin) -> a running NodeClient."""
    made: list[NodeClient] = []

    async def start(server_url: str, room: str, cookie: str, origin: str) -> NodeClient:
        proc = await asyncio.create_subprocess_exec(
            "node",
            str(node_clients),
            server_url,
            room,
            cookie,
            origin,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        made.append(NodeClient(proc))
        return made[-1]

    yield start
    for client in made:
        await client.stop()
