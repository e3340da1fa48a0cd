/**
 * For a `before` hook of tests that need the lazy layer: passes when it can run here; else
 * fails with lazyFsSupport()'s reason under CI (PAD_CI=1), and skips the suite with the reason
 * printed elsewhere.
 */
import {lazyFsSupport} from '../../src/cluster/lazy-fs.js'

export function requireLazyFs(context: Mocha.Context): void {
  const support = lazyFsSupport()
  if (support.ok) return
  if (process.env.PAD_CI === '1') throw new Error(`the lazy file system cannot run here: ${support.reason}`)
  console.log(`    skipped: the lazy file system cannot run here: ${support.reason}`)
  context.skip()
}
