"""The `kring` command, run as a real process: scriptable, clear errors, non-zero exits."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
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
    with (
        sqlite3.connect(data_dir / "kring.sqlite3") as a,
        sqlite3.connect(restored / "kring.sqlite3") as b,
    ):
        count = "SELECT count(*) FROM users"
        assert a.execute(count).fetchone() == b.execute(count).fetchone()
    assert run(["db", "upgrade"], restored).returncode == 0
    # A second backup into the same folder is refused, with a clear message.
    again = run(["backup", str(backup)], data_dir)
    assert again.returncode == 1 and "not empty" in again.stderr


@pytest.fixture
def empty_postgres() -> Iterator[str]:
    """A new, empty PostgreSQL database (dropped after), or a skip without one."""
    admin = os.environ.get("KRING_TEST_DATABASE_URL")
    if not admin:
        pytest.skip("PostgreSQL: set KRING_TEST_DATABASE_URL to run this")
    name = f"kring_cli_{uuid.uuid4().hex[:10]}"
    subprocess.run(["psql", admin, "-qc", f'CREATE DATABASE "{name}"'], check=True)
    try:
        yield admin.rsplit("/", 1)[0] + "/" + name
    finally:
        subprocess.run(
            ["psql", admin, "-qc", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'], check=True
        )


def test_demo_runs_on_postgresql_and_only_into_an_empty_database(
    tmp_path: Path, empty_postgres: str
) -> None:
    args = ["demo", "--data-dir", str(tmp_path / "demo"), "--no-serve"]
    result = run([*args, "--database-url", empty_postgres], tmp_path)
    assert result.returncode == 0, result.stderr
    assert "fatima@demo.kring.nl" in result.stdout
    counted = subprocess.run(
        ["psql", empty_postgres, "-tAc", "SELECT count(*) FROM cases"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert int(counted.stdout) >= 1
    # A second run would mix a new demo into the first one's data: refused, nothing touched.
    again = run([*args, "--database-url", empty_postgres], tmp_path)
    assert again.returncode == 1 and "not empty" in again.stderr
    assert "Traceback" not in again.stderr


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("KRING_DB_POOL_SIZE", "veel"),
        ("KRING_DB_POOL_TIMEOUT", "-1"),
        ("KRING_DB_STATEMENT_TIMEOUT_MS", "30s"),
        ("KRING_REDIS_URL", "127.0.0.1:6379"),
    ],
)
def test_a_bad_setting_fails_with_its_name(data_dir: Path, name: str, value: str) -> None:
    result = run(["db", "upgrade"], data_dir, env={name: value})
    assert result.returncode == 1
    assert name in result.stderr and "Traceback" not in result.stderr


def test_database_settings_reach_the_postgresql_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    from workspace.config import Settings

    for name, value in {
        "KRING_DATABASE_URL": "postgresql://kring@db.internal/kring",
        "KRING_DB_POOL_SIZE": "25",
        "KRING_DB_MAX_OVERFLOW": "5",
        "KRING_DB_POOL_TIMEOUT": "3.5",
        "KRING_DB_STATEMENT_TIMEOUT_MS": "8000",
        "KRING_SECRET_KEY": "s" * 40,
    }.items():
        monkeypatch.setenv(name, value)
    options = Settings.from_env().engine_options()
    assert options["pool_size"] == 25 and options["max_overflow"] == 5
    assert options["pool_timeout"] == 3.5
    assert options["connect_args"] == {
        "timeout": 3.5,
        "server_settings": {"statement_timeout": "8000"},
    }
