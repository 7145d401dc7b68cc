// Delivery latency as the server achieves it, seen from a process that does nothing else:
// one plain websocket per room (no Yjs document, so nothing to apply), which times every
// token in every update the server broadcasts. Run beside load.mjs (bench/realtime.py
// --observe): the difference between its figures and load.mjs's edit-to-peer figures is the
// time the replicas' own process needed to get to and apply the update.
//
// argv[2]: JSON {url, cookie, origin, docs}. stdout: {phase: "open"} once every socket is
// open; after a line on stdin, {phase: "done", histogram, overflow, samples}.
import WebSocket from 'ws'
import { createInterface } from 'node:readline'

const cfg = JSON.parse(process.argv[2])
const send = (obj) => new Promise((resolve) => process.stdout.write(JSON.stringify(obj) + '\n', resolve))
const histogram = new Uint32Array(1_000_000) // 0.01 ms buckets up to 10 s
const overflow = new Map() // whole ms beyond
let samples = 0
const now = () => performance.timeOrigin + performance.now()

const digits = (bytes, q) => {
  let value = 0
  const start = q
  while (q < bytes.length && bytes[q] >= 48 && bytes[q] <= 57) value = value * 10 + bytes[q++] - 48
  return [value, q, q > start]
}
const onMessage = (data) => {
  const at = now()
  // Only sync messages (type 0) carry document content; tokens appear in them as ASCII.
  if (data[0] !== 0) return
  for (let p = data.indexOf(0x5b); p !== -1; p = data.indexOf(0x5b, p + 1)) {
    const [, q1, ok1] = digits(data, p + 1)
    if (!ok1 || data[q1] !== 0x2e) continue
    const [, q2, ok2] = digits(data, q1 + 1)
    if (!ok2 || data[q2] !== 0x2e) continue
    const [sentAt, q3, ok3] = digits(data, q2 + 1)
    if (!ok3 || data[q3] !== 0x5d) continue
    const ms = at - sentAt / 100
    samples++
    const b = Math.max(0, Math.round(ms * 100))
    if (b < histogram.length) histogram[b]++
    else overflow.set(Math.round(ms), (overflow.get(Math.round(ms)) ?? 0) + 1)
  }
}

const sockets = await Promise.all(cfg.docs.map((room) => new Promise((resolve, reject) => {
  const ws = new WebSocket(`${cfg.url}/${room}`, {
    headers: { Cookie: cfg.cookie, Origin: cfg.origin }, perMessageDeflate: false
  })
  ws.binaryType = 'nodebuffer'
  ws.on('message', onMessage)
  ws.once('open', () => resolve(ws))
  ws.once('error', reject)
})))
await send({ phase: 'open' })
const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]()
await lines.next()
const values = []
for (let b = 0; b < histogram.length; b++) if (histogram[b]) values.push([b, histogram[b]])
await send({ phase: 'done', samples, histogram: values, overflow: [...overflow] })
sockets.forEach((ws) => ws.close())
process.exit(0)
