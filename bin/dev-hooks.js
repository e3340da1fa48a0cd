// Module resolution hook for bin/dev.js. oclif finds each command through
// oclif.manifest.json, which names the compiled file in dist/; its own mapping back to the
// sources does not work here (tsconfig.json's rootDir is the repo root, not src/), so without
// this hook dev.js would run a stale build, or fail when there is none. This maps any import
// of dist/<path>.js to src/<path>.ts when that source exists; tsx (--import tsx) compiles it.
import {existsSync} from 'node:fs'
import {URL, fileURLToPath} from 'node:url'

const DIST = new URL('../dist/', import.meta.url).href
const SRC = new URL('../src/', import.meta.url).href

export async function resolve(specifier, context, nextResolve) {
  if (specifier.startsWith(DIST)) {
    const source = SRC + specifier.slice(DIST.length).replace(/\.js$/, '.ts')
    if (existsSync(fileURLToPath(source))) return nextResolve(source, context)
  }
  return nextResolve(specifier, context)
}
