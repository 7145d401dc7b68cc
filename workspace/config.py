"""Settings from the environment (``KRING_*``), read once into one frozen object."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

#: The repository root: templates/, static/ and migrations/ live beside the packages.
ROOT = Path(__file__).resolve().parent.parent
#: Where the package's own files are (templates, static files, migrations, translations):
#: inside the package, so an installed wheel has them too.
PACKAGE = Path(__file__).resolve().parent


class ConfigError(Exception):
    """A setting is missing or malformed; the message says which and what was expected."""


def normalise_database_url(url: str) -> str:
    """Pick the async driver for a plain ``postgresql://`` or ``sqlite://`` URL."""
    if url.startswith(("postgres://", "postgresql://")):
        return "postgresql+asyncpg://" + url.split("://", 1)[1]
    if url.startswith("sqlite://") and not url.startswith("sqlite+"):
        return "sqlite+aiosqlite://" + url.split("://", 1)[1]
    return url


def _secret_key(data_dir: Path) -> str:
    """Return KRING_SECRET_KEY, or a key generated on first run and kept in the data dir."""
    from_env = os.environ.get("KRING_SECRET_KEY", "").strip()
    if from_env:
        if len(from_env) < 32:
            raise ConfigError("KRING_SECRET_KEY must be at least 32 characters long")
        return from_env
    path = data_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = secrets.token_urlsafe(48)
    # Create with 0600 from the start so the key is never readable by others.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key + "\n")
    return key


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    secret_key: str
    base_url: str = "http://127.0.0.1:8000"
    #: Extra origins allowed to open websockets (the base URL's origin always is).
    allowed_origins: tuple[str, ...] = ()
    session_idle_minutes: int = 120
    session_max_hours: int = 12
    member_session_days: int = 14
    #: A member's phone may be picked up by someone else: an unused session ends sooner. Their
    #: invitation link, bound to that device, lets them back in.
    member_session_idle_hours: int = 48
    invitation_days: int = 14
    login_max_failures: int = 5
    login_window_minutes: int = 15
    realtime_max_message_bytes: int = 256 * 1024
    redis_url: str | None = None
    #: Every Redis channel this installation uses starts with this (several installations,
    #: or a test's workers, may share one Redis).
    redis_prefix: str = "kring"
    #: Addresses of the proxies (a balancer) whose X-Forwarded-For is believed: behind one,
    #: every request comes from its address, and sign-in throttling by source address would
    #: lock everyone out together. Comma-separated; "*" trusts any (only on a private network).
    trusted_proxies: str = "127.0.0.1"
    #: PostgreSQL connections per worker (kept open, and extra ones opened under load), how
    #: long a request waits for one, and how long one statement may run: a stalled database
    #: gives a clear error in seconds instead of holding every request.
    db_pool_size: int = 10
    db_max_overflow: int = 20
    db_pool_timeout: float = 10.0
    db_statement_timeout_ms: int = 30_000
    demo: bool = False
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def secure_cookies(self) -> bool:
        return self.base_url.startswith("https://")

    def engine_options(self) -> dict[str, object]:
        """Pool and timeout options for the database engine (PostgreSQL; SQLite needs none)."""
        if not self.database_url.startswith("postgresql"):
            return {}
        return {
            "pool_size": self.db_pool_size,
            "max_overflow": self.db_max_overflow,
            "pool_timeout": self.db_pool_timeout,
            "connect_args": {
                "timeout": self.db_pool_timeout,  # connecting to a server that does not answer
                "server_settings": {"statement_timeout": str(self.db_statement_timeout_ms)},
            },
        }

    @property
    def origin(self) -> str:
        parts = urlsplit(self.base_url)
        return f"{parts.scheme}://{parts.netloc}"

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        env = os.environ
        data_dir = Path(str(overrides.pop("data_dir", None) or env.get("KRING_DATA_DIR", "data")))
        data_dir = data_dir.expanduser().resolve()
        default_db = f"sqlite+aiosqlite:///{data_dir / 'kring.sqlite3'}"
        url = normalise_database_url(env.get("KRING_DATABASE_URL", "").strip() or default_db)
        base_url = env.get("KRING_BASE_URL", "http://127.0.0.1:8000").rstrip("/")
        if not base_url.startswith(("http://", "https://")):
            raise ConfigError(
                f"KRING_BASE_URL must start with http:// or https://, got {base_url!r}"
            )
        origins = tuple(
            o.strip() for o in env.get("KRING_ALLOWED_ORIGINS", "").split(",") if o.strip()
        )
        redis_url = env.get("KRING_REDIS_URL", "").strip() or None
        if redis_url and not redis_url.startswith(("redis://", "rediss://", "unix://")):
            raise ConfigError(
                "KRING_REDIS_URL must start with redis://, rediss:// or unix://, "
                f"got {redis_url.split('@')[-1]!r}"
            )
        values: dict[str, object] = {
            "data_dir": data_dir,
            "database_url": url,
            "base_url": base_url,
            "allowed_origins": origins,
            "redis_url": redis_url,
        }
        if env.get("KRING_REDIS_PREFIX", "").strip():
            values["redis_prefix"] = env["KRING_REDIS_PREFIX"].strip()
        if env.get("KRING_TRUSTED_PROXIES", "").strip():
            values["trusted_proxies"] = env["KRING_TRUSTED_PROXIES"].strip()
        for name, key, kind in (
            ("KRING_REALTIME_MAX_MESSAGE_BYTES", "realtime_max_message_bytes", int),
            ("KRING_DB_POOL_SIZE", "db_pool_size", int),
            ("KRING_DB_MAX_OVERFLOW", "db_max_overflow", int),
            ("KRING_DB_POOL_TIMEOUT", "db_pool_timeout", float),
            ("KRING_DB_STATEMENT_TIMEOUT_MS", "db_statement_timeout_ms", int),
        ):
            raw = env.get(name, "").strip()
            if not raw:
                continue
            try:
                number = kind(raw)
            except ValueError:
                number = -1
            if number < 0:
                raise ConfigError(f"{name} must be a number of at least 0, got {raw!r}")
            values[key] = number
        values.update(overrides)
        if "secret_key" not in values:
            values["secret_key"] = _secret_key(data_dir)
        return cls(**values)  # type: ignore[arg-type]
