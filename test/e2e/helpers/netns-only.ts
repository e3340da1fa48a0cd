import {netnsUnavailable} from '../../../src/cluster/netns.js'

/**
 * For tests of `--netns`, which needs root and iproute2's `ip netns`: when this machine cannot
 * run them, CI (PAD_CI=1, which runs as root) fails, anywhere else the test is skipped with the
 * reason printed.
 */
export function onlyWithNetns(context: Mocha.Context): void {
  const reason = netnsUnavailable()
  if (reason === null) return
  if (process.env.PAD_CI === '1') throw new Error(`PAD_CI=1 but the --netns tests cannot run here: ${reason}`)
  console.log(`      skipped: ${reason}`)
  context.skip()
}
