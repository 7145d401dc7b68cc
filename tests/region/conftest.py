"""A region in one machine: two `kring serve` workers (A and B) over one fresh PostgreSQL
database, their own Redis for the realtime fan-out, and HAProxy in front of both.

Everything is real processes, started once per module (``region``): the workers start at the
same moment on an empty database, so both migrate at once (under the advisory lock), then the
test data is put in. Tests reach the workers through the balancer (``Region.balancer``) or
pinned to one worker (``Region.a`` / ``Region.b``); Redis can be killed and started again
(``Region.redis``). Each worker's output goes to a log file in the module's tmp folder, and
``Region.logs()`` gives their tails for a failure message.

Skipped, with the reason, only without KRING_TEST_DATABASE_URL (a PostgreSQL server to create
the database on). Everything else the region needs - redis-server, haproxy, Node.js for the
stock clients, Chromium - is installed by .ci/run; a missing one fails, naming it."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
import websockets
from pycrdt import write_var_uint
from sqlalchemy import select, text

from realtime import protocol
from tests.conftest import PASSWORD, SECRET, add_member, make_case, make_user, npm_installed
from tests.interop.conftest import NodeClient
from tests.realtime.conftest import Client
from workspace.access import Actor, case_access
from workspace.auth.actions import create_invitation
from workspace.config import Settings, normalise_database_url
from workspace.db import Database, create_engine, upgrade
from workspace.models import User
from workspace.notes import section_document
from workspace.plan.actions import ensure_sections
from workspace.plan.models import Section
from workspace.web import CSRF_COOKIE, SESSION_COOKIE, csrf_token_for

DATABASE_ENV = "KRING_TEST_DATABASE_URL"
SKIP_REASON = f"the region tests need PostgreSQL: set {DATABASE_ENV} (e.g. postgresql://postgres@127.0.0.1:5432/postgres)"
INTEROP = Path(__file__).resolve().parents[1] / "interop"
CHROMIUM = os.environ.get("KRING_CHROMIUM", "/usr/bin/chromium")
COORDINATOR = "regisseur@example.org"
#: Family members, each with one personal invitation (claimed once, on one device).
MEMBERS = ("Linda", "Sanne")
#: One plan section per test that types in it, so the tests never see each other's text.
SECTIONS = ("wat-gebeurde", "veiligheidsplan", "zorgen-krachten")
#: How long a process gets to start (migrations on 2 loaded CI cores included).
START_TIMEOUT = 120.0


def free_ports(count: int) -> list[int]:
    """``count`` different free ports (all held open while choosing, so none twice)."""
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [int(s.getsockname()[1]) for s in sockets]


def _tail(path: Path, lines: int = 80) -> str:
    """The end of a log, without the balancer's health checks (one a second per worker)."""
    if not path.exists():
        return "(no log)"
    kept = [
        line
        for line in path.read_text(errors="replace").splitlines()
        if "GET /readyz 200" not in line
    ]
    return "\n".join(kept[-lines:])


def _need(program: str, hint: str) -> str:
    """The program's path (also looked for in /usr/sbin, off a normal user's PATH)."""
    for candidate in (program, f"/usr/sbin/{program}"):
        found = shutil.which(candidate)
        if found:
            return found
    pytest.fail(f"the region tests need {program} ({hint}; .ci/run installs it)")


@dataclass
class Process:
    """One of the region's processes, its output in a log file."""

    name: str
    log: Path
    proc: subprocess.Popen[bytes] | None = None
    _out: IO[bytes] | None = None

    def start(self, command: list[str], env: dict[str, str] | None = None) -> None:
        if self._out is None:
            self._out = self.log.open("ab")
        self._out.write(f"\n--- {self.name}: start {time.strftime('%H:%M:%S')} ---\n".encode())
        self._out.flush()
        self.proc = subprocess.Popen(
            command,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._out,
            stderr=subprocess.STDOUT,
        )

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def exited(self) -> str | None:
        """Why the process is gone (with its log), or None while it runs."""
        if self.running:
            return None
        code = self.proc.returncode if self.proc is not None else None
        return f"{self.name} exited with code {code}; its log:\n{_tail(self.log)}"

    def kill(self) -> None:
        """SIGKILL: no warning, no clean shutdown."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        if self.proc is not None:
            self.proc.wait()

    def stop(self) -> None:
        """SIGTERM, a while to finish, then SIGKILL; closes the log."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self._out is not None:
            self._out.close()
            self._out = None

    def tail(self, lines: int = 60) -> str:
        return _tail(self.log, lines)


@dataclass
class Worker(Process):
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}"


