"""Benchmark of the realtime server: real `kring serve` (durable SQLite, WAL, synchronous=FULL),
real stock Yjs clients (Node: yjs + y-websocket) on the same machine.

    .venv/bin/python -m bench.realtime [--scenario meeting|meetings|crowd|open|idle|all]
    .venv/bin/python -m bench.realtime --scenario meetings \
        --database-url postgresql://postgres@127.0.0.1:5432/postgres \
        [--servers 2 --redis-url redis://127.0.0.1:6379/0]

With --database-url the bench creates a fresh PostgreSQL database there (and drops it after);
with --servers 2 two `kring serve` workers share it and a Redis, the clients dealt over them
in turn, and latency is also reported apart for edits that crossed workers.

Prints a Markdown table: edit-to-peer latency p50/p95/p99, lost updates, convergence, server
CPU (share of one core) and peak memory. Measured, never asserted: see docs/realtime.md."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
EMAIL, PASSWORD = "bench@kring.invalid", "benchmark-wachtwoord"

SCENARIOS: dict[str, dict[str, Any]] = {
    "meeting": {
        "docs": 1,
        "clientsPerDoc": 12,
        "intervalMs": 400,
        "durationMs": 30_000,
        "burst": 3,
    },
    "meetings": {
        "docs": 100,
        "clientsPerDoc": 8,
        "intervalMs": 1000,
        "durationMs": 30_000,
        "burst": 3,
    },
    # 200 replicas need more than one Node process can apply in time: two share the load.
    "crowd": {
        "docs": 1,
        "clientsPerDoc": 200,
        "intervalMs": 400,
        "durationMs": 30_000,
        "burst": 3,
        "workers": 2,
    },
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


#: Where the servers keep their data: a PostgreSQL database (``--database-url``) or, by
#: default, SQLite in each scenario's own folder. Set by ``main``.
DATABASE: dict[str, Any] = {"admin": None, "servers": 1, "redis": None}


def _database_url(data_dir: Path) -> str:
    return DATABASE.get("url") or f"sqlite+aiosqlite:///{data_dir / 'kring.sqlite3'}"


class _Fresh:
    """A fresh database for one scenario: a new PostgreSQL database, or the SQLite file."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.name = f"kring_bench_{uuid.uuid4().hex[:10]}"

    def __enter__(self) -> str:
        if DATABASE["admin"]:
            self._admin("CREATE DATABASE")
            DATABASE["url"] = DATABASE["admin"].rsplit("/", 1)[0] + "/" + self.name
        return _database_url(self.data_dir)

    def __exit__(self, *exc: object) -> None:
        if DATABASE["admin"]:
            DATABASE.pop("url", None)
            self._admin("DROP DATABASE IF EXISTS", " WITH (FORCE)")

    def _admin(self, verb: str, tail: str = "") -> None:
        from sqlalchemy import text

        from workspace.db import create_engine

        async def run() -> None:
            engine = create_engine(DATABASE["admin"], isolation_level="AUTOCOMMIT")
            async with engine.connect() as conn:
                await conn.execute(text(f'{verb} "{self.name}"{tail}'))
            await engine.dispose()

        asyncio.run(run())


async def _prepare(data_dir: Path, cases: int) -> list[str]:
    """A professional and ``cases`` cases she coordinates; returns their notes documents."""
    from workspace.access import Actor
    from workspace.auth.actions import hash_password
    from workspace.cases.actions import create_case
    from workspace.db import Database, upgrade
    from workspace.models import User, UserRole
    from workspace.notes import document_name

    url = _database_url(data_dir)
    await upgrade(url)
    db = Database(url)
    try:
        async with db.begin() as session:
            user = User(
                email=EMAIL,
                name="Bench",
                role=UserRole.PROFESSIONAL,
                password_hash=hash_password(PASSWORD),
            )
            session.add(user)
            await session.flush()
            actor = Actor(uuid.uuid4(), user, None, "bench")
            docs = []
            for i in range(cases):
                case = await create_case(session, actor, f"Bench {i}")
                docs.append(document_name(case.id))
        return docs
    finally:
        await db.dispose()


