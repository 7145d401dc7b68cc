"""The update check against stock Yjs itself (issue 14): a seeded mutation fuzzer over
recorded real updates; whatever the server's check lets through, stock Yjs must take.

A longer run: ``KRING_FUZZ_MUTANTS=50000 KRING_FUZZ_SEEDS=1,2,3,4,5 scripts/test
tests/interop/test_fuzz.py``."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from realtime import protocol
from tests.interop.conftest import HERE
from tests.realtime.test_poison import POISON, accepted_mutants

SEEDS = [int(s) for s in os.environ.get("KRING_FUZZ_SEEDS", "1,2").split(",")]
MUTANTS = int(os.environ.get("KRING_FUZZ_MUTANTS", "2000"))


def _stock_yjs(base: list[bytes], updates: list[bytes]) -> dict:
    done = subprocess.run(
        ["node", str(HERE / "apply_updates.mjs")],
        input=json.dumps({"base": [b.hex() for b in base], "updates": [u.hex() for u in updates]}),
        capture_output=True,
        text=True,
        check=True,
        cwd=HERE,
        timeout=300,
    )
    return json.loads(done.stdout)


def test_stock_yjs_throws_on_the_poison(node_clients):
    result = _stock_yjs([], [POISON])
    assert len(result["failures"]) == 1
    with pytest.raises(protocol.ProtocolError):
        protocol.parse(protocol.sync_update(POISON))


@pytest.mark.parametrize("seed", SEEDS)
def test_every_update_the_check_accepts_is_one_stock_yjs_takes(node_clients, seed):
    base, taken = accepted_mutants(seed, MUTANTS)
    assert len(taken) > MUTANTS // 20
    result = _stock_yjs(base, taken)
    assert result["checked"] == len(taken)
    assert result["failures"] == []
