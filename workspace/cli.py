"""The ``kring`` command. Every sub-command is scriptable: English messages, non-zero exit
codes on failure, passwords from stdin rather than the process list."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import select

from workspace.config import ConfigError, Settings

log = logging.getLogger("kring")
DEMO_MARKER = "KRING_DEMO_DATA_DIR"


class CliError(Exception):
    """A failure to report in one line and exit 1."""


def _settings(args: argparse.Namespace, **overrides: object) -> Settings:
    if getattr(args, "data_dir", None):
        overrides["data_dir"] = args.data_dir
    settings = Settings.from_env(**overrides)
    if settings.database_url.startswith("sqlite"):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    return settings


async def _upgrade(settings: Settings) -> None:
    from workspace.db import upgrade

    await upgrade(settings.database_url)


def cmd_db_upgrade(args: argparse.Namespace) -> None:
    settings = _settings(args)
    asyncio.run(_upgrade(settings))
    print("database is up to date")


class _JsonLines(logging.Formatter):
    """One JSON object per line (KRING_LOG_FORMAT=json), for a log collector."""

    def format(self, record: logging.LogRecord) -> str:
        import json

        entry = {
            "at": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


class _NoAddressesOrDocuments(logging.Filter):
    """Uvicorn logs every websocket with the client's address and the raw path (a document
    name holds case and section ids): "('10.0.0.7', 51234) - "WebSocket /realtime/..." [accepted]",
    then "connection open" / "connection closed". Our realtime server logs what matters,
    without either; these lines are dropped."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not (
            '"WebSocket ' in message or message in ("connection open", "connection closed")
        )


def _serve(settings: Settings, host: str, port: int) -> None:
    import uvicorn

    from workspace.app import create_app

    level = os.environ.get("KRING_LOG_LEVEL", "INFO").upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise CliError(f"KRING_LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, not {level!r}")
    handler = logging.StreamHandler()
    if os.environ.get("KRING_LOG_FORMAT", "text") == "json":
        handler.setFormatter(_JsonLines())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=level, handlers=[handler])
    app = create_app(settings)

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: Any) -> None:
            # Uvicorn waits for open responses before it stops, and a live screen's event
            # stream never ends by itself: end them all first (on the loop's own thread; this
            # runs in a signal handler), so SIGTERM stops the server in moments.
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(app.state.events.close)
            super().handle_exit(sig, frame)

        async def serve(self, sockets: Any = None) -> None:
            self._loop = asyncio.get_running_loop()
            await super().serve(sockets)

    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        # Our own access log names routes, not raw paths: invitation links carry a token.
        access_log=False,
        # Compressing every websocket message per connection costs more CPU than it saves.
        ws_per_message_deflate=False,
        ws_max_size=settings.realtime_max_message_bytes,
        # Client addresses (sign-in throttling, the audit log) come from X-Forwarded-For only
        # when the connection is from a trusted proxy (KRING_TRUSTED_PROXIES): behind a
        # balancer, trust it, or every sign-in seems to come from the balancer.
        proxy_headers=True,
        forwarded_allow_ips=settings.trusted_proxies,
        log_level="info",
        # A backstop: whatever still runs this long after SIGTERM is cancelled.
        timeout_graceful_shutdown=10,
    )
    # After the config: it sets up uvicorn's loggers.
    logging.getLogger("uvicorn.error").addFilter(_NoAddressesOrDocuments())
    Server(config).run()


