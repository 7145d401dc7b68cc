// Stock Yjs as the judge of updates the server accepted: read {base, updates} (hex) from
// stdin; apply the base to a fresh doc, then each update on its own copy; print how many threw.
import * as Y from 'yjs'

const chunks = []
for await (const chunk of process.stdin) chunks.push(chunk)
const { base, updates } = JSON.parse(Buffer.concat(chunks).toString())
const bytes = (hex) => Uint8Array.from(Buffer.from(hex, 'hex'))
const failures = []
for (const update of updates) {
  const doc = new Y.Doc()
  doc.getText('text')
  try {
    for (const b of base) Y.applyUpdate(doc, bytes(b))
    Y.applyUpdate(doc, bytes(update))
    doc.getText('text').toString()
    Y.encodeStateAsUpdate(doc)
  } catch (error) {
    failures.push({ update, error: String(error && error.message) })
  }
}
process.stdout.write(JSON.stringify({ checked: updates.length, failures }) + '\n')
