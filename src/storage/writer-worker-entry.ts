// Where the writer's worker thread starts: the built worker, or under tsx a bootstrap that
// loads the TypeScript one.

import fs from 'node:fs'
import {createRequire} from 'node:module'
import path from 'node:path'
import {pathToFileURL} from 'node:url'

/**
 * The worker's entry point. The build runs dist/storage/writer-worker.js next to this file. Under
 * tsx (tests, bin/dev.js) this module is a .ts file and so is the worker, which needs the tsx
 * loader too: on Node 20, `execArgv: ['--import', 'tsx']` does not install loader hooks in a
 * worker (nodejs/node#47747, fixed in Node 22.2), so a one-line bootstrap registers tsx in the
 * worker and then imports the .ts file. (tsx may have loaded this module as CommonJS, as under
 * mocha, where import.meta.resolve does not exist: hence createRequire.)
 */
export function writerWorkerEntry(): URL {
  if (!import.meta.url.endsWith('.ts')) return new URL('./writer-worker.js', import.meta.url)
  const workerTs = new URL('./writer-worker.ts', import.meta.url).href
  const tsxApi = resolveTsxEsmApi()
  const bootstrap = `const tsx = await import(${JSON.stringify(tsxApi)}); tsx.register(); await import(${JSON.stringify(workerTs)})`
  return new URL(`data:text/javascript,${encodeURIComponent(bootstrap)}`)
}

/** The file URL of tsx's ESM API (`import 'tsx/esm/api'`), as this module would resolve it. */
function resolveTsxEsmApi(): string {
  const meta = import.meta as {resolve?: (specifier: string) => string}
  if (typeof meta.resolve === 'function') return meta.resolve('tsx/esm/api')
  // As CommonJS, resolution picks the "require" build, whose register() does not work when
  // imported: take the "import" one from tsx's exports map.
  const pkgJson = createRequire(import.meta.url).resolve('tsx/package.json')
  const pkg = JSON.parse(fs.readFileSync(pkgJson, 'utf8')) as {exports: Record<string, {import: {default: string}}>}
  return pathToFileURL(path.join(path.dirname(pkgJson), pkg.exports['./esm/api'].import.default)).href
}
