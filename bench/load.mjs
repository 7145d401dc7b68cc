// Load generator for bench/realtime.py: stock y-websocket clients (yjs + y-websocket) in one
// Node process; bench/realtime.py may run several of these workers and combine their figures.
//
// argv[2] is a JSON config: {url, cookie, origin, docs: [room...], clientsPerDoc, intervalMs,
// durationMs, burst, worker, workers, urls?}. With `urls` (several Kring workers), client i
// connects to urls[i % urls.length], and latency is also reported apart for edits that crossed
// workers and edits that stayed on one. Of the docs x clientsPerDoc clients, this worker runs
// those whose index i has i % workers == worker, so even one room can be spread over processes.
// Every interval each client types a burst of `burst` keystrokes (one Yjs transaction each) at
// its own caret: a user starts somewhere in the text and goes on after what they typed last,
// the caret kept as a Yjs relative position, as y-codemirror keeps selections. (Everyone
// typing at the very end of one ever-growing line is no editor's pattern, and Yjs's worst
// case: every burst a separate item, each insert a walk over all of them.) The last
// keystroke carries a token [client.seq.sentAt] (sentAt: the shared wall clock in 1/100 ms),
// so any replica in any worker can time edit-to-peer latency from the token alone, without
// bookkeeping per token.
//
// With moveEveryMs (bench/realtime.py --cursors), clients also show their caret as our editor
// does: a `user` field in their presence, and y-codemirror's `cursor` field (anchor and head as
// Yjs relative positions) set whenever the caret moves to another place: at the first burst,
// and before a burst with probability intervalMs / moveEveryMs (the caret moves elsewhere).
// Typing on at the caret sends no presence: y-codemirror ties the cursor to the character
// after the caret, which typing does not change, so it only sets the field when that differs.
//
// It talks to its parent in JSON lines (stdout -> parent, stdin <- parent):
//   -> {phase: "synced", connectMs}            every client has synced
//   <- {go: true}                              start typing (all workers at once)
//   -> {phase: "typed", typed: {room: n}}      typing stopped; tokens typed per room
//   <- {totals: {room: n}}                     tokens typed per room over all workers
//   -> {phase: "done", ...}                    figures (see the end of this file)
// A room is converged when a fresh client (a probe) syncs a text from the server that holds
// every token typed into that room, exactly once, and every replica's text equals it. Replicas
// that do not get there within the deadline are counted, with the tokens they never saw (lost).
import WebSocket from 'ws'
import * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { createInterface } from 'node:readline'
import { forEachToken, Histogram } from './tokens.mjs'

const cfg = JSON.parse(process.argv[2])
process.setMaxListeners(0) // y-websocket adds an exit listener per provider
const worker = cfg.worker ?? 0
const workers = cfg.workers ?? 1
const convergeMs = cfg.convergeMs ?? 60000
const moveEveryMs = cfg.moveEveryMs ?? 0
const urls = cfg.urls ?? [cfg.url]
const serverOf = (id) => id % urls.length
class CookieWebSocket extends WebSocket {
  constructor (url, protocols) {
    super(url, protocols, { headers: { Cookie: cfg.cookie, Origin: cfg.origin }, perMessageDeflate: false })
  }
}

// Resolves once written: a pipe is asynchronous in Node, and process.exit() would cut it.
const send = (obj) => new Promise((resolve) => process.stdout.write(JSON.stringify(obj) + '\n', resolve))
const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]()
const receive = async () => JSON.parse((await lines.next()).value)

const latencies = new Histogram()
const crossing = new Histogram()
const staying = new Histogram()
// Per second of the run: [samples, worst latency], to see when a tail happens.
const seconds = []
let runStart = 0
const record = (ms) => {
  if (runStart) {
    const sec = Math.floor((performance.now() - runStart) / 1000)
    const slot = seconds[sec] ?? (seconds[sec] = [0, 0])
    slot[0]++
    if (ms > slot[1]) slot[1] = ms
  }
  latencies.add(ms)
}

const now = () => performance.timeOrigin + performance.now()

