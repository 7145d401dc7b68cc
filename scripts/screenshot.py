"""Take the README's screenshot: run the demo, sign in as the coordinator, capture the case.

Usage: .venv/bin/python scripts/screenshot.py [docs/screenshot.png]
Needs Debian's chromium and the `playwright` Python package (driver only; no browser download).
"""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main(out: Path) -> None:
    port = free_port()
    data = Path(tempfile.mkdtemp()) / "demo"
    server = subprocess.Popen(
        [str(ROOT / ".venv/bin/kring"), "demo", "--data-dir", str(data), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.2)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1100, "height": 1000})
            page.goto(f"{base}/login")
            page.fill("#f-email", "fatima@demo.kring.nl")
            page.fill("#f-password", "kring-demo-wachtwoord")
            page.click("button.primary")
            page.click("text=Familie Bakker")
            page.wait_for_selector("#people")
            assert re.search(r"/cases/[0-9a-f-]{36}$", page.url)
            page.screenshot(path=str(out), full_page=False)
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else ROOT / "docs" / "screenshot.png"))
