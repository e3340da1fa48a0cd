/**
 * Debian's chromium, driven by playwright-core (which never downloads a browser). For a
 * `before` hook: launches it when it is installed; else fails under CI (PAD_CI=1, where
 * .ci/run installs it) and skips the suite elsewhere, saying why.
 */
import fs from 'node:fs'
import {chromium, type Browser} from 'playwright-core'

export const CHROMIUM = process.env.PAD_CHROMIUM ?? '/usr/bin/chromium'

export async function launchChromium(context: Mocha.Context): Promise<Browser> {
  if (!fs.existsSync(CHROMIUM)) {
    const why = `no chromium at ${CHROMIUM} (apt-get install chromium, or set PAD_CHROMIUM)`
    if (process.env.PAD_CI === '1') throw new Error(`the browser tests need a browser: ${why}`)
    console.log(`    skipped: ${why}`)
    context.skip()
  }
  // --no-sandbox: CI runs as root, where chromium's sandbox refuses to start.
  return chromium.launch({executablePath: CHROMIUM, args: ['--no-sandbox']})
}
