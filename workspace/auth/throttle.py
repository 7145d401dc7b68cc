"""Slowing down guessing without locking anyone out.

Wrong passwords and wrong meeting codes are recorded (``LoginFailure``), and each kind is
counted apart. Past a threshold the next attempt must wait, and the wait doubles with every
further failure, up to the window (15 minutes): a delay, never a wall. Guesses from elsewhere
never slow down a browser that signed in to the account before (a "known device", proved by a
signed cookie), so nobody can lock a known person out of their own phone by guessing their
password from somewhere else. Per address the threshold is higher (a team behind one address)."""

from __future__ import annotations

import hashlib
import hmac
import math
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from workspace.config import Settings
from workspace.errors import Throttled
from workspace.models import LoginFailure, utcnow

LOGIN = "login"
JOIN = "join"
#: The first wait once past the threshold; then 2x, 4x... up to the window.
FIRST_WAIT = timedelta(seconds=30)
#: Per address, this many times the per-account threshold.
SOURCE_FACTOR = 4
#: At most this many accounts are remembered as known on one browser.
MAX_KNOWN = 5
KNOWN_COOKIE = "kring_known"


def wait_after(failures: int, threshold: int, window: timedelta) -> timedelta:
    """How long to wait after the newest of ``failures`` recent failures."""
    if failures < threshold:
        return timedelta(0)
    wait: timedelta = FIRST_WAIT * 2 ** (failures - threshold)
    return min(window, wait)


async def _recent(
    db: AsyncSession, since: datetime, *where: ColumnElement[bool]
) -> tuple[int, datetime | None]:
    row = (
        await db.execute(
            select(func.count(), func.max(LoginFailure.at)).where(LoginFailure.at > since, *where)
        )
    ).one()
    return int(row[0] or 0), row[1]


async def check(
    db: AsyncSession,
    settings: Settings,
    *,
    kind: str,
    source: str,
    email_hash: str | None = None,
    known_device: bool = False,
) -> None:
    """Raise ``Throttled`` if this attempt must wait; otherwise return."""
    window = timedelta(minutes=settings.login_window_minutes)
    now = utcnow()
    since = now - window
    limits: list[tuple[int, datetime | None, int]] = []
    if email_hash is not None:
        # A known device only counts its own failures; everywhere else counts everyone's
        # but a known device's.
        count, last = await _recent(
            db,
            since,
            LoginFailure.kind == kind,
            LoginFailure.email_hash == email_hash,
            LoginFailure.known_device.is_(known_device),
            *((LoginFailure.source == source,) if known_device else ()),
        )
        limits.append((count, last, settings.login_max_failures))
    if not known_device:
        count, last = await _recent(
            db,
            since,
            LoginFailure.kind == kind,
            LoginFailure.source == source,
            LoginFailure.known_device.is_(False),
        )
        limits.append((count, last, SOURCE_FACTOR * settings.login_max_failures))
    wait = timedelta(0)
    for count, last, threshold in limits:
        if last is not None:
            wait = max(wait, last + wait_after(count, threshold, window) - now)
    if wait > timedelta(0):
        raise Throttled(math.ceil(wait.total_seconds()))


def record(
    db: AsyncSession, *, kind: str, source: str, email_hash: str, known_device: bool = False
) -> None:
    db.add(LoginFailure(kind=kind, source=source, email_hash=email_hash, known_device=known_device))


# -- known devices: a signed cookie per account that signed in on this browser ----------------


def _mark(secret_key: str, email_hash: str) -> str:
    return hmac.new(
        secret_key.encode(), b"known-device:" + email_hash.encode(), hashlib.sha256
    ).hexdigest()[:32]


def is_known(secret_key: str, cookie: str, email_hash: str) -> bool:
    mark = _mark(secret_key, email_hash)
    return any(hmac.compare_digest(mark, part) for part in cookie.split("."))


def remember(secret_key: str, cookie: str, email_hash: str) -> str:
    """The cookie's new value: this account first, at most ``MAX_KNOWN``."""
    mark = _mark(secret_key, email_hash)
    parts = [p for p in cookie.split(".") if p and p != mark]
    return ".".join([mark, *parts][:MAX_KNOWN])
