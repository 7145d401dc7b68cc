"""When someone's access ends, it ends everywhere at once.

Logging out, revoking a participant or an invitation, a closed meeting (its guests) and a
deactivated account each end a grant. The domain function that ends it returns the grant's
keys ("session:<id>", "participant:<id>", "user:<id>"; see ``access.grant_keys``); the view,
after its commit, hands them to ``end_access``, which ends every event stream and closes every
realtime connection opened under any of them. The realtime server refuses whatever such a
connection sends from that moment on; its reconnect is refused at the upgrade."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

log = logging.getLogger("kring.grants")


async def end_access(app: Any, keys: Iterable[str]) -> None:
    """Call after the commit that ended the grant (never before: a reconnect in between would
    be let in again by the rows not yet committed)."""
    wanted = frozenset(keys)
    if not wanted:
        return
    streams = app.state.events.end(wanted)
    sockets = await app.state.realtime.revoke(wanted)
    log.info("access ended: %d event stream(s), %d realtime connection(s)", streams, sockets)
