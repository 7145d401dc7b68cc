"""One writer process for the log race test: ``python -m tests.realtime.log_writer URL DOCUMENT
NAME COUNT``. Appends COUNT words to DOCUMENT through its own stores (several connections at
once, as a worker's rooms do) and compacts the document after every few appends."""

from __future__ import annotations

import asyncio
import sys

from pycrdt import Doc, Text

from realtime.store import Pending, UpdateStore
from workspace.db import create_engine

WRITERS = 3
COMPACT_EVERY = 4


async def _write(url: str, document: str, name: str, count: int) -> None:
    engines = [create_engine(url) for _ in range(WRITERS)]
    stores = [UpdateStore(engine) for engine in engines]

    async def writer(index: int) -> None:
        store = stores[index]
        doc: Doc = Doc()
        text = doc.get("text", type=Text)
        for i in range(index, count, WRITERS):
            before = doc.get_state()
            text += f" {name}-{i}"
            await store.append(document, [Pending(doc.get_update(before), name)])
            if i % COMPACT_EVERY == 0:
                await store.compact(document)

    try:
        await asyncio.gather(*(writer(i) for i in range(WRITERS)))
    finally:
        for store in stores:
            store.close()
        for engine in engines:
            await engine.dispose()


if __name__ == "__main__":
    url, document, name, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    asyncio.run(_write(url, document, name, count))
