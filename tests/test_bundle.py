"""The committed editor bundle is exactly what its sources build."""

from __future__ import annotations

import subprocess

from tests.conftest import npm_installed
from workspace.config import PACKAGE


def test_editor_bundle_matches_its_sources() -> None:
    static = PACKAGE / "static"
    npm_installed(static, "esbuild")
    result = subprocess.run(
        ["npm", "--prefix", str(static), "run", "check"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
