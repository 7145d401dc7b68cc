"""Kring installs as a wheel and runs from it (issue 16): templates, static files,
migrations, translations and fonts are package data, not files of this checkout."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from workspace.config import ROOT


def test_the_wheel_holds_what_kring_runs_with_and_runs_outside_the_tree(tmp_path: Path) -> None:
    # Built from a copy: setuptools leaves a build/ folder in whatever it builds.
    source = tmp_path / "source"
    shutil.copytree(
        ROOT,
        source,
        ignore=shutil.ignore_patterns(
            ".git", ".venv", "node_modules", "build", "dist", "*.egg-info", "test-artifacts",
            "__pycache__", ".*_cache",
        ),
    )
    dist = tmp_path / "dist"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "-q",
            "-w",
            str(dist),
            str(source),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = dist.glob("kring-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for needed in (
        "workspace/templates/base.html",
        "workspace/templates/plan/export.md",
        "workspace/static/editor.js",
        "workspace/static/vendor/htmx.min.js",
        "workspace/migrations/env.py",
        "workspace/locale/en/LC_MESSAGES/messages.po",
    ):
        assert needed in names, needed
    assert any(n.startswith("workspace/migrations/versions/0001") for n in names)
    assert not any("node_modules" in n for n in names)
    # Installed on its own, it runs: the demo migrates, builds and renders from the wheel.
    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "-q",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    env = {**os.environ, "PYTHONPATH": str(target), "KRING_DATA_DIR": str(outside / "data")}
    env.pop("KRING_DATABASE_URL", None)
    where = subprocess.run(
        [sys.executable, "-c", "import workspace; print(workspace.__file__)"],
        cwd=outside,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert where.stdout.startswith(str(target)), where.stdout
    demo = subprocess.run(
        [sys.executable, "-m", "workspace.cli", "demo", "--no-serve"],
        cwd=outside,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert demo.returncode == 0, demo.stderr[-2000:]
    assert "fatima@demo.kring.nl" in demo.stdout
