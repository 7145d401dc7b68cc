// What load.mjs and observe.mjs share: finding timing tokens in raw update bytes, and the
// latency histogram both report to bench/realtime.py.

// Tokens are the only '[' in the text, and they reach a replica whole (one insert each), so in
// an update's bytes they appear literally as ASCII: [id.seq.sentAt] (sentAt: wall clock in
// 1/100 ms).
const digits = (bytes, q) => {
  let value = 0
  const start = q
  while (q < bytes.length && bytes[q] >= 48 && bytes[q] <= 57) value = value * 10 + bytes[q++] - 48
  return [value, q, q > start]
}

// Calls found(id, sentAt) for every token in bytes.
export const forEachToken = (bytes, found) => {
  for (let p = bytes.indexOf(0x5b); p !== -1; p = bytes.indexOf(0x5b, p + 1)) {
    const [id, q1, ok1] = digits(bytes, p + 1)
    if (!ok1 || bytes[q1] !== 0x2e) continue
    const [, q2, ok2] = digits(bytes, q1 + 1)
    if (!ok2 || bytes[q2] !== 0x2e) continue
    const [sentAt, q3, ok3] = digits(bytes, q2 + 1)
    if (!ok3 || bytes[q3] !== 0x5d) continue
    found(id, sentAt)
  }
}

// Latency histogram in 0.01 ms buckets up to 10 s, whole milliseconds beyond: exact enough,
// cheap to record, and several processes' histograms add up to the histogram of the union.
export class Histogram {
  constructor () {
    this.buckets = new Uint32Array(1_000_000)
    this.overflow = new Map()
    this.samples = 0
  }

  add (ms) {
    this.samples++
    const b = Math.max(0, Math.round(ms * 100))
    if (b < this.buckets.length) this.buckets[b]++
    else this.overflow.set(Math.round(ms), (this.overflow.get(Math.round(ms)) ?? 0) + 1)
  }

  // As bench/realtime.py reads it: {samples, histogram: [[bucket, count]], overflow: [[ms, count]]}.
  report () {
    const histogram = []
    for (let b = 0; b < this.buckets.length; b++) if (this.buckets[b]) histogram.push([b, this.buckets[b]])
    return { samples: this.samples, histogram, overflow: [...this.overflow] }
  }
}
