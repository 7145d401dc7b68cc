"""The editor's side of Kring's message type 100 (static/src/protocol.js), run in Node with the
bundle's own yjs: "Opgeslagen" only when the server's stored state holds all we wrote."""

from __future__ import annotations

import json
import subprocess

from tests.conftest import npm_installed
from workspace.config import PACKAGE

SCRIPT = """
import * as Y from 'yjs'
import * as encoding from 'lib0/encoding'
import * as decoding from 'lib0/decoding'
import { isSaved, kringMessageHandler, encodeHello } from './src/protocol.js'

const doc = new Y.Doc()
const other = new Y.Doc()
other.getText('text').insert(0, 'van een ander')
Y.applyUpdate(doc, Y.encodeStateAsUpdate(other))
const before = Y.decodeStateVector(Y.encodeStateVector(doc))
doc.getText('text').insert(0, 'mijn tekst')
const all = Y.decodeStateVector(Y.encodeStateVector(doc))
const partly = new Map(all)
partly.set(doc.clientID, all.get(doc.clientID) - 1)

// What the server sends: varUint(100) varUint(1) varUint8Array(stateVector).
const stored = []
const handler = kringMessageHandler({ stored: (sv) => stored.push([...sv]), error: () => {} })
const encoder = encoding.createEncoder()
encoding.writeVarUint(encoder, 1)
encoding.writeVarUint8Array(encoder, Y.encodeStateVector(doc))
handler(null, decoding.createDecoder(encoding.toUint8Array(encoder)), null, false, 100)

console.log(JSON.stringify({
  fresh: isSaved(new Y.Doc(), new Map()),
  nothingStored: isSaved(doc, new Map()),
  othersOnly: isSaved(doc, before),
  partly: isSaved(doc, partly),
  all: isSaved(doc, all),
  received: isSaved(doc, new Map(stored[0])),
  hello: [...encodeHello()]
}))
"""


def test_saved_only_when_the_stored_state_holds_all_we_wrote() -> None:
    static = PACKAGE / "static"
    npm_installed(static, "yjs")
    out = subprocess.run(
        ["node", "--input-type=module", "-e", SCRIPT],
        cwd=static,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    result = json.loads(out.stdout)
    assert result == {
        "fresh": True,  # nothing written, nothing to wait for
        "nothingStored": False,
        "othersOnly": False,  # the others' edits stored, ours not
        "partly": False,  # all but our last keystroke
        "all": True,
        "received": True,  # the state vector as the server's message carries it
        "hello": [100, 0, 1, ord("1")],
    }
