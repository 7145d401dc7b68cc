// Build the editor bundle: node build.mjs [outfile]
// The output is committed, so it must be byte-for-byte reproducible: no sourcemap, no legal
// comments, no timestamps. check-bundle.mjs calls build() with a temporary outfile.
import * as esbuild from 'esbuild'
import { fileURLToPath } from 'node:url'
import path from 'node:path'

const here = path.dirname(fileURLToPath(import.meta.url))

export const build = (outfile = path.join(here, 'editor.js')) =>
  esbuild.build({
    absWorkingDir: here, // paths in the output do not depend on where npm was started
    entryPoints: [path.join(here, 'src/editor.js')],
    outfile,
    bundle: true,
    minify: true,
    format: 'iife',
    target: 'es2020',
    platform: 'browser',
    legalComments: 'none',
    sourcemap: false,
    charset: 'utf8', // keep Dutch text (…, –) readable instead of \u escapes
    logLevel: 'warning',
    metafile: true
  }).then((result) => {
    // yjs must be bundled once: two copies break instanceof checks between y-websocket,
    // y-codemirror.next and our code ("Yjs was already imported").
    const yjsCopies = new Set(Object.keys(result.metafile.inputs)
      .filter((p) => /node_modules\/yjs\/dist\//.test(p))
      .map((p) => p.replace(/\/dist\/.*/, '')))
    if (yjsCopies.size !== 1) {
      throw new Error(`expected one copy of yjs in the bundle, found ${yjsCopies.size}: ${[...yjsCopies].join(', ')}`)
    }
    return result
  })

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const out = process.argv[2] ? path.resolve(process.argv[2]) : undefined
  await build(out)
}
