"""The committed editor bundle is exactly what its sources build."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from workspace.config import ROOT


def test_editor_bundle_matches_its_sources() -> None:
    if shutil.which("npm") is None:
        pytest.skip("needs Node.js and npm")
    static = ROOT / "static"
    if not (static / "node_modules" / "esbuild").exists():
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund", "--prefix", str(static)],
            check=True,
            capture_output=True,
            timeout=300,
        )
    result = subprocess.run(
        ["npm", "--prefix", str(static), "run", "check"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
