"""Two processes write one document and compact it often: the log loses nothing.

PostgreSQL hands out ids when a row is inserted, not when it commits. If a load read "the
snapshot, then rows with an id above its last one" while a lower id was still uncommitted, a
compaction wrote a snapshot past that row, and the row, committed a moment later, was never
read again (measured: 3 of 3 runs lost text). On SQLite one writer at a time makes this
impossible; the test runs on both."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest
from pycrdt import Doc, Text

from realtime.store import UpdateStore

ROOT = Path(__file__).resolve().parents[2]
WORDS = 400


async def _run_writer(url: str, document: str, name: str) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.realtime.log_writer",
        url,
        document,
        name,
        str(WORDS),
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await process.communicate()
    assert process.returncode == 0, err.decode()[-2000:]


@pytest.mark.parametrize("run", range(3))
async def test_two_processes_writing_and_compacting_lose_no_update(db, run):
    document = f"case/race-{run}/notes"
    await asyncio.gather(_run_writer(db.url, document, "a"), _run_writer(db.url, document, "b"))
    store = UpdateStore(db.engine)
    try:
        for _ in range(2):  # as loaded, then once more after a final compaction
            loaded = await store.load(document)
            doc: Doc = Doc()
            assert loaded.state is not None
            doc.apply_update(loaded.state)
            words = set(str(doc.get("text", type=Text)).split())
            missing = {f"{n}-{i}" for n in "ab" for i in range(WORDS)} - words
            assert not missing, f"{len(missing)} of {2 * WORDS} words lost"
            await store.compact(document)
    finally:
        store.close()
