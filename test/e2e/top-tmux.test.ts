/**
 * `pad-cli top` for real, in a tmux pane of its own tmux server (-L, so no other tmux is
 * touched): see the chart row, open and close the help with ?, select the leader, kill it
 * with x, see it down and another leader, resize (the log-cells rows appear), heal, quit,
 * and find the shell again. Set PAD_TOP_CAPTURES=<dir> to keep the pane captures.
 */
import {execFileSync} from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import {expect} from 'chai'
import {cliArgs} from './helpers/node-process.js'
import {CliCluster, clusterHooks, eventually} from './cluster-helpers.js'

describe('pad-cli top in tmux', function () {
  this.timeout(180_000)
  let cluster: CliCluster | null = null
  const socket = `pad-top-${process.pid}-${Math.floor(Math.random() * 1e6)}`
  let tmuxStarted = false
  let socketPath: string | null = null
  const tmux = (...args: string[]): string => execFileSync('tmux', ['-L', socket, ...args], {encoding: 'utf8', timeout: 10_000})
  const capture = (): string => tmux('capture-pane', '-p', '-t', 'top')
  const save = (name: string, text: string): void => {
    const dir = process.env.PAD_TOP_CAPTURES
    if (dir) fs.writeFileSync(path.join(dir, name), text)
  }

  clusterHooks(() => cluster)
  afterEach(() => {
    if (tmuxStarted) {
      try {
        tmux('kill-server')
      } catch {
        // Gone already.
      }
      tmuxStarted = false
    }
    // kill-server leaves the socket file behind.
    if (socketPath) fs.rmSync(socketPath, {force: true})
    socketPath = null
  })

  it('kills the selected leader with x, shows the new leader, heals, quits and gives the terminal back', async () => {
    cluster = await CliCluster.create(3)
    await cluster.ok(['up', ...cluster.upFlags()], {cluster: false})
    const before = await cluster.status()
    const leader = before.leader!
    expect(leader).to.be.a('number')
    const once = JSON.parse(await cluster.ok(['top', '--once', '--json'])) as {leader: number; nodes: {role: string; first_index: number; disk_bytes: number}[]; timeline: unknown[]}
    expect(once.leader).to.equal(leader)
    expect(once.nodes.map((n) => n.role).sort()).to.deep.equal(['FOLLOWER', 'FOLLOWER', 'LEADER'])
    expect(once.timeline.length).to.be.greaterThan(0)
    for (const n of once.nodes) {
      expect(n.first_index).to.equal(1)
      expect(n.disk_bytes).to.be.above(0)
    }

    tmux('new-session', '-d', '-x', '80', '-y', '24', '-s', 'top', '-e', `PAD_HOME=${cluster.home}`, 'bash --norc --noprofile')
    tmuxStarted = true
    socketPath = tmux('display-message', '-p', '#{socket_path}').trim()
    const command = `${[process.execPath, ...cliArgs('top', '--cluster', cluster.name)].join(' ')}; echo "top exited $?"`
    tmux('send-keys', '-t', 'top', '-l', command)
    tmux('send-keys', '-t', 'top', 'Enter')
    const row = (screen: string, index: number): string => screen.split('\n').find((l) => new RegExp(`^[ >] {0,1}${index} `).test(l)) ?? ''
    const first = await eventually('the dashboard with the leader and the chart row', () => {
      const screen = capture()
      return /leader node \d/.test(screen) && row(screen, leader).includes('LEADER') && /commits\/s [\d.]+ +p99 publish ms/.test(screen) ? screen : undefined
    }, 60_000, 250)
    save('top-chart-80x24.txt', first)

    // Every key in the help; ? opens it and closes it again.
    tmux('send-keys', '-t', 'top', '?')
    const help = await eventually('the help', () => {
      const screen = capture()
      return screen.includes('show or hide this help') ? screen : undefined
    }, 10_000, 100)
    save('top-help-80x24.txt', help)
    for (const text of ['select the node above', 'kill the selected node (SIGKILL)', 'heal every network fault', 'hide this help', 'quit']) expect(help).to.include(text)
    tmux('send-keys', '-t', 'top', '?')
    await eventually('the help closed', () => (capture().includes('show or hide this help') ? undefined : true), 10_000, 100)

    // Select the leader: to the top, then down to it.
    for (let i = 0; i < 3; i++) tmux('send-keys', '-t', 'top', 'k')
    for (let i = 0; i < leader; i++) tmux('send-keys', '-t', 'top', 'j')
    await eventually('the leader selected', () => (row(capture(), leader).startsWith('>') ? true : undefined), 10_000, 100)
    tmux('send-keys', '-t', 'top', 'x')
    const after = await eventually('the leader down and another leader', () => {
      const screen = capture()
      const others = [0, 1, 2].filter((i) => i !== leader)
      const down = /\bDOWN\b/.test(row(screen, leader))
      const next = others.find((i) => row(screen, i).includes('LEADER'))
      return down && next !== undefined && screen.includes(`$ pad-cli kill ${leader} --cluster ${cluster!.name}`) ? screen : undefined
    }, 30_000, 200)
    save('top-80x24.txt', after)
    expect(after.trimEnd().split('\n').at(-1)).to.match(/x kill/)

    tmux('resize-window', '-t', 'top', '-x', '160', '-y', '48')
    const wide = await eventually('the dashboard at 160x48', () => {
      const screen = capture()
      return screen.split('\n').length >= 48 && screen.includes('r start/restart') ? screen : undefined
    }, 15_000, 200)
    save('top-160x48.txt', wide)
    expect(wide).to.match(/LAG +FIRST +DISK +FAULTS/)
    expect(row(wide, (leader + 1) % 3)).to.match(/ 1 +\d+\.\d [KMG]B/)
    // 160 columns: a log-cells row per node under the table. The killed leader has none (it
    // is down); the running nodes show their cells once GET /raft/log answers, or n/a on a
    // build that does not serve it.
    // A log row: the index, then "log: ..." or cells (term numbers); a table row has the node id there.
    const logRow = (screen: string, index: number): string => screen.split('\n').find((l) => new RegExp(`^[ >] ?${index} (log: | *\\d+( |$))`).test(l))?.trimEnd() ?? ''
    const cells = await eventually('the log-cells rows', () => {
      const screen = capture()
      const others = [0, 1, 2].filter((i) => i !== leader)
      return logRow(screen, leader).endsWith('log: n/a (exited)') && others.every((i) => /^[ >] ?\d (log: n\/a|( *\d+\b)+)$/.test(logRow(screen, i))) ? screen : undefined
    }, 15_000, 200)
    save('top-cells-160x48.txt', cells)
    expect(cells).to.match(/commits\/s [\d.]+ +p99 publish ms/)

    tmux('send-keys', '-t', 'top', 'h')
    await eventually('the heal in the timeline', () => (capture().includes(`$ pad-cli heal --cluster ${cluster!.name}`) ? true : undefined), 15_000, 200)
    tmux('send-keys', '-t', 'top', 'q')
    const shell = await eventually('the shell again', () => {
      const screen = capture()
      return screen.includes('top exited 0') ? screen : undefined
    }, 15_000, 200)
    expect(shell).to.not.include('LEADER')
    // The shell reads and echoes lines again.
    tmux('send-keys', '-t', 'top', '-l', 'echo shell-$((40 + 2))')
    tmux('send-keys', '-t', 'top', 'Enter')
    await eventually('the shell answering', () => (capture().includes('shell-42') ? true : undefined), 10_000, 100)
    expect(tmux('display-message', '-p', '-t', 'top', '#{alternate_on}').trim()).to.equal('0')

    await cluster.ok(['down'])
    expect(cluster.livePids()).to.deep.equal([])
  })
})
