"""`kring serve` as a real process: it stops promptly on SIGTERM while live screens are open,
its log holds no client addresses or document ids, and its files are private (issue 14, 16)."""

from __future__ import annotations

import os
import signal
import socket
import stat
import subprocess
import time
from pathlib import Path

import httpx
import pytest
import websockets.sync.client

from tests.test_cli import KRING, run


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def served(tmp_path: Path):
    assert run(["db", "upgrade"], tmp_path).returncode == 0
    added = run(
        ["user", "add", "--email", "fatima@example.org", "--name", "Fatima", "--password-stdin"],
        tmp_path,
        stdin="een lang wachtwoord\n",
    )
    assert added.returncode == 0, added.stderr
    case = run(
        ["case", "add", "--title", "Gezin Test", "--coordinator", "fatima@example.org"], tmp_path
    )
    assert case.returncode == 0, case.stderr
    port = _free_port()
    env = {**os.environ, "KRING_DATA_DIR": str(tmp_path), "KRING_LOG_FORMAT": "json"}
    env.pop("KRING_DATABASE_URL", None)
    log = (tmp_path / "serve.log").open("w+")
    proc = subprocess.Popen(
        [*KRING, "serve", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            httpx.get(base + "/healthz", timeout=1)
            break
        except httpx.HTTPError:
            time.sleep(0.1)
    yield base, proc, tmp_path, case.stdout.strip()
    if proc.poll() is None:
        proc.kill()
        proc.wait()
    log.close()


def test_sigterm_stops_the_server_with_live_screens_open(served):
    base, proc, data_dir, case_id = served
    client = httpx.Client(base_url=base, timeout=10)
    client.get("/login")
    from workspace.web import CSRF_COOKIE

    page = client.get("/login").text
    token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    assert CSRF_COOKIE in client.cookies
    signed_in = client.post(
        "/login",
        data={"email": "fatima@example.org", "password": "een lang wachtwoord", "csrf_token": token},
    )
    assert signed_in.status_code == 303, signed_in.text
    with client.stream("GET", f"/cases/{case_id}/live") as stream:
        assert stream.status_code == 200
        # Someone not signed in knocks on a document: uvicorn would log their address and path.
        with pytest.raises(websockets.exceptions.InvalidStatus):
            websockets.sync.client.connect(
                base.replace("http", "ws") + f"/realtime/case/{case_id}/notes",
                additional_headers={"Origin": base},
            )
        proc.send_signal(signal.SIGTERM)
        # It stops without waiting for the open stream; the wait here is a bound, not a figure.
        # (Uvicorn shuts down gracefully, then raises the signal again: exit status -15.)
        assert proc.wait(timeout=20) in (0, -signal.SIGTERM)
    log = (data_dir / "serve.log").read_text()
    assert "Finished server process" in log
    # Kring's own lines are JSON (KRING_LOG_FORMAT=json), one object per line.
    import json

    ours = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    assert any(e["logger"] == "kring.http" and e["message"].startswith("GET /login") for e in ours)
    assert "127.0.0.1:" not in log.replace(base, "")
    assert case_id not in log
    assert '"WebSocket ' not in log


def test_the_database_and_its_folder_are_private(served):
    _, _, data_dir, _ = served
    database = data_dir / "kring.sqlite3"
    assert stat.S_IMODE(database.stat().st_mode) == 0o600
    for extra in (data_dir / "kring.sqlite3-wal", data_dir / "kring.sqlite3-shm"):
        if extra.exists():
            assert stat.S_IMODE(extra.stat().st_mode) & 0o077 == 0