@dataclass
class RedisServer(Process):
    """A redis-server of the region's own, on a fixed port, that a test may kill and restart."""

    port: int = 0
    binary: str = "redis-server"
    folder: Path = Path()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def launch(self) -> None:
        self.start(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.folder),
            ]
        )

    async def _client(self) -> Any:
        import redis.asyncio as redis

        return redis.Redis.from_url(self.url, socket_timeout=2, socket_connect_timeout=2)

    async def ping(self) -> bool:
        client = await self._client()
        try:
            return bool(await client.ping())
        except Exception:
            return False
        finally:
            await client.aclose()

    async def subscribers(self, channel: str) -> int:
        """How many connections subscribe to ``channel`` (PUBSUB NUMSUB); -1 if Redis is down."""
        client = await self._client()
        try:
            counts = await client.pubsub_numsub(channel)
            return int(counts[0][1]) if counts else 0
        except Exception:
            return -1
        finally:
            await client.aclose()

    async def ready(self, timeout: float = 30) -> None:  # noqa: ASYNC109
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            problem = self.exited()
            if problem:
                pytest.fail(f"redis-server did not start: {problem}")
            if await self.ping():
                return
            await asyncio.sleep(0.1)
        pytest.fail(f"redis-server did not answer PING within {timeout:.0f} s:\n{self.tail()}")


@dataclass
class Region:
    """What the tests get: the processes, the seeded case and how to reach everything."""

    database_url: str
    redis: RedisServer
    a: Worker
    b: Worker
    haproxy: Process
    balancer_port: int
    #: The realtime fan-out's Redis channel (``<prefix>:realtime``).
    channel: str
    case_id: uuid.UUID = field(default_factory=uuid.uuid4)
    coordinator: str = COORDINATOR
    #: Participant id of each family member, by name.
    members: dict[str, uuid.UUID] = field(default_factory=dict)
    #: Each family member's (unclaimed) invitation token, by name.
    invitations: dict[str, str] = field(default_factory=dict)
    #: Plan section documents (``case/<id>/section/<id>``), by section key.
    documents: dict[str, str] = field(default_factory=dict)

    @property
    def balancer(self) -> str:
        return f"http://127.0.0.1:{self.balancer_port}"

    @property
    def balancer_ws(self) -> str:
        return f"ws://127.0.0.1:{self.balancer_port}"

    @property
    def origin(self) -> str:
        """The public origin (KRING_BASE_URL): what a browser on the balancer sends."""
        return self.balancer

    def logs(self) -> str:
        """The tails of both workers' logs (whole logs: the paths), for a failure message."""
        return "".join(
            f"\n--- worker {w.name} ({w.url}) log tail, all of it in {w.log} ---\n{w.tail()}"
            for w in (self.a, self.b)
        )

    async def both_subscribed(self, timeout: float = 30) -> None:  # noqa: ASYNC109
        """Wait until both workers listen on the fan-out channel (after a Redis restart they
        subscribe again by themselves)."""
        deadline = time.monotonic() + timeout
        count = -1
        while time.monotonic() < deadline:
            count = await self.redis.subscribers(self.channel)
            if count >= 2:
                return
            await asyncio.sleep(0.2)
        pytest.fail(
            f"after {timeout:.0f} s, {count} worker(s) subscribe to {self.channel!r} "
            f"on Redis (want 2){self.logs()}"
        )

    async def session(self, base: str, email: str) -> httpx.AsyncClient:
        """A signed-in HTTP client for ``base`` (a worker, or the balancer). Sessions live in
        the database: its cookie works on every worker. The caller closes it."""
        client = httpx.AsyncClient(base_url=base, timeout=30)
        response = await post_form(client, "/login", {"email": email, "password": PASSWORD})
        assert response.status_code == 303, (
            f"signing in as {email} at {base} answered {response.status_code}{self.logs()}"
        )
        return client

    async def claim(self, base: str, member: str) -> httpx.AsyncClient:
        """A family member's phone: claims their personal invitation at ``base``."""
        client = httpx.AsyncClient(base_url=base, timeout=30)
        response = await post_form(client, "/uitnodiging", {"token": self.invitations[member]})
        assert response.status_code == 303, (
            f"{member} claiming her invitation at {base} answered {response.status_code}"
            f"{self.logs()}"
        )
        return client


async def post_form(
    client: httpx.AsyncClient, url: str, data: dict[str, str], **kwargs: Any
) -> httpx.Response:
    """POST a form as a page would: with the CSRF token that goes with the client's cookie."""
    if CSRF_COOKIE not in client.cookies:
        await client.get("/healthz")
    token = csrf_token_for(SECRET, client.cookies[CSRF_COOKIE])
    return await client.post(url, data={**data, "csrf_token": token}, **kwargs)


def session_cookie(client: httpx.AsyncClient) -> str:
    return f"{SESSION_COOKIE}={client.cookies[SESSION_COOKIE]}"


