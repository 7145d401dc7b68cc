// Fail when the committed static/editor.js is not what the sources build to.
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { fileURLToPath } from 'node:url'
import path from 'node:path'
import { build } from './build.mjs'

const here = path.dirname(fileURLToPath(import.meta.url))
const dir = await mkdtemp(path.join(tmpdir(), 'kring-bundle-'))
try {
  const fresh = path.join(dir, 'editor.js')
  await build(fresh)
  const committed = await readFile(path.join(here, 'editor.js')).catch(() => null)
  if (committed === null || !committed.equals(await readFile(fresh))) {
    console.error('bundle out of date: run `npm --prefix static run build` and commit static/editor.js')
    process.exitCode = 1
  } else {
    console.log('static/editor.js is up to date')
  }
} finally {
  await rm(dir, { recursive: true, force: true })
}