const scanTokens = (bytes, at, self) => {
  forEachToken(bytes, (id, sentAt) => {
    if (id === self) return
    const ms = at - sentAt / 100
    record(ms)
    if (urls.length > 1) (serverOf(id) === serverOf(self) ? staying : crossing).add(ms)
  })
}
// Warm this process's JIT on private documents first (1.5 s; no server involved, nothing
// measured). Cold, the crowd's first second of typing had a third of its samples over 40 ms
// and the rest of the run was slower too (two 15 s runs each: p95 42-43 ms cold, 35-37 warm).
{
  const docs = Array.from({ length: 40 }, () => new Y.Doc())
  const t = performance.now()
  for (let round = 0; performance.now() - t < 1500; round++) {
    for (const d of docs) {
      const tx = d.getText('text')
      const before = Y.encodeStateVector(d)
      for (let k = 0; k < 3; k++) tx.insert(Math.floor(Math.random() * (tx.length + 1)), k < 2 ? 'x' : `[${round}]`)
      const u = Y.encodeStateAsUpdate(d, before)
      for (const o of docs) if (o !== d) Y.applyUpdate(o, u, 'warm')
    }
  }
  for (const d of docs) d.destroy()
}

const clients = []
let typing = false

const connect = (room, doc, id = 0) => new WebsocketProvider(urls[serverOf(id)], room, doc, {
  WebSocketPolyfill: CookieWebSocket, disableBc: true, maxBackoffTime: 500
})

let index = 0
for (const room of cfg.docs) {
  for (let i = 0; i < cfg.clientsPerDoc; i++, index++) {
    if (index % workers !== worker) continue
    const id = index
    const doc = new Y.Doc()
    const text = doc.getText('text')
    const provider = connect(room, doc, id)
    if (moveEveryMs) {
      // As static/src/editor.js does; the server replaces it with the participant's identity.
      provider.awareness.setLocalStateField('user', { name: `client ${index}`, color: '#30bced', colorLight: '#30bced33' })
    }
    // Time tokens from the bytes of each applied remote update (Yjs hands them to 'update'
    // listeners anyway: y-websocket listens too). A YTextEvent's delta would walk the whole
    // text for every update: with 200 replicas of a growing text that alone saturated a core.
    doc.on('update', (update, origin) => {
      if (origin === provider) scanTokens(update, now(), id)
    })
    const client = { id, room, doc, text, provider, seq: 0, timer: null, cursor: null, presence: 0 }
    // Presence messages this replica applied (each one y-websocket also echoes back, whole).
    provider.awareness.on('update', (_, origin) => { if (typing && origin !== 'local') client.presence++ })
    clients.push(client)
  }
}

const synced = (provider) => new Promise((resolve) => {
  if (provider.synced) resolve()
  else provider.once('sync', () => resolve())
})
const t0 = performance.now()
await Promise.all(clients.map((c) => synced(c.provider)))
send({ phase: 'synced', connectMs: performance.now() - t0 })
await receive() // go