def cmd_backup(args: argparse.Namespace) -> None:
    """An online copy of the SQLite database (consistent while Kring runs: SQLite's backup
    API) and the secret key, into a new folder that only its owner can read. Restore: stop
    Kring, copy both files back into the data folder, start Kring."""
    import sqlite3

    settings = _settings(args)
    if not settings.database_url.startswith("sqlite"):
        raise CliError(
            "kring backup copies the embedded SQLite database; for PostgreSQL use pg_dump"
        )
    source = Path(settings.database_url.split("///", 1)[1])
    if not source.exists():
        raise CliError(f"no database at {source}; nothing to back up")
    target = Path(args.path).expanduser().resolve()
    if target.exists() and any(target.iterdir()):
        raise CliError(f"{target} is not empty; choose a new folder")
    target.mkdir(parents=True, exist_ok=True, mode=0o700)
    copy = target / source.name
    os.close(os.open(copy, os.O_WRONLY | os.O_CREAT, 0o600))
    with sqlite3.connect(source) as src, sqlite3.connect(copy) as dst:
        src.backup(dst)
    key = settings.data_dir / "secret_key"
    if key.exists():
        fd = os.open(target / "secret_key", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(key.read_text())
    print(f"backed up to {target}")


def cmd_serve(args: argparse.Namespace) -> None:
    settings = _settings(args)
    # Several workers may each migrate on start (an advisory lock lets one at a time through);
    # an operator who runs `kring db upgrade` as a release step passes --no-migrate.
    if not args.no_migrate:
        asyncio.run(_upgrade(settings))
    print(
        f"Kring runs at {settings.base_url if args.port == 8000 else f'http://{args.host}:{args.port}'}"
    )
    _serve(settings, args.host, args.port)


async def _refuse_unless_empty(settings: Settings) -> None:
    """The demo goes into an empty database only: it must never mix with real cases."""
    from sqlalchemy import inspect

    from workspace.db import Database

    db = Database(settings.database_url, **settings.engine_options())
    try:
        async with db.engine.connect() as conn:
            tables = await conn.run_sync(lambda sync: inspect(sync).get_table_names())
    except Exception as exc:
        raise CliError(f"cannot reach the database for the demo: {type(exc).__name__}") from exc
    finally:
        await db.dispose()
    if tables:
        raise CliError(
            "the database for the demo is not empty; give a new, empty database "
            "(the demo never mixes with real cases)"
        )


def cmd_demo(args: argparse.Namespace) -> None:
    import os

    # --data-dir, else KRING_DATA_DIR (as every other command), else ./kring-demo.
    data_dir = Path(args.data_dir or os.environ.get("KRING_DATA_DIR") or "kring-demo")
    data_dir = data_dir.expanduser().resolve()
    if data_dir.exists() and any(data_dir.iterdir()):
        if not (data_dir / DEMO_MARKER).exists():
            raise CliError(f"{data_dir} holds data that is not a demo; choose another --data-dir")
        shutil.rmtree(data_dir)  # fresh every time: the demo is always the same story
    data_dir.mkdir(parents=True, mode=0o700)
    (data_dir / DEMO_MARKER).write_text("created by `kring demo`; removed by the next demo run\n")
    base_url = f"http://{'127.0.0.1' if args.host in ('0.0.0.0', '::') else args.host}:{args.port}"  # noqa: S104

    os.environ.setdefault("KRING_BASE_URL", base_url)
    settings = Settings.from_env(
        data_dir=data_dir,
        database_url=args.database_url or f"sqlite+aiosqlite:///{data_dir / 'kring.sqlite3'}",
        demo=True,
    )

    async def build() -> object:
        from workspace.demo import build_demo

        if args.database_url:
            await _refuse_unless_empty(settings)
        await _upgrade(settings)
        return await build_demo(settings)

    from workspace.demo import DEMO_PASSWORD, DemoResult

    result = asyncio.run(build())
    assert isinstance(result, DemoResult)
    print(f"\nKring demo: the Bakker family (fictional), data in {data_dir}\n")
    print(f"Open {settings.base_url}/login and sign in with password {DEMO_PASSWORD!r} as:")
    for email, name, title in result.accounts:
        print(f"  {email:<26} {name} ({title})")
    print("\nPersonal invitation links for family members (each works on one device):")
    for name, url in result.invitations:
        print(f"  {name:<14} {url}")
    print(
        f"\nA meeting is open right now: family members join it at {settings.base_url}/meedoen "
        f"with code {result.meeting_code} (the coordinator lets them in)."
    )
    print()
    if not args.no_serve:
        _serve(settings, args.host, args.port)


def cmd_org_add(args: argparse.Namespace) -> None:
    from workspace.db import Database
    from workspace.models import Organisation

    settings = _settings(args)

    async def run() -> str:
        db = Database(settings.database_url, **settings.engine_options())
        try:
            async with db.begin() as session:
                if await session.scalar(select(Organisation).where(Organisation.name == args.name)):
                    raise CliError(f"an organisation named {args.name!r} already exists")
                org = Organisation(name=args.name.strip(), kind=args.kind.strip())
                session.add(org)
                await session.flush()
                return str(org.id)
        finally:
            await db.dispose()

    if not args.name.strip():
        raise CliError("--name must not be empty")
    print(asyncio.run(run()))


def cmd_user_add(args: argparse.Namespace) -> None:
    from workspace.auth.actions import hash_password, normalise_email
    from workspace.db import Database
    from workspace.errors import ValidationError
    from workspace.models import Organisation, User, UserRole

    settings = _settings(args)
    email = normalise_email(args.email)
    if "@" not in email or email.startswith("@") or email.endswith("@"):
        raise CliError(f"--email must be an email address, got {args.email!r}")
    if args.role not in [r.value for r in UserRole]:
        raise CliError(
            f"--role must be one of {', '.join(r.value for r in UserRole)}, got {args.role!r}"
        )
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    elif args.password is not None:
        password = args.password
    else:
        raise CliError("give the password with --password-stdin (preferred) or --password")
    try:
        password_hash = hash_password(password)
    except ValidationError:
        raise CliError("the password must be at least 10 characters long") from None

    async def run() -> str:
        db = Database(settings.database_url, **settings.engine_options())
        try:
            async with db.begin() as session:
                org_id = None
                if args.organisation:
                    org = await session.scalar(
                        select(Organisation).where(Organisation.name == args.organisation)
                    )
                    if org is None:
                        raise CliError(
                            f"no organisation named {args.organisation!r}; add it with `kring org add`"
                        )
                    org_id = org.id
                if await session.scalar(select(User).where(User.email == email)):
                    raise CliError(f"a user with email {email!r} already exists")
                user = User(
                    email=email,
                    name=args.name.strip(),
                    role=args.role,
                    organisation_id=org_id,
                    job_title=args.job_title.strip(),
                    password_hash=password_hash,
                )
                session.add(user)
                await session.flush()
                return str(user.id)
        finally:
            await db.dispose()

    if not args.name.strip():
        raise CliError("--name must not be empty")
    print(asyncio.run(run()))


def cmd_case_add(args: argparse.Namespace) -> None:
    import uuid

    from workspace.access import Actor
    from workspace.cases.actions import create_case
    from workspace.db import Database
    from workspace.errors import Forbidden, ValidationError
    from workspace.models import User

    settings = _settings(args)

    async def run() -> str:
        db = Database(settings.database_url, **settings.engine_options())
        try:
            async with db.begin() as session:
                user = await session.scalar(
                    select(User).where(User.email == args.coordinator.strip().lower())
                )
                if user is None:
                    raise CliError(f"no user with email {args.coordinator!r}")
                actor = Actor(session_id=uuid.uuid4(), user=user, member=None, source="cli")
                try:
                    case = await create_case(session, actor, args.title)
                except Forbidden:
                    raise CliError("the coordinator must be a professional user") from None
                except ValidationError:
                    raise CliError("--title must be 1 to 200 characters") from None
                return str(case.id)
        finally:
            await db.dispose()

    print(asyncio.run(run()))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kring", description="Kring: one family plan, written together."
    )
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--data-dir", help="where the SQLite database and secret key live (KRING_DATA_DIR)"
    )
    sub = parser.add_subparsers(dest="command", required=True)

    def serve_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--host", default="127.0.0.1")
        p.add_argument("--port", type=int, default=8000)

    p = sub.add_parser("serve", parents=[common], help="migrate the database, then serve")
    serve_options(p)
    p.add_argument(
        "--no-migrate",
        action="store_true",
        help="do not migrate first (run `kring db upgrade` as a separate step)",
    )
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser(
        "demo", parents=[common], help="create the demo case in a fresh data dir and serve it"
    )
    serve_options(p)
    p.add_argument("--no-serve", action="store_true", help="only create the demo data")
    p.add_argument(
        "--database-url",
        help="an empty database to put the demo in (e.g. PostgreSQL) instead of SQLite",
    )
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser(
        "backup", parents=[common], help="copy the SQLite database and secret key to PATH"
    )
    p.add_argument("path", help="a new, empty folder")
    p.set_defaults(func=cmd_backup)

    db = sub.add_parser("db", help="database tasks").add_subparsers(
        dest="db_command", required=True
    )
    p = db.add_parser("upgrade", parents=[common], help="apply all migrations")
    p.set_defaults(func=cmd_db_upgrade)

    org = sub.add_parser("org", help="organisations").add_subparsers(
        dest="org_command", required=True
    )
    p = org.add_parser("add", parents=[common], help="add an organisation; prints its id")
    p.add_argument("--name", required=True)
    p.add_argument("--kind", default="", help="e.g. 'lokaal team', 'GGZ', 'school'")
    p.set_defaults(func=cmd_org_add)

    user = sub.add_parser("user", help="users").add_subparsers(dest="user_command", required=True)
    p = user.add_parser("add", parents=[common], help="add a user; prints its id")
    p.add_argument("--email", required=True)
    p.add_argument("--name", required=True)
    p.add_argument("--role", default="professional", help="professional, manager or admin")
    p.add_argument("--organisation", help="an organisation's name")
    p.add_argument("--job-title", default="", help="e.g. 'regionaal veiligheidsteam'")
    p.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    p.add_argument("--password", help="the password (visible in the process list: prefer stdin)")
    p.set_defaults(func=cmd_user_add)

    case = sub.add_parser("case", help="cases").add_subparsers(dest="case_command", required=True)
    p = case.add_parser(
        "add", parents=[common], help="add a case with a coordinator; prints its id"
    )
    p.add_argument("--title", required=True)
    p.add_argument("--coordinator", required=True, help="the coordinator's email")
    p.set_defaults(func=cmd_case_add)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except (CliError, ConfigError) as exc:
        print(f"kring: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except OSError as exc:
        print(f"kring: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