def _database_url(admin_url: str, name: str) -> str:
    parts = urlsplit(admin_url)
    return urlunsplit(parts._replace(path=f"/{name}"))


#: The configuration the README gives operators: the test runs that very file.
HAPROXY_EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "haproxy.cfg"


def _haproxy_config(port: int, a: Worker, b: Worker) -> str:
    """docs/haproxy.cfg with this region's addresses (and a header naming the worker that
    answered, for tests that want to know)."""
    lines = []
    for line in HAPROXY_EXAMPLE.read_text().splitlines():
        stripped = line.strip()
        if stripped.startswith("bind "):
            line = f"    bind 127.0.0.1:{port}"
        elif stripped.startswith("server a "):
            line = f"    server a 127.0.0.1:{a.port}"
        elif stripped.startswith("server b "):
            line = f"    server b 127.0.0.1:{b.port}"
        lines.append(line)
        if stripped.startswith("balance "):
            lines.append("    http-response set-header X-Kring-Worker %s")
    config = "\n".join(lines) + "\n"
    assert f"127.0.0.1:{a.port}" in config and f"127.0.0.1:{b.port}" in config, config
    return config


async def _wait_ready(worker: Worker) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    async with httpx.AsyncClient(timeout=5) as client:
        while time.monotonic() < deadline:
            problem = worker.exited()
            if problem:
                pytest.fail(f"worker {problem}")
            # Not listening yet, or still migrating: try again shortly.
            with contextlib.suppress(httpx.TransportError):
                if (await client.get(f"{worker.url}/readyz")).status_code == 200:
                    return
            await asyncio.sleep(0.2)
    pytest.fail(
        f"worker {worker.name} was not ready within {START_TIMEOUT:.0f} s:\n{worker.tail()}"
    )


async def _wait_balancer(haproxy: Process, url: str) -> None:
    """Until the balancer answers /readyz from both workers (its health checks passed)."""
    seen: set[str] = set()
    deadline = time.monotonic() + START_TIMEOUT
    async with httpx.AsyncClient(timeout=5) as client:
        while time.monotonic() < deadline:
            problem = haproxy.exited()
            if problem:
                pytest.fail(f"haproxy did not start: {problem}")
            with contextlib.suppress(httpx.TransportError):
                response = await client.get(f"{url}/readyz")
                if response.status_code == 200:
                    seen.add(response.headers.get("x-kring-worker", "?"))
                    if {"a", "b"} <= seen:
                        return
            await asyncio.sleep(0.1)
    pytest.fail(f"haproxy did not reach both workers (saw {sorted(seen)}):\n{haproxy.tail()}")