const typed = new Map(cfg.docs.map((room) => [room, 0]))
// Where a user starts typing: somewhere in the text (never inside a token), as people click
// into different paragraphs of one document.
const startAt = (text) => {
  const s = text.toString()
  const ends = [0]
  for (let p = s.indexOf(']'); p !== -1; p = s.indexOf(']', p + 1)) ends.push(p + 1)
  return ends[Math.floor(Math.random() * ends.length)]
}
const type = (c) => {
  if (!typing) return
  // The user's caret, kept as an editor keeps it (y-codemirror maps selections through Yjs
  // relative positions): a Yjs RelativePosition tied to the character typed last, so it stays
  // right after the user's own text whatever others insert elsewhere.
  const moves = c.cursor === null || (moveEveryMs && Math.random() < cfg.intervalMs / moveEveryMs)
  let at = moves ? startAt(c.text) : Y.createAbsolutePositionFromRelativePosition(c.cursor, c.doc).index
  if (moves && moveEveryMs) {
    // What y-codemirror sets when the caret moves (an empty selection: anchor = head).
    const caret = Y.createRelativePositionFromTypeIndex(c.text, at)
    c.provider.awareness.setLocalStateField('cursor', { anchor: caret, head: caret })
  }
  for (let k = 1; k < cfg.burst; k++) c.text.insert(at++, 'x')
  const token = `[${c.id}.${c.seq++}.${Math.round(now() * 100)}]`
  c.text.insert(at, token)
  c.cursor = Y.createRelativePositionFromTypeIndex(c.text, at + token.length, -1)
  typed.set(c.room, typed.get(c.room) + 1)
}
const loopDelay = monitorEventLoopDelay({ resolution: 10 })
loopDelay.enable()
const cpu0 = process.cpuUsage()
const wall0 = performance.now()
runStart = wall0
typing = true
for (const c of clients) {
  // Spread the clients over the interval so bursts do not all land on the same tick.
  c.timer = setTimeout(() => {
    type(c)
    c.timer = setInterval(() => type(c), cfg.intervalMs)
  }, Math.random() * cfg.intervalMs)
}
await new Promise((resolve) => setTimeout(resolve, cfg.durationMs))
typing = false
for (const c of clients) { clearTimeout(c.timer); clearInterval(c.timer) }
const cpu = process.cpuUsage(cpu0)
const wall = performance.now() - wall0
loopDelay.disable()
send({ phase: 'typed', typed: Object.fromEntries(typed) })
const { totals } = await receive()

// Quiescence, against the server's own text.
const byRoom = new Map()
for (const c of clients) {
  if (!byRoom.has(c.room)) byRoom.set(c.room, [])
  byRoom.get(c.room).push(c)
}
const tokensIn = (s) => {
  const seen = new Set()
  let count = 0
  for (let p = s.indexOf('['); p !== -1; p = s.indexOf('[', p + 1)) {
    seen.add(s.slice(p, s.indexOf(']', p) + 1))
    count++
  }
  return { distinct: seen.size, count }
}
const serverText = async (room) => {
  const doc = new Y.Doc()
  const provider = connect(room, doc)
  await synced(provider)
  const s = doc.getText('text').toString()
  provider.destroy()
  doc.destroy()
  return s
}
const waitStart = performance.now()
const deadline = waitStart + convergeMs
const pending = new Set(byRoom.keys())
const finalText = new Map()
while (pending.size && performance.now() < deadline) {
  for (const room of [...pending]) {
    const s = await serverText(room)
    const { distinct, count } = tokensIn(s)
    finalText.set(room, s)
    if (distinct === totals[room] && count === distinct && byRoom.get(room).every((c) => c.text.toString() === s)) {
      pending.delete(room)
    }
  }
  if (pending.size) await new Promise((resolve) => setTimeout(resolve, 100))
}
const waitMs = performance.now() - waitStart

// Per room: how many replicas, and how many distinct tokens they hold in all (lost = the rest).
const rooms = {}
let duplicated = 0
for (const [room, group] of byRoom) {
  let seen = 0
  let converged = 0
  for (const c of group) {
    const s = c.text.toString()
    if (s === finalText.get(room)) converged++
    const { distinct, count } = tokensIn(s)
    seen += distinct
    duplicated += count - distinct
  }
  rooms[room] = { replicas: group.length, seen, converged }
}
// How many Yjs items the text is made of in one replica (merged runs of one client's typing).
let items = 0
for (let n = clients[0]?.text._start; n; n = n.right) items++
await send({
  phase: 'done',
  clients: clients.length,
  ...latencies.report(),
  crossing: crossing.report(),
  staying: staying.report(),
  rooms,
  duplicated,
  items,
  presence: clients.reduce((sum, c) => sum + c.presence, 0),
  seconds: Array.from(seconds, (slot) => slot ?? [0, 0]),
  waitMs,
  cpuMs: (cpu.user + cpu.system) / 1000,
  wallMs: wall,
  loopDelayP99Ms: loopDelay.percentile(99) / 1e6,
  loopDelayMaxMs: loopDelay.max / 1e6
})
for (const c of clients) c.provider.destroy()
process.exit(0)
