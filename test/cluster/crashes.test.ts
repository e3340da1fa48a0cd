import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {expect} from 'chai'
import {crashLog, describeEvent, formatEvent, type ClusterEvent} from '../../src/cluster/events.js'
import {exitState} from '../../src/cluster/exit-state.js'
import {statusTable} from '../../src/cluster/output.js'
import {
  FIRST_DELAY_MS,
  MAX_DELAY_MS,
  STABLE_AFTER_MS,
  afterCrash,
  parseRestartPolicy,
  restartDelayMs,
  type CrashStreak,
} from '../../src/cluster/restart-policy.js'
import {describeProcess} from '../../src/cluster/status.js'
import {tailLines} from '../../src/cluster/tail.js'
import {node, status} from '../tui/helpers.js'

describe('crashes: how an exit is classified', () => {
  it('a stop, restart or down is stopped, a kill is exited, whatever the code or signal', () => {
    expect(exitState('stop', 0, null)).to.equal('stopped')
    expect(exitState('down', null, 'SIGKILL')).to.equal('stopped')
    expect(exitState('kill', null, 'SIGKILL')).to.equal('exited')
    expect(exitState('kill', 1, null)).to.equal('exited')
  })

  it('an exit nobody asked for is a crash, unless it is clean (code 0)', () => {
    expect(exitState(null, 1, null)).to.equal('crashed')
    expect(exitState(null, null, 'SIGSEGV')).to.equal('crashed')
    expect(exitState(null, null, 'SIGABRT')).to.equal('crashed')
    // The OOM killer's SIGKILL is not ours: a crash.
    expect(exitState(null, null, 'SIGKILL')).to.equal('crashed')
    // A spawn that failed has neither.
    expect(exitState(null, null, null)).to.equal('crashed')
    expect(exitState(null, 0, null)).to.equal('exited')
  })

  it('status says crashed with the signal or the code', () => {
    expect(describeProcess({process: 'crashed', exit_code: null, exit_signal: 'SIGSEGV'})).to.equal('crashed (SIGSEGV)')
    expect(describeProcess({process: 'crashed', exit_code: 3, exit_signal: null})).to.equal('crashed (code 3)')
    expect(describeProcess({process: 'exited', exit_code: null, exit_signal: 'SIGKILL'})).to.equal('exited (SIGKILL)')
  })
})

describe('crashes: the restart policy and its back-off', () => {
  it('takes no and on-failure only', () => {
    expect(parseRestartPolicy('no')).to.equal('no')
    expect(parseRestartPolicy('on-failure')).to.equal('on-failure')
    expect(() => parseRestartPolicy('always')).to.throw('--restart must be no or on-failure (got "always")')
  })

  it('waits 1 s, then doubles up to 30 s and stays there', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 100, 10_000].map(restartDelayMs)).to.deep.equal([1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000, 30_000])
    expect(restartDelayMs(1)).to.equal(FIRST_DELAY_MS)
    expect(restartDelayMs(1e9)).to.equal(MAX_DELAY_MS)
  })

  it('counts crashes in a row while the node crashes soon after each start, and starts over once it ran long enough', () => {
    let streak: CrashStreak = {crashes: 0}
    const delays: number[] = []
    for (const ranMs of [200, 1500, 300, 5000]) {
      const next = afterCrash(streak, ranMs)
      streak = next.streak
      delays.push(next.delayMs)
    }
    expect(delays).to.deep.equal([1000, 2000, 4000, 8000])
    const stable = afterCrash(streak, STABLE_AFTER_MS)
    expect(stable).to.deep.equal({streak: {crashes: 1}, delayMs: FIRST_DELAY_MS})
    expect(afterCrash(stable.streak, 10).delayMs).to.equal(2000)
  })
})

describe('crashes: the end of the log', () => {
  let dir: string
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pad-crash-'))))
  afterEach(() => fs.rmSync(dir, {recursive: true, force: true}))

  it('keeps the last non-empty lines, bounded in count and bytes, and reads only the end', () => {
    const file = path.join(dir, 'node.log')
    const lines = Array.from({length: 5000}, (_, i) => `line ${i} ${'x'.repeat(50)}`)
    fs.writeFileSync(file, lines.join('\n') + '\n\n')
    const tail = tailLines(file, 20, 4096)
    expect(tail).to.have.length(20)
    expect(tail.at(-1)).to.equal(lines.at(-1))
    expect(tail[0]).to.equal(lines.at(-20))
    const small = tailLines(file, 20, 200)
    expect(small.join('\n').length).to.be.at.most(200)
    // The cut line at the start of what was read is dropped: every line is whole.
    for (const line of small) expect(lines).to.include(line)
  })

  it('gives a short file whole, a line longer than the budget cut, and nothing for a missing file', () => {
    const file = path.join(dir, 'node.log')
    fs.writeFileSync(file, 'one\ntwo')
    expect(tailLines(file, 20, 4096)).to.deep.equal(['one', 'two'])
    fs.writeFileSync(file, 'y'.repeat(10_000))
    expect(tailLines(file, 20, 100)).to.deep.equal(['y'.repeat(100)])
    expect(tailLines(path.join(dir, 'none.log'), 20, 4096)).to.deep.equal([])
  })
})

describe('crashes: in the timeline and in status', () => {
  const crash: ClusterEvent = {
    time: '2026-01-01T12:00:01.234Z',
    seq: 7,
    type: 'exit',
    node: 1,
    pid: 4242,
    code: null,
    signal: 'SIGSEGV',
    expected: false,
    crashed: true,
    log: ['starting', 'Segmentation fault (core dumped)'],
  }

  it('describes a crash with its last log line, and prints every line under it', () => {
    expect(describeEvent(crash)).to.equal('node 1 crashed: killed by SIGSEGV; log: Segmentation fault (core dumped)')
    expect(formatEvent(crash).split('\n')).to.deep.equal([
      '12:00:01.234  exit              node 1 crashed: killed by SIGSEGV; log: Segmentation fault (core dumped)',
      '    | starting',
      '    | Segmentation fault (core dumped)',
    ])
    expect(crashLog(crash)).to.deep.equal(crash.log)
  })

  it('keeps a kill as it was: one line, no log', () => {
    const kill: ClusterEvent = {time: crash.time, seq: 8, type: 'exit', node: 0, pid: 1, code: null, signal: 'SIGKILL', expected: true, crashed: false}
    expect(formatEvent(kill)).to.equal('12:00:01.234  exit              node 0 killed by SIGKILL')
    expect(crashLog(kill)).to.deep.equal([])
  })

  it('describes an automatic restart', () => {
    const restart: ClusterEvent = {time: crash.time, seq: 9, type: 'restart', node: 1, pid: 4242, reason: 'crashed', attempt: 2, delay_ms: 2000}
    expect(describeEvent(restart)).to.equal('restarting node 1 after a crash (2 in a row, waited 2s)')
  })

  it('prints the crashed node, when it restarts and its log under the status table', () => {
    const crashed = node(1, {
      process: 'crashed',
      pid: null,
      role: null,
      exit_signal: 'SIGABRT',
      crash_log: ['boom', 'Aborted'],
      restart_at: '2026-01-01T12:00:03.000Z',
    })
    const lines = statusTable(status([node(0, {role: 'LEADER'}), crashed, node(2)])).split('\n')
    expect(lines[3]).to.match(/^1 +node-1 +VOTER +- +crashed \(SIGABRT\) +-/)
    expect(lines.slice(5)).to.deep.equal(['', 'node 1 crashed; restarts at 12:00:03; the end of /tmp/x/node-1/node.log:', '  | boom', '  | Aborted'])
  })
})
