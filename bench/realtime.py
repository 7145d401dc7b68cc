"""Benchmark of the realtime server: real `kring serve` (durable SQLite, WAL, synchronous=FULL),
real stock Yjs clients (Node: yjs + y-websocket) on the same machine.

    .venv/bin/python -m bench.realtime [--scenario meeting|meetings|crowd|open|idle|all]

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
    "crowd": {"docs": 1, "clientsPerDoc": 200, "intervalMs": 400, "durationMs": 30_000, "burst": 3},
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _prepare(data_dir: Path, cases: int) -> list[str]:
    """A professional and ``cases`` cases she coordinates; returns their notes documents."""
    from workspace.access import Actor
    from workspace.auth.actions import hash_password
    from workspace.cases.actions import create_case
    from workspace.db import Database, upgrade
    from workspace.models import User, UserRole
    from workspace.notes import document_name

    url = f"sqlite+aiosqlite:///{data_dir / 'kring.sqlite3'}"
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

    db = Database(f"sqlite+aiosqlite:///{data_dir / 'kring.sqlite3'}")
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
    def __init__(self, data_dir: Path) -> None:
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "KRING_BASE_URL": self.base}
        env.pop("KRING_DATABASE_URL", None)
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
            stderr=subprocess.DEVNULL,
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


def _workers(config: dict[str, Any], workers: int) -> dict[str, Any]:
    """Run the load in ``workers`` Node processes (rooms split between them, all replicas of a
    room in one process) and combine their figures."""
    docs = config["docs"]
    if workers <= 1 or len(docs) < workers:
        return _node("load.mjs", config)
    share = [docs[i::workers] for i in range(workers)]
    configs = [{**config, "docs": d, "clientBase": i * 1_000_000} for i, d in enumerate(share)]
    results: list[dict[str, Any]] = [{}] * workers
    threads = [
        threading.Thread(target=lambda i=i: results.__setitem__(i, _node("load.mjs", configs[i])))
        for i in range(workers)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    total = sum(r["samples"] for r in results)
    combined = {
        k: sum(r[k] for r in results) for k in ("clients", "docs", "tokens", "samples", "lost")
    }
    combined["converged"] = all(r["converged"] for r in results)
    # Percentiles of the union are not exact from per-worker percentiles; weight by samples.
    for k in ("p50", "p95", "p99"):
        combined[k] = sum(r[k] * r["samples"] for r in results) / max(total, 1)
    combined["max"] = max(r["max"] for r in results)
    return combined


def load_scenario(name: str) -> dict[str, Any]:
    spec = SCENARIOS[name]
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        docs = asyncio.run(_prepare(data_dir, spec["docs"]))
        server = Server(data_dir)
        try:
            config = {
                **spec,
                "docs": docs,
                "url": f"ws://127.0.0.1:{server.port}/realtime",
                "cookie": server.cookie(),
                "origin": server.base,
            }
            cpu0, t0 = server.cpu_seconds(), time.monotonic()
            result = _workers(config, spec.get("workers", 1))
            result["cpu"] = (server.cpu_seconds() - cpu0) / (time.monotonic() - t0)
            result["peak_rss_mb"] = server.peak_rss_kb / 1024
            return result
        finally:
            server.stop()


def open_scenario(count: int = 100_000) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
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
            db = Database(f"sqlite+aiosqlite:///{data_dir / 'kring.sqlite3'}")
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
    with tempfile.TemporaryDirectory() as tmp:
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
            holder = threading.Thread(target=_node, args=("load.mjs", config))
            holder.start()
            time.sleep(2.5)
            loaded = server.rss_kb()
            holder.join()
            return {"rooms": rooms, "kb_per_room": (loaded - baseline) / rooms}
        finally:
            server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scenario", default="all", choices=[*SCENARIOS, "open", "idle", "all"])
    args = parser.parse_args()
    if not (HERE / "node_modules" / "y-websocket").exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--prefix", str(HERE)], check=True)
    names = [*SCENARIOS, "open", "idle"] if args.scenario == "all" else [args.scenario]
    print(f"machine: {os.cpu_count()} cores, {sys.platform}; load generator on the same machine")
    for name in names:
        if name in SCENARIOS:
            r = load_scenario(name)
            print(
                f"| {name} | {r['clients']} clients / {r['docs']} docs | p50 {r['p50']:.1f} ms | "
                f"p95 {r['p95']:.1f} ms | p99 {r['p99']:.1f} ms | max {r['max']:.0f} ms | "
                f"lost {r['lost']} | converged {r['converged']} | server CPU {r['cpu']:.0%} "
                f"of a core | peak RSS {r['peak_rss_mb']:.0f} MB | {r['samples']} samples |",
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