async def _seed(region: Region, url: str) -> None:
    """The case: a coordinator, family members with personal invitations, plan sections."""
    db = Database(url)
    try:
        # Both workers migrated the empty database at once on start: one schema, one version.
        async with db.engine.connect() as conn:
            versions = list(
                (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalars()
            )
        assert len(versions) == 1, f"after two workers migrated at once: alembic_version {versions}"
        await upgrade(url)  # finds the schema up to date (and brings it there if not)
        coordinator = await make_user(db, COORDINATOR, name="Fatima")
        case = await make_case(db, coordinator, "Gezin Regio")
        region.case_id = case.id
        for name in MEMBERS:
            region.members[name] = (await add_member(db, case, coordinator, name)).id
        settings = Settings(
            data_dir=region.a.log.parent,
            database_url=url,
            secret_key=SECRET,
            base_url=region.balancer,
        )
        async with db.begin() as session:
            await ensure_sections(session, case.id)
            sections = {
                s.key: s.id
                for s in await session.scalars(select(Section).where(Section.case_id == case.id))
            }
            user = await session.get(User, coordinator.id)
            who = await case_access(session, Actor(uuid.uuid4(), user, None, "test"), case.id)
            for name, participant_id in region.members.items():
                new = await create_invitation(session, settings, who, participant_id)
                region.invitations[name] = new.token
        for key in SECTIONS:
            region.documents[key] = section_document(case.id, sections[key])
    finally:
        await db.dispose()


@pytest.fixture(scope="module")
async def region(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Region]:
    admin_raw = os.environ.get(DATABASE_ENV, "").strip()
    if not admin_raw:
        pytest.skip(SKIP_REASON)
    redis_binary = _need("redis-server", "apt-get install redis-server")
    haproxy_binary = _need("haproxy", "apt-get install haproxy")
    kring = Path(sys.executable).parent / "kring"
    if not kring.exists():
        pytest.fail(f"no kring console script at {kring}: pip install -e '.[test]'")

    tmp = tmp_path_factory.mktemp("region")
    name = f"kring_region_{uuid.uuid4().hex[:12]}"
    admin = create_engine(normalise_database_url(admin_raw), isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    raw_url = _database_url(admin_raw, name)
    url = normalise_database_url(raw_url)

    prefix = f"kring-region-{uuid.uuid4().hex[:8]}"
    redis_port, a_port, b_port, balancer_port = free_ports(4)
    redis = RedisServer(
        "redis-server", tmp / "redis.log", port=redis_port, binary=redis_binary, folder=tmp
    )
    a = Worker("A", tmp / "worker-a.log", port=a_port)
    b = Worker("B", tmp / "worker-b.log", port=b_port)
    haproxy = Process("haproxy", tmp / "haproxy.log")
    region = Region(url, redis, a, b, haproxy, balancer_port, f"{prefix}:realtime")
    try:
        redis.launch()
        await redis.ready()
        env = {k: v for k, v in os.environ.items() if not k.startswith("KRING_")}
        env.update(
            KRING_DATABASE_URL=raw_url,
            KRING_REDIS_URL=redis.url,
            KRING_REDIS_PREFIX=prefix,
            KRING_SECRET_KEY=SECRET,
            KRING_BASE_URL=region.balancer,
            # A browser may also talk to one worker directly (a test pins it to B).
            KRING_ALLOWED_ORIGINS=f"{a.url},{b.url}",
            KRING_TRUSTED_PROXIES="127.0.0.1",
            KRING_LOG_LEVEL="INFO",
        )
        # At the same moment, on the empty database: both migrate at once.
        for worker in (a, b):
            data = tmp / f"data-{worker.name.lower()}"
            data.mkdir()
            command = [str(kring), "serve", "--host", "127.0.0.1", "--port", str(worker.port)]
            worker.start(command, {**env, "KRING_DATA_DIR": str(data)})
        await asyncio.gather(_wait_ready(a), _wait_ready(b))
        config = tmp / "haproxy.cfg"
        config.write_text(_haproxy_config(region.balancer_port, a, b))
        haproxy.start([haproxy_binary, "-db", "-f", str(config)])
        await _wait_balancer(haproxy, region.balancer)
        await _seed(region, url)
        await region.both_subscribed()
        yield region
    finally:
        for process in (haproxy, a, b, redis):
            process.stop()
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


# -- clients ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def node_harness(region: Region) -> Path:
    """The interop tests' stock y-websocket client (tests/interop/client.mjs)."""
    _need("node", "apt-get install nodejs npm")
    npm_installed(INTEROP, "y-websocket")
    return INTEROP / "client.mjs"


StartNode = Callable[[str, str, str], Awaitable[NodeClient]]


@pytest.fixture
async def node(node_harness: Path, region: Region) -> AsyncIterator[StartNode]:
    """node(ws_base, document, cookie) -> a stock Yjs client (Node) connected to
    ``ws_base``/realtime/``document``, with the public origin; stopped after the test."""
    made: list[NodeClient] = []

    async def start(ws_base: str, document: str, cookie: str) -> NodeClient:
        proc = await asyncio.create_subprocess_exec(
            "node",
            str(node_harness),
            f"{ws_base}/realtime",
            document,
            cookie,
            region.origin,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        made.append(NodeClient(proc))
        return made[-1]

    yield start
    for client in made:
        await client.stop()


ConnectPy = Callable[[str, str, str], Awaitable[Client]]


@pytest.fixture
async def pyclient(region: Region) -> AsyncIterator[ConnectPy]:
    """pyclient(ws_base, document, cookie) -> a pycrdt y-websocket peer (tests/realtime's
    Client: it sees close codes and the server's "stored" acknowledgements)."""
    made: list[Client] = []

    async def connect(ws_base: str, document: str, cookie: str) -> Client:
        ws = await websockets.connect(
            f"{ws_base}/realtime/{document}",
            additional_headers={"Origin": region.origin, "Cookie": cookie},
            max_size=None,
            compression=None,
        )
        client = Client(ws, hello=True)
        # Kring's hello (asks for "stored" acknowledgements), then sync step 1.
        await ws.send(write_var_uint(protocol.KRING) + bytes([0]) + b"\x011")
        await ws.send(protocol.sync_step1(client.doc.get_state()))
        made.append(client)
        return client

    yield connect
    for client in made:
        if client.closed is None:
            await client.close()


@pytest.fixture
async def http() -> AsyncIterator[list[httpx.AsyncClient]]:
    """Append HTTP clients here: they are closed after the test."""
    clients: list[httpx.AsyncClient] = []
    yield clients
    for client in clients:
        await client.aclose()


@pytest.fixture(scope="module")
async def chromium(region: Region) -> AsyncIterator[Any]:
    """Chromium through Playwright's async API (the tests here are async)."""
    _need(CHROMIUM, "apt-get install chromium")
    from playwright.async_api import async_playwright

    from tests.e2e.conftest import CHROMIUM_ARGS

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            await browser.close()
