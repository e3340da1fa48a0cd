import path from 'node:path'
import {expect} from 'chai'
import {execa} from 'execa'
import {CliCluster, clusterHooks, eventually} from './cluster-helpers.js'
import {REPO_ROOT, cliArgs} from './helpers/node-process.js'

// Commands that run a cluster in their own process (`up --foreground`, and `bench` and `chaos`
// on a temporary cluster) must exit as soon as their work is done. A timer left running once
// kept each of them alive 15 s after the last node had stopped; these runs measure the time
// from "done" (Ctrl-C for `up`, the last line of output for the others) to the exit.

/** Far below the 15 s the forgotten timer cost, and far above a node's stop on a loaded machine. */
const EXIT_BOUND_MS = 8000
/** How long a command may take to do its work before the test gives up on it. */
const WORK_TIMEOUT_MS = 120_000

interface Measured {
  /** From `done` (or the SIGINT after it) to the exit. */
  exitMs: number
  code: number | undefined
  output: string
}

/**
 * Runs `pad-cli <args>` in `home`; once `done(stdout)` holds, sends SIGINT if asked, and
 * measures how long the command still takes to exit. Every wait is bounded; a command that
 * does not exit in time is killed.
 */
async function measureExit(home: string, args: string[], done: (stdout: string) => boolean, interrupt: boolean): Promise<Measured> {
  const child = execa(process.execPath, cliArgs(...args), {
    cwd: REPO_ROOT,
    env: {PAD_HOME: home, NO_COLOR: '1'},
    reject: false,
    stdin: 'ignore',
    timeout: WORK_TIMEOUT_MS + 30_000,
  })
  let output = ''
  let exited = false
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')))
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')))
  const exit = child.then((result) => {
    exited = true
    return result
  })
  try {
    await eventually(`pad-cli ${args[0]} to finish its work`, () => (done(output) || exited ? true : undefined), WORK_TIMEOUT_MS, 20)
    const start = Date.now()
    if (interrupt) child.kill('SIGINT')
    // Bounded: twice the 15 s hang, so a regression fails on the bound below, not on a timeout.
    await eventually(`pad-cli ${args[0]} to exit`, () => (exited ? true : undefined), 30_000, 20)
    const exitMs = Date.now() - start
    return {exitMs, code: (await exit).exitCode, output}
  } finally {
    if (!exited) child.kill('SIGKILL')
  }
}

describe('commands exit once their work is done (real processes)', function () {
  this.timeout(WORK_TIMEOUT_MS + 60_000)
  let current: CliCluster | null = null
  clusterHooks(() => current)

  it('up --foreground exits right after Ctrl-C has stopped its nodes', async () => {
    const c = (current = await CliCluster.create(1))
    const run = await measureExit(c.home, ['up', '--foreground', ...c.upFlags()], (out) => out.includes('Ctrl-C stops the cluster.'), true)
    expect(run.code, run.output).to.equal(0)
    expect(run.output).to.match(/cluster down/)
    expect(run.exitMs, run.output).to.be.below(EXIT_BOUND_MS)
    expect(c.livePids()).to.deep.equal([])
  })

  it('bench on a temporary cluster exits right after printing its results', async () => {
    const c = (current = await CliCluster.create(1))
    const flags = ['--nodes', '1', '--tcp-port', String(c.ports.tcp), '--http-port', String(c.ports.http), '--raft-port', String(c.ports.raft)]
    const run = await measureExit(c.home, ['bench', ...flags, '--mode', 'sync', '--messages', '50', '--warmup', '5', '--json'], (out) => out.includes('"phase":"pub-sync"'), false)
    expect(run.code, run.output).to.equal(0)
    expect(run.exitMs, run.output).to.be.below(EXIT_BOUND_MS)
  })

  it('chaos on a temporary cluster exits right after printing its verdict', async () => {
    const c = (current = await CliCluster.create(3))
    const flags = ['--nodes', '3', '--tcp-port', String(c.ports.tcp), '--http-port', String(c.ports.http), '--raft-port', String(c.ports.raft)]
    const run = await measureExit(
      c.home,
      ['chaos', ...flags, '--seed', '7', '--duration', '1s', '--faults', 'kill', '--rate', '50', '--dir', path.join(c.home, 'chaos'), '--quiet'],
      (out) => /^history: /m.test(out),
      false,
    )
    expect(run.code, run.output).to.equal(0)
    expect(run.output).to.match(/chaos PASS/)
    expect(run.exitMs, run.output).to.be.below(EXIT_BOUND_MS)
  })
})
