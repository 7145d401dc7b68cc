// A stock Yjs client (yjs + y-websocket, unchanged) that a Python test drives over stdin/stdout.
// Usage: node client.mjs <serverUrl ws://host:port/realtime> <room> <cookie> <origin>
// stdin, one JSON command a line: {"cmd":"type","text":"..."} appends text;
//   {"cmd":"text"} prints the text; {"cmd":"quit"} exits.
// stdout, one JSON event a line: {"event":"status","status":...}, {"event":"synced"},
//   {"event":"text","text":...} after every change and on request.
import { createInterface } from 'node:readline'
import WebSocket from 'ws'
import * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'

const [serverUrl, room, cookie, origin] = process.argv.slice(2)

// y-websocket creates sockets as `new WebSocketPolyfill(url)`: add the session cookie and the
// Origin the way a browser would send them.
class CookieWebSocket extends WebSocket {
  constructor (url, protocols) {
    super(url, protocols, { headers: { Cookie: cookie, Origin: origin } })
  }
}

const doc = new Y.Doc()
const text = doc.getText('text')
const provider = new WebsocketProvider(serverUrl, room, doc, {
  WebSocketPolyfill: CookieWebSocket,
  disableBc: true,
  maxBackoffTime: 200
})
const say = (obj) => process.stdout.write(JSON.stringify(obj) + '\n')

provider.on('status', ({ status }) => say({ event: 'status', status }))
provider.on('sync', (synced) => { if (synced) say({ event: 'synced' }) })
doc.on('update', () => say({ event: 'text', text: text.toString() }))
provider.on('connection-close', (event) => say({ event: 'closed', code: event ? event.code : null }))

createInterface({ input: process.stdin }).on('line', (line) => {
  const command = JSON.parse(line)
  if (command.cmd === 'type') text.insert(text.length, command.text)
  else if (command.cmd === 'text') say({ event: 'text', text: text.toString() })
  else if (command.cmd === 'quit') { provider.destroy(); process.exit(0) }
})