async def _fill_log(data_dir: Path, document: str, count: int) -> None:
    """``count`` single-keystroke updates in the log of ``document``, as typing would leave."""
    from pycrdt import Doc, Text

    from realtime.store import Pending, UpdateStore
    from workspace.db import Database

    db = Database(_database_url(data_dir))
    store = UpdateStore(db.engine)
    writer: Doc[Any] = Doc()
    text = writer.get("text", type=Text)
    batch: list[Pending] = []
    try:
        for i in range(count):
            before = writer.get_state()
            text.insert(len(text), "abcdefghij\n"[i % 11])
            batch.append(Pending(writer.get_update(before), "participant:bench"))
            if len(batch) == 5000:
                await store.append(document, batch)
                batch = []
        if batch:
            await store.append(document, batch)
    finally:
        await db.dispose()


class Server:
    def __init__(self, data_dir: Path, *, redis_prefix: str = "", origin: str = "") -> None:
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "KRING_BASE_URL": self.base, "KRING_DATABASE_URL": ""}
        if origin:  # a worker behind one public address: the clients present that origin
            env["KRING_ALLOWED_ORIGINS"] = origin
        env.pop("KRING_REDIS_URL", None)
        if DATABASE.get("url"):
            env["KRING_DATABASE_URL"] = DATABASE["url"]
        else:
            env.pop("KRING_DATABASE_URL")
        if redis_prefix:
            env["KRING_REDIS_URL"] = DATABASE["redis"]
            env["KRING_REDIS_PREFIX"] = redis_prefix
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "workspace.cli",
                "serve",
                "--data-dir",
                str(data_dir),
                "--port",
                str(self.port),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            # KRING_BENCH_SERVER_LOG=path keeps the server's log (errors during a run).
            stderr=open(log, "ab")  # noqa: SIM115 - the server process holds it
            if (log := os.environ.get("KRING_BENCH_SERVER_LOG"))
            else subprocess.DEVNULL,
        )
        for _ in range(400):
            try:
                if httpx.get(f"{self.base}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.05)
        self.peak_rss_kb = 0
        self._sampling = True
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self._sampler.start()

    def _sample(self) -> None:
        while self._sampling:
            self.peak_rss_kb = max(self.peak_rss_kb, self.rss_kb())
            time.sleep(0.1)

    def rss_kb(self) -> int:
        status = Path(f"/proc/{self.proc.pid}/status").read_text()
        return int(re.search(r"VmRSS:\s+(\d+)", status).group(1))  # type: ignore[union-attr]

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def cookie(self) -> str:
        with httpx.Client(base_url=self.base) as client:
            page = client.get("/login")
            token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
            client.post("/login", data={"email": EMAIL, "password": PASSWORD, "csrf_token": token})
            return f"kring_session={client.cookies['kring_session']}"

    def stop(self) -> None:
        self._sampling = False
        self.proc.terminate()
        self.proc.wait(timeout=20)


def _node(script: str, config: dict[str, Any]) -> dict[str, Any]:
    out = subprocess.run(
        ["node", str(HERE / script), json.dumps(config)],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


#: A generator holding 100 replicas allocates fast; V8's default young generation (16 MB)
#: made it collect so often that its p95 went from ~52 to ~80 ms in the crowd (A/B, 3 runs
#: each, quiet machine). A bigger one changes nothing about the clients, only their heap.
#: Their text's strings live a few hundred ms (until the client's next burst merges them), so
#: they reach the old generation, which V8 then marked and compacted every ~3.5 s: the
#: crowd's worst seconds. A 2 GB initial old space means no full collection during a run
#: (crowd, 3 paired 20 s runs: p95 35.9-39.0 against 39.5-41.1 ms, p99 60-64 against 66-80).
NODE_FLAGS = ["--max-semi-space-size=64", "--initial-old-space-size=2000"]


class Worker:
    """One ``load.mjs`` (or ``observe.mjs``) process, spoken to in JSON lines (see its head)."""

    def __init__(self, config: dict[str, Any], script: str = "load.mjs") -> None:
        # e.g. KRING_BENCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" to profile the load.
        extra = os.environ.get("KRING_BENCH_NODE_ARGS", "").split()
        self.proc = subprocess.Popen(
            ["node", *NODE_FLAGS, *extra, str(HERE / script), json.dumps(config)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"load.mjs ended early (exit {self.proc.wait()})")
        return dict(json.loads(line))

    def write(self, message: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(message) + "\n")
        self.proc.stdin.flush()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


def _percentiles(results: list[dict[str, Any]]) -> dict[str, float | None]:
    """p50/p95/p99/max of the union of the workers' latency histograms."""
    counts: dict[float, int] = {}
    for r in results:
        for bucket, n in r["histogram"]:
            counts[bucket / 100] = counts.get(bucket / 100, 0) + n
        for ms, n in r["overflow"]:
            counts[float(ms)] = counts.get(float(ms), 0) + n
    total = sum(counts.values())
    out: dict[str, float | None] = {"p50": None, "p95": None, "p99": None, "max": None}
    if not total:
        return out
    ordered = sorted(counts.items())
    for name, p in (("p50", 50), ("p95", 95), ("p99", 99)):
        rank, seen = p / 100 * total, 0
        for value, n in ordered:
            seen += n
            if seen >= rank:
                out[name] = value
                break
    out["max"] = ordered[-1][0]
    return out


class Servers:
    """``DATABASE["servers"]`` workers over one data folder (one secret key) and database;
    with more than one, they share a Redis under a prefix of this run's own."""

    def __init__(self, data_dir: Path) -> None:
        count = DATABASE["servers"]
        prefix = f"kring-bench-{uuid.uuid4().hex[:8]}" if count > 1 else ""
        first = Server(data_dir, redis_prefix=prefix)
        others = [
            Server(data_dir, redis_prefix=prefix, origin=first.base) for _ in range(count - 1)
        ]
        self.all = [first, *others]
        self.port = self.all[0].port
        self.base = self.all[0].base
        self.urls = [f"ws://127.0.0.1:{s.port}/realtime" for s in self.all]

    @property
    def peak_rss_kb(self) -> int:
        return sum(s.peak_rss_kb for s in self.all)

    def rss_kb(self) -> int:
        return sum(s.rss_kb() for s in self.all)

    def cpu_seconds(self) -> float:
        return sum(s.cpu_seconds() for s in self.all)

    def cookie(self) -> str:
        return self.all[0].cookie()

    def stop(self) -> None:
        for s in self.all:
            s.stop()


def run_load(
    config: dict[str, Any], workers: int, server: Servers, observe: bool = False
) -> dict[str, Any]:
    """Run the load in ``workers`` Node processes (clients dealt round-robin, so even one
    room is spread over them); server CPU is measured over the typing phase only.

    With ``observe``, one more process holds a plain websocket per room (a passive extra
    connection) and times delivery as the server achieves it (observe.mjs)."""
    observer = None
    if observe:
        observer = Worker(
            {k: config[k] for k in ("url", "cookie", "origin", "docs")}, "observe.mjs"
        )
        observer.read()
    procs = [Worker({**config, "worker": i, "workers": workers}) for i in range(workers)]
    try:
        connect_ms = max(w.read()["connectMs"] for w in procs)
        cpu0, t0 = server.cpu_seconds(), time.monotonic()
        for w in procs:
            w.write({"go": True})
        typed = [w.read()["typed"] for w in procs]
        cpu = (server.cpu_seconds() - cpu0) / (time.monotonic() - t0)
        totals: dict[str, int] = {}
        for t in typed:
            for room, n in t.items():
                totals[room] = totals.get(room, 0) + n
        for w in procs:
            w.write({"totals": totals})
        results = [w.read() for w in procs]
        delivered = None
        if observer is not None:
            observer.write({"stop": True})
            delivered = _percentiles([observer.read()])
    finally:
        for w in [*procs, *([observer] if observer else [])]:
            w.stop()
    replicas: dict[str, int] = {}
    seen: dict[str, int] = {}
    converged = 0
    for r in results:
        for room, figures in r["rooms"].items():
            replicas[room] = replicas.get(room, 0) + figures["replicas"]
            seen[room] = seen.get(room, 0) + figures["seen"]
            converged += figures["converged"]
    return {
        "crossing": _percentiles([r["crossing"] for r in results]),
        "staying": _percentiles([r["staying"] for r in results]),
        "clients": sum(r["clients"] for r in results),
        "docs": len(totals),
        "tokens": sum(totals.values()),
        "samples": sum(r["samples"] for r in results),
        **_percentiles(results),
        # Token-replica pairs never seen: every replica of a room should hold every token.
        "lost": sum(replicas[room] * totals[room] - seen[room] for room in replicas),
        "duplicated": sum(r["duplicated"] for r in results),
        # Yjs items in one replica's text: what each insert and each remote update walks.
        "items": max(r["items"] for r in results),
        # Presence (awareness) messages a replica applied per second of typing, on average.
        "presence_per_s": sum(r["presence"] for r in results)
        / max(1, sum(r["clients"] for r in results))
        / (config["durationMs"] / 1000),
        "converged": converged == sum(replicas.values()),
        "converged_replicas": converged,
        "wait_ms": max(r["waitMs"] for r in results),
        "connect_ms": connect_ms,
        "cpu": cpu,
        # The generator's own load: if it is saturated, it measures itself, not the server.
        "generator_cpu": sum(r["cpuMs"] for r in results) / max(r["wallMs"] for r in results),
        "loop_delay_p99_ms": max(r["loopDelayP99Ms"] for r in results),
        "delivered": delivered,
        "seconds": [
            [
                sum(r["seconds"][i][0] for r in results if i < len(r["seconds"])),
                max(r["seconds"][i][1] for r in results if i < len(r["seconds"])),
            ]
            for i in range(max(len(r["seconds"]) for r in results))
        ],
    }


def load_scenario(
    name: str,
    workers: int | None = None,
    duration_ms: int | None = None,
    observe: bool = False,
    cursors_ms: int | None = None,
) -> dict[str, Any]:
    spec = SCENARIOS[name]
    with tempfile.TemporaryDirectory() as tmp, _Fresh(Path(tmp)):
        data_dir = Path(tmp)
        docs = asyncio.run(_prepare(data_dir, spec["docs"]))
        server = Servers(data_dir)
        try:
            config = {
                **spec,
                "docs": docs,
                "url": server.urls[0],
                "urls": server.urls,
                "cookie": server.cookie(),
                "origin": server.base,
            }
            if duration_ms is not None:
                config["durationMs"] = duration_ms
            if cursors_ms:
                config["moveEveryMs"] = cursors_ms
            result = run_load(config, workers or spec.get("workers", 1), server, observe)
            result["peak_rss_mb"] = server.peak_rss_kb / 1024
            return result
        finally:
            server.stop()


def open_scenario(count: int = 100_000) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp, _Fresh(Path(tmp)):
        data_dir = Path(tmp)
        (doc,) = asyncio.run(_prepare(data_dir, 1))
        asyncio.run(_fill_log(data_dir, doc, count))
        server = Server(data_dir)
        try:
            config = {
                "url": f"ws://127.0.0.1:{server.port}/realtime",
                "room": doc,
                "cookie": server.cookie(),
                "origin": server.base,
            }
            cold = _node("open.mjs", config)  # log only: merges 100,000 updates
        finally:
            server.stop()
        # The room compacted when it unloaded... not yet (30 s); compact as unload would:
        from realtime.store import UpdateStore
        from workspace.db import Database

        async def compact() -> None:
            db = Database(_database_url(data_dir))
            await UpdateStore(db.engine).compact(doc)
            await db.dispose()

        asyncio.run(compact())
        server = Server(data_dir)
        try:
            config["cookie"] = server.cookie()
            config["url"] = f"ws://127.0.0.1:{server.port}/realtime"
            config["origin"] = server.base  # a new server, a new port: a new origin
            warm = _node("open.mjs", config)
        finally:
            server.stop()
        return {
            "updates": count,
            "open_log_ms": cold["openMs"],
            "open_snapshot_ms": warm["openMs"],
            "length": warm["length"],
        }


def idle_scenario(rooms: int = 300) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp, _Fresh(Path(tmp)):
        data_dir = Path(tmp)
        docs = asyncio.run(_prepare(data_dir, rooms))
        server = Server(data_dir)
        try:
            cookie = server.cookie()
            baseline = server.rss_kb()
            # One client per room that types once, then idles: every room is loaded and live.
            config = {
                "docs": docs,
                "clientsPerDoc": 1,
                "intervalMs": 10_000_000,
                "durationMs": 3000,
                "burst": 3,
                "cookie": cookie,
                "origin": server.base,
                "url": f"ws://127.0.0.1:{server.port}/realtime",
            }
            holder = Worker(config)
            try:
                holder.read()  # every room is loaded, each with one synced client
                holder.write({"go": True})
                time.sleep(1.0)
                loaded = server.rss_kb()
                holder.write({"totals": holder.read()["typed"]})
                holder.read()
            finally:
                holder.stop()
            return {"rooms": rooms, "kb_per_room": (loaded - baseline) / rooms}
        finally:
            server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scenario", default="all", choices=[*SCENARIOS, "open", "idle", "all"])
    parser.add_argument("--workers", type=int, help="Node processes for the load (default 1)")
    parser.add_argument(
        "--duration", type=int, help="typing time in ms (for quick runs; published: default)"
    )
    parser.add_argument(
        "--observe",
        action="store_true",
        help="also time delivery from a passive extra connection per room (observe.mjs)",
    )
    parser.add_argument(
        "--cursors",
        type=int,
        metavar="MS",
        help="clients also show their caret, as our editor does, and move it to another place"
        " every MS ms on average (default: no presence beyond joining)",
    )
    parser.add_argument(
        "--database-url",
        help="a PostgreSQL server's URL (a database the bench may create others next to);"
        " default: SQLite",
    )
    parser.add_argument("--servers", type=int, default=1, help="Kring workers (default 1)")
    parser.add_argument("--redis-url", help="Redis for several workers' fan-out")
    args = parser.parse_args()
    if args.servers < 1:
        parser.error("--servers takes a positive number")
    if args.servers > 1 and not (args.database_url and args.redis_url):
        parser.error("several --servers need --database-url (PostgreSQL) and --redis-url")
    from workspace.config import normalise_database_url

    DATABASE.update(
        admin=normalise_database_url(args.database_url) if args.database_url else None,
        servers=args.servers,
        redis=args.redis_url,
    )
    if args.cursors is not None and args.cursors <= 0:
        parser.error("--cursors takes a positive number of milliseconds")
    if not (HERE / "node_modules" / "y-websocket").exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--prefix", str(HERE)], check=True)
    names = [*SCENARIOS, "open", "idle"] if args.scenario == "all" else [args.scenario]
    print(f"machine: {os.cpu_count()} cores, {sys.platform}; load generator on the same machine")
    print(
        f"storage: {'PostgreSQL' if args.database_url else 'SQLite'}; "
        f"{args.servers} Kring worker(s){' over Redis' if args.servers > 1 else ''}"
    )
    for name in names:
        if name in SCENARIOS:
            r = load_scenario(name, args.workers, args.duration, args.observe, args.cursors)
            print(
                f"| {name} | {r['clients']} clients / {r['docs']} docs | p50 {r['p50']:.1f} ms | "
                f"p95 {r['p95']:.1f} ms | p99 {r['p99']:.1f} ms | max {r['max']:.0f} ms | "
                f"lost {r['lost']} | converged {r['converged']} | server CPU {r['cpu']:.0%} "
                f"of a core | generator CPU {r['generator_cpu']:.0%} of a core (loop delay p99 "
                f"{r['loop_delay_p99_ms']:.0f} ms) | peak RSS {r['peak_rss_mb']:.0f} MB | "
                f"{r['samples']} samples, {r['tokens']} tokens, {r['duplicated']} duplicated, "
                f"converged after {r['wait_ms'] / 1000:.1f} s | presence "
                f"{r['presence_per_s']:.1f} messages per client per second |",
                flush=True,
            )
            if DATABASE["servers"] > 1:
                for label in ("crossing", "staying"):
                    d = r[label]
                    if d["p50"] is None:
                        continue
                    print(
                        f"|   {label} workers | p50 {d['p50']:.1f} ms | p95 {d['p95']:.1f} ms | "
                        f"p99 {d['p99']:.1f} ms | max {d['max']:.0f} ms |",
                        flush=True,
                    )
            if r["delivered"]:
                d = r["delivered"]
                print(
                    f"|   delivered (passive observer) | p50 {d['p50']:.1f} ms | "
                    f"p95 {d['p95']:.1f} ms | p99 {d['p99']:.1f} ms | max {d['max']:.0f} ms |",
                    flush=True,
                )
        elif name == "open":
            r = open_scenario()
            print(
                f"| open | {r['updates']} updates in the log | from log {r['open_log_ms']:.0f} ms"
                f" | from snapshot {r['open_snapshot_ms']:.0f} ms | {r['length']} chars |",
                flush=True,
            )
        else:
            r = idle_scenario()
            print(
                f"| idle | {r['rooms']} rooms | {r['kb_per_room']:.0f} KB per loaded room |",
                flush=True,
            )


if __name__ == "__main__":
    main()
