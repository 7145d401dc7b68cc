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
import { forEachToken, Histogram } from './tokens.mjs'

const cfg = JSON.parse(process.argv[2])
const send = (obj) => new Promise((resolve) => process.stdout.write(JSON.stringify(obj) + '\n', resolve))
const latencies = new Histogram()
const now = () => performance.timeOrigin + performance.now()

const onMessage = (data) => {
  const at = now()
  // Only sync messages (type 0) carry document content; tokens appear in them as ASCII.
  if (data[0] !== 0) return
  forEachToken(data, (_, sentAt) => latencies.add(at - sentAt / 100))
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
await send({ phase: 'done', ...latencies.report() })
sockets.forEach((ws) => ws.close())
process.exit(0)
