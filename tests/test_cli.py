"""The `kring` command, run as a real process: scriptable, clear errors, non-zero exits."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

KRING = [sys.executable, "-m", "workspace.cli"]


def run(args: list[str], data_dir: Path, stdin: str = "", env: dict[str, str] | None = None):
    full_env = {**os.environ, "KRING_DATA_DIR": str(data_dir), **(env or {})}
    full_env.pop("KRING_DATABASE_URL", None)
    return subprocess.run(
        [*KRING, *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=full_env,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli")
    result = run(["db", "upgrade"], path)
    assert result.returncode == 0, result.stderr
    return path


def test_db_upgrade_keeps_a_secret_key_private(data_dir: Path) -> None:
    key = data_dir / "secret_key"
    assert key.exists()
    assert key.stat().st_mode & 0o077 == 0
    assert run(["db", "upgrade"], data_dir).returncode == 0  # idempotent


def test_org_user_and_case_add(data_dir: Path) -> None:
    org = run(["org", "add", "--name", "Lokaal team Noord", "--kind", "lokaal team"], data_dir)
    assert org.returncode == 0, org.stderr
    user = run(
        [
            "user",
            "add",
            "--email",
            "Anna@Example.org",
            "--name",
            "Anna",
            "--organisation",
            "Lokaal team Noord",
            "--password-stdin",
        ],
        data_dir,
        stdin="een lang wachtwoord\n",
    )
    assert user.returncode == 0, user.stderr
    case = run(
        ["case", "add", "--title", "Gezin Noord", "--coordinator", "anna@example.org"], data_dir
    )
    assert case.returncode == 0, case.stderr
    assert len(case.stdout.strip()) == 36  # the new case's id


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (
            ["user", "add", "--email", "not-an-email", "--name", "X", "--password-stdin"],
            "lang genoeg wachtwoord\n",
            "--email",
        ),
        (
            ["user", "add", "--email", "b@example.org", "--name", "B", "--password-stdin"],
            "kort\n",
            "at least 10",
        ),
        (
            [
                "user",
                "add",
                "--email",
                "c@example.org",
                "--name",
                "C",
                "--role",
                "king",
                "--password-stdin",
            ],
            "lang genoeg wachtwoord\n",
            "--role",
        ),
        (
            [
                "user",
                "add",
                "--email",
                "d@example.org",
                "--name",
                "D",
                "--organisation",
                "Nope",
                "--password-stdin",
            ],
            "lang genoeg wachtwoord\n",
            "no organisation",
        ),
        (["user", "add", "--email", "e@example.org", "--name", "E"], "", "password"),
        (["case", "add", "--title", "X", "--coordinator", "nobody@example.org"], "", "no user"),
        (["org", "add", "--name", "  "], "", "--name"),
    ],
)
def test_bad_input_fails_with_a_clear_message(data_dir: Path, args, stdin, message) -> None:
    result = run(args, data_dir, stdin=stdin)
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_duplicate_user_is_refused(data_dir: Path) -> None:
    args = ["user", "add", "--email", "dup@example.org", "--name", "Dup", "--password-stdin"]
    assert run(args, data_dir, stdin="lang genoeg wachtwoord\n").returncode == 0
    again = run(args, data_dir, stdin="lang genoeg wachtwoord\n")
    assert again.returncode == 1 and "already exists" in again.stderr


def test_demo_creates_the_bakker_family(tmp_path: Path) -> None:
    demo_dir = tmp_path / "demo"
    result = run(["demo", "--data-dir", str(demo_dir), "--no-serve"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert "fatima@demo.kring.nl" in result.stdout
    assert "/uitnodiging/" in result.stdout
    # Fresh every time: a second run starts over instead of failing on duplicates.
    assert run(["demo", "--data-dir", str(demo_dir), "--no-serve"], tmp_path).returncode == 0


def test_demo_refuses_a_data_dir_with_real_data(data_dir: Path, tmp_path: Path) -> None:
    result = run(["demo", "--data-dir", str(data_dir), "--no-serve"], tmp_path)
    assert result.returncode == 1
    assert "not a demo" in result.stderr


def test_demo_uses_kring_data_dir_like_every_other_command(tmp_path: Path) -> None:
    demo_dir = tmp_path / "from-env"
    result = run(["demo", "--no-serve"], demo_dir)
    assert result.returncode == 0, result.stderr
    assert (demo_dir / "kring.sqlite3").exists()
    assert (demo_dir.stat().st_mode & 0o077) == 0


def test_backup_and_restore_round_trip(data_dir: Path, tmp_path: Path) -> None:
    import sqlite3

    backup = tmp_path / "backup"
    result = run(["backup", str(backup)], data_dir)
    assert result.returncode == 0, result.stderr
    assert (backup / "secret_key").read_text() == (data_dir / "secret_key").read_text()
    assert (backup / "kring.sqlite3").stat().st_mode & 0o077 == 0
    # Restore into a fresh folder: the same users, and the commands work on it.
    restored = tmp_path / "restored"
    restored.mkdir()
    for name in ("kring.sqlite3", "secret_key"):
        (restored / name).write_bytes((backup / name).read_bytes())
    with sqlite3.connect(data_dir / "kring.sqlite3") as a, sqlite3.connect(
        restored / "kring.sqlite3"
    ) as b:
        count = "SELECT count(*) FROM users"
        assert a.execute(count).fetchone() == b.execute(count).fetchone()
    assert run(["db", "upgrade"], restored).returncode == 0
    # A second backup into the same folder is refused, with a clear message.
    again = run(["backup", str(backup)], data_dir)
    assert again.returncode == 1 and "not empty" in again.stderr
