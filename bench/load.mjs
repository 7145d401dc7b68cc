// Load generator for bench/realtime.py: many stock y-websocket clients in one Node process.
// argv[2] is a JSON config: {url, cookie, origin, docs: [room...], clientsPerDoc, intervalMs,
// durationMs, burst}. Every interval each client types a burst of `burst` keystrokes (one
// Yjs transaction each) at the end of the text; the last keystroke carries a token
// [client.seq] whose send time is known, so peers can time edit-to-peer latency.
// Prints one JSON line: latency percentiles, lost tokens, whether replicas converged.
import WebSocket from 'ws'
import * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'

const cfg = JSON.parse(process.argv[2])
class CookieWebSocket extends WebSocket {
  constructor (url, protocols) {
    super(url, protocols, { headers: { Cookie: cfg.cookie, Origin: cfg.origin }, perMessageDeflate: false })
  }
}

// Tokens carry their send time on the shared wall clock (timeOrigin + now, in 1/100 ms), so a
// token typed in one worker process can be timed when it arrives in another.
const now = () => performance.timeOrigin + performance.now()
const latencies = []
const clients = []
const tokenRe = /\[(\d+)\.(\d+)\.(\d+)\]/g
const base = cfg.clientBase || 0

for (const room of cfg.docs) {
  for (let i = 0; i < cfg.clientsPerDoc; i++) {
    const doc = new Y.Doc()
    const text = doc.getText('text')
    const id = base + clients.length
    const provider = new WebsocketProvider(cfg.url, room, doc, {
      WebSocketPolyfill: CookieWebSocket, disableBc: true, maxBackoffTime: 500
    })
    text.observe((event) => {
      if (event.transaction.local) return
      const at = now()
      for (const op of event.delta) {
        if (typeof op.insert !== 'string') continue
        for (const m of op.insert.matchAll(tokenRe)) {
          if (Number(m[1]) !== id) latencies.push(at - Number(m[3]) / 100)
        }
      }
    })
    clients.push({ id, room, doc, text, provider, seq: 0, tokens: [] })
  }
}

const synced = (c) => new Promise((resolve) => {
  if (c.provider.synced) resolve()
  else c.provider.once('sync', () => resolve())
})
const t0 = performance.now()
await Promise.all(clients.map(synced))
const connectMs = performance.now() - t0

const type = (c) => {
  for (let k = 1; k < cfg.burst; k++) c.text.insert(c.text.length, 'x')
  const token = `[${c.id}.${c.seq++}.${Math.round(now() * 100)}]`
  c.tokens.push(token)
  c.text.insert(c.text.length, token)
}
const timers = clients.map((c) => {
  // Spread the clients over the interval so bursts do not all land on the same tick.
  const start = Math.random() * cfg.intervalMs
  return setTimeout(() => { type(c); c.timer = setInterval(() => type(c), cfg.intervalMs) }, start)
})
await new Promise((resolve) => setTimeout(resolve, cfg.durationMs))
timers.forEach(clearTimeout)
clients.forEach((c) => clearInterval(c.timer))

// Quiescence: wait until every replica of a room holds every token typed into that room.
const byRoom = new Map()
for (const c of clients) {
  if (!byRoom.has(c.room)) byRoom.set(c.room, [])
  byRoom.get(c.room).push(c)
}
const missing = () => {
  let lost = 0
  for (const group of byRoom.values()) {
    const all = group.flatMap((c) => c.tokens)
    for (const c of group) {
      const s = c.text.toString()
      for (const tok of all) if (!s.includes(tok)) lost++
    }
  }
  return lost
}
const deadline = performance.now() + 60000
let lost = missing()
while (lost > 0 && performance.now() < deadline) {
  await new Promise((resolve) => setTimeout(resolve, 250))
  lost = missing()
}
let converged = true
for (const group of byRoom.values()) {
  const first = group[0].text.toString()
  if (!group.every((c) => c.text.toString() === first)) converged = false
}
latencies.sort((a, b) => a - b)
const pct = (p) => latencies.length ? latencies[Math.min(latencies.length - 1, Math.floor(p / 100 * latencies.length))] : null
console.log(JSON.stringify({
  clients: clients.length,
  docs: cfg.docs.length,
  tokens: clients.reduce((n, c) => n + c.tokens.length, 0),
  samples: latencies.length,
  p50: pct(50), p95: pct(95), p99: pct(99), max: latencies.at(-1) ?? null,
  lost, converged, connectMs
}))
clients.forEach((c) => c.provider.destroy())
process.exit(0)
