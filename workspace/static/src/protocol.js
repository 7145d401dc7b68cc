// Kring's extension of the y-websocket wire protocol: message type 100.
//
// Every y-websocket message is varUint(messageType) followed by a payload (lib0 encoding).
// Types 0-3 are the standard sync/awareness/auth/query-awareness messages. Type 100 is ours:
//   client -> server  varUint(100) varUint(0) varString("1")            hello, protocol version
//   server -> client  varUint(100) varUint(1) varUint8Array(stateVector) stored (durably committed)
//   server -> client  varUint(100) varUint(2) varString(code)            error ("readonly", ...)
// The server only sends type 100 to connections that said hello, so stock Yjs clients are
// never confused by it.

import * as Y from 'yjs'
import * as encoding from 'lib0/encoding'
import * as decoding from 'lib0/decoding'

export const messageKring = 100
export const kringHello = 0
export const kringStored = 1
export const kringError = 2
export const protocolVersion = '1'

/** @returns {Uint8Array} the hello message sent right after every (re)connect. */
export const encodeHello = () => {
  const encoder = encoding.createEncoder()
  encoding.writeVarUint(encoder, messageKring)
  encoding.writeVarUint(encoder, kringHello)
  encoding.writeVarString(encoder, protocolVersion)
  return encoding.toUint8Array(encoder)
}

/**
 * Build a y-websocket message handler for type 100.
 * y-websocket has already read the message type when it calls the handler.
 * @param {{stored: (sv: Map<number, number>) => void, error: (code: string) => void}} on
 */
export const kringMessageHandler = (on) =>
  (_encoder, decoder, _provider, _emitSynced, _messageType) => {
    const kind = decoding.readVarUint(decoder)
    if (kind === kringStored) {
      on.stored(Y.decodeStateVector(decoding.readVarUint8Array(decoder)))
    } else if (kind === kringError) {
      on.error(decoding.readVarString(decoder))
    }
    // Unknown kinds are ignored so a newer server can add messages without breaking old tabs.
    // Nothing is written to the encoder: y-websocket only replies if we wrote something.
  }

/**
 * True when everything this client wrote is in the server's durably stored state.
 * Only our own clientID matters: other clients' edits are theirs to confirm.
 * @param {Y.Doc} doc
 * @param {Map<number, number>} storedStateVector
 */
export const isSaved = (doc, storedStateVector) =>
  // Y.getState reads our own clock directly: this runs after every update the editor applies,
  // and a whole state vector would cost as much as the room has writers (200 in a crowd).
  (storedStateVector.get(doc.clientID) ?? 0) >= Y.getState(doc.store, doc.clientID)
