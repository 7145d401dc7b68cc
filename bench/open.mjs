// Time for one stock client to open a document: connect, sync, have the text.
import WebSocket from 'ws'
import * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'

const cfg = JSON.parse(process.argv[2])
class CookieWebSocket extends WebSocket {
  constructor (url, protocols) {
    super(url, protocols, { headers: { Cookie: cfg.cookie, Origin: cfg.origin }, perMessageDeflate: false })
  }
}
const doc = new Y.Doc()
const t0 = performance.now()
const provider = new WebsocketProvider(cfg.url, cfg.room, doc, { WebSocketPolyfill: CookieWebSocket, disableBc: true })
await new Promise((resolve) => provider.once('sync', resolve))
console.log(JSON.stringify({ openMs: performance.now() - t0, length: doc.getText('text').length }))
provider.destroy()
process.exit(0)
