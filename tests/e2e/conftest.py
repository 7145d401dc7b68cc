"""Browser tests: Debian's Chromium driven by Playwright against a real `kring demo` server.

Skipped with a clear reason when Chromium or Playwright is missing (`.ci/run` installs both)."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("KRING_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
DEMO_PASSWORD = "kring-demo-wachtwoord"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class DemoServer:
    base_url: str
    invitations: dict[str, str] = field(default_factory=dict)
    #: The join code of the demo's open meeting.
    meeting_code: str = ""
    #: The port the server itself listens on.
    port: int = 0


@contextlib.contextmanager
def run_demo(
    data_dir: Path, *, base_url: str | None = None, allowed_origins: tuple[str, ...] = ()
) -> Iterator[DemoServer]:
    """``kring demo`` in its own process on a free port. ``base_url`` is where browsers reach
    it (a proxy in front, say); ``allowed_origins`` are other addresses browsers may use."""
    port = _free_port()
    own = f"http://127.0.0.1:{port}"
    env = {**os.environ, "KRING_BASE_URL": base_url or own}
    if base_url:
        # Reached through a proxy: browsers may still talk to the server itself as well.
        allowed_origins = (*allowed_origins, own)
    if allowed_origins:
        env["KRING_ALLOWED_ORIGINS"] = ",".join(allowed_origins)
    env.pop("KRING_DATABASE_URL", None)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "workspace.cli",
            "demo",
            "--data-dir",
            str(data_dir),
            "--port",
            str(port),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    server = DemoServer(f"http://127.0.0.1:{port}")
    server.port = port
    assert proc.stdout is not None
    deadline = time.monotonic() + 60
    for line in proc.stdout:
        found = re.match(r"\s+(.+?)\s+(http://\S+/uitnodiging/\S+)$", line)
        if found:
            server.invitations[found.group(1).strip()] = found.group(2)
        code = re.search(r"with code ([A-Z0-9]{6})\b", line)
        if code:
            server.meeting_code = code.group(1)
        if "Uvicorn running" in line or "Application startup complete" in line:
            break
        if time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError("kring demo did not start within 60 s")
    # Keep reading the server's output, or a full pipe would block it mid-test.
    log_lines: list[str] = []
    reader = threading.Thread(target=lambda: log_lines.extend(proc.stdout or ()), daemon=True)
    reader.start()
    try:
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        reader.join(timeout=5)
        proc.stdout.close()


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoServer]:
    """A fresh demo per test module, served by the real command in its own process."""
    with run_demo(tmp_path_factory.mktemp("e2e") / "demo") as server:
        yield server


@pytest.fixture(scope="module")
def chromium() -> Iterator[object]:
    """Per module, not per session: Playwright's sync API runs its own event loop in this
    thread while it is open, and the async tests that follow need the thread's loop back."""
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        pytest.skip(f"browser tests need Chromium at {CHROMIUM} (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("browser tests need the playwright package (pip install '.[test]')")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


PHONE = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
}


@pytest.fixture
def new_context(chromium):  # type: ignore[no-untyped-def]
    """Each call is one person's browser (own cookies); closed after the test."""
    contexts = []

    def make(**options):  # type: ignore[no-untyped-def]
        context = chromium.new_context(locale="nl-NL", **options)
        # Generous: CI machines share two cores between the server, Chromium and the tests.
        context.set_default_timeout(20_000)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()


def sign_in(page, base_url: str, email: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{base_url}/login")
    page.get_by_label("E-mailadres").fill(email)
    page.get_by_label("Wachtwoord").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Inloggen").click()
    page.wait_for_url(f"{base_url}/cases")


def screenshot(page, name: str) -> Path:  # type: ignore[no-untyped-def]
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
