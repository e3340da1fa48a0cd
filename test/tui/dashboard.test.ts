import {expect} from 'chai'
import type blessed from 'blessed'
import type {ClusterHandle} from '../../src/cluster/cluster.js'
import {planAction} from '../../src/tui/actions.js'
import {TopController} from '../../src/tui/app.js'
import {TopModel} from '../../src/tui/model.js'
import {snapshotText} from '../../src/tui/once.js'
import {BackgroundPublisher} from '../../src/tui/publisher.js'
import {HINT_LONG, HINT_SHORT, TopView} from '../../src/tui/view.js'
import {cellFg, fakeScreen, lineText, node, screenText, status} from './helpers.js'

const now = (): string => new Date().toISOString()

function threeNodes(): TopModel {
  const model = new TopModel('default')
  model.setStatus(status([node(0, {role: 'LEADER'}), node(1), node(2, {faults: [{peer: 0, drop: true, expires_at: null}]})]))
  model.loadHistory([
    {time: now(), seq: 1, type: 'up', nodes: 3, supervisor_pid: 999},
    {time: now(), seq: 2, type: 'election', term: 2, winner: 0, node_id: 'node-0'},
  ])
  return model
}

describe('pad-cli top, headless', () => {
  let screen: blessed.Widgets.Screen
  afterEach(() => screen?.destroy())

  it('draws the header, one table row per node with its role colored, and the hint line on 80x24', () => {
    screen = fakeScreen(80, 24)
    const view = new TopView(screen)
    view.render(threeNodes().snapshot(), 1)
    const lines = screenText(screen)
    expect(lines).to.have.length(24)
    expect(lines[0]).to.match(/cluster default +leader node 0 +term 2 +elections 1 +0 msgs\/s/)
    expect(lines[1]).to.match(/#\s+NODE\s+PROCESS\s+ROLE\s+TERM\s+COMMIT\s+APPLIED\s+LOG\s+LAG\s+FAULTS/)
    expect(lines[2]).to.match(/^ {2}0 node-0 +running +LEADER +2 +10 +10 +10 +0/)
    expect(lines[3]).to.match(/^> 1 node-1 +running +FOLLOWER/)
    expect(lines[4]).to.match(/^ {2}2 node-2 +running +FOLLOWER .* cut from 0/)
    const roleX = lines[2].indexOf('LEADER')
    expect(cellFg(screen, roleX, 2)).to.equal(2) // green
    expect(cellFg(screen, lines[3].indexOf('FOLLOWER'), 3)).to.equal(6) // cyan
    expect(lines[23].trimEnd()).to.equal(HINT_SHORT)
    expect(lines.join('\n')).to.include('node 0 won the election for term 2')
  })

  it('shows a role change after events: the old leader down, another leader, newest event first', () => {
    screen = fakeScreen(80, 24)
    const view = new TopView(screen)
    const model = threeNodes()
    view.render(model.snapshot(), 0)
    model.clusterEvent({time: now(), seq: 3, type: 'kill', node: 0, pid: 1000})
    model.clusterEvent({time: now(), seq: 4, type: 'exit', node: 0, pid: 1000, code: null, signal: 'SIGKILL', expected: true})
    model.nodeEvent(2, {type: 'role', role: 'LEADER', term: 3, leader: 2, time: now()})
    model.clusterEvent({time: now(), seq: 5, type: 'election', term: 3, winner: 2, node_id: 'node-2'})
    view.render(model.snapshot(), 0)
    const lines = screenText(screen)
    expect(lines[0]).to.match(/leader node 2 +term 3 +elections 2/)
    expect(lines[2]).to.match(/^> 0 node-0 +exited +DOWN/)
    expect(cellFg(screen, lines[2].indexOf('DOWN'), 2)).to.equal(1) // red
    expect(lines[4]).to.match(/^ {2}2 node-2 +running +LEADER +3/)
    const at = (text: string): number => lines.findIndex((l) => l.includes(text))
    expect(at('node 2 won the election for term 3')).to.be.greaterThan(5)
    expect(at('node 2 won the election for term 3')).to.be.lessThan(at('node 0 killed by SIGKILL'))
    expect(at('node 0 killed by SIGKILL')).to.be.lessThan(at('SIGKILL to node 0'))
    expect(at('SIGKILL to node 0')).to.be.lessThan(at('node 0 won the election for term 2'))
  })

  it('shows a node that crashed as crashed, with its last log line in the timeline, and a killed one as exited', () => {
    screen = fakeScreen(100, 24)
    const view = new TopView(screen)
    const model = threeNodes()
    model.clusterEvent({time: now(), seq: 3, type: 'exit', node: 1, pid: 1001, code: null, signal: 'SIGSEGV', expected: false, crashed: true, log: ['Segmentation fault']})
    model.clusterEvent({time: now(), seq: 4, type: 'kill', node: 2, pid: 1002})
    model.clusterEvent({time: now(), seq: 5, type: 'exit', node: 2, pid: 1002, code: null, signal: 'SIGKILL', expected: true, crashed: false})
    view.render(model.snapshot(), 0)
    const lines = screenText(screen)
    expect(lines[3]).to.match(/^ {2}1 node-1 +crashed +DOWN/)
    expect(lines[4]).to.match(/^ {2}2 node-2 +exited +DOWN/)
    expect(lines.join('\n')).to.include('node 1 crashed: killed by SIGSEGV; log: Segmentation fault')
    // The supervisor's status says the same when it next answers.
    model.setStatus(status([node(0, {role: 'LEADER'}), node(1, {process: 'crashed', pid: null, role: null, exit_signal: 'SIGSEGV', crash_log: ['Segmentation fault']}), node(2)]))
    expect(model.snapshot().nodes[1]).to.include({process: 'crashed', role: 'DOWN', pid: null})
  })

  it('shows where each log starts and its size on disk from 100 columns on, and the snapshots in the timeline', () => {
    const model = threeNodes()
    model.setStatus(status([node(0, {role: 'LEADER', first_index: 501, snapshot_index: 500, disk_bytes: 24_222_105, snapshots_sent: 1}), node(1), node(2, {faults: [{peer: 0, drop: true, expires_at: null}]})]))
    model.clusterEvent({time: now(), seq: 3, type: 'snapshot-send', node: 0, to: 2, index: 500, bytes: 65_536, ms: 120})
    model.nodeEvent(2, {type: 'snapshot-install', index: 500, rows: 480, ms: 30, time: now()})
    model.clusterEvent({time: now(), seq: 4, type: 'snapshot-install', node: 2, index: 500, rows: 480, ms: 30})
    expect(model.snapshot().nodes[0]).to.include({first_index: 501, snapshot_index: 500, disk_bytes: 24_222_105, snapshots_sent: 1, snapshots_installed: 0})
    expect(model.snapshot().nodes[2]).to.include({first_index: 501, snapshot_index: 500})

    screen = fakeScreen(100, 24)
    new TopView(screen).render(model.snapshot(), 1)
    const wide = screenText(screen)
    expect(wide[1]).to.match(/LAG +FIRST +DISK +FAULTS/)
    expect(wide[2]).to.match(/^ {2}0 node-0 +running +LEADER +2 +10 +10 +10 +0 +501 +23\.1 MB/)
    expect(wide[4]).to.match(/ 501 +64\.0 KB +cut from 0/)
    expect(wide.join('\n')).to.include('node 2 installed a snapshot at index 500 (480 rows, 0.0 s)')
    expect(wide.join('\n')).to.include('node 0 sent a snapshot (index 500, 64.0 KB, 0.1 s) to node 2')
    screen.destroy()

    screen = fakeScreen(80, 24)
    new TopView(screen).render(model.snapshot(), 1)
    const narrow = screenText(screen)
    expect(narrow[1]).to.match(/LAG +FAULTS/)
    expect(narrow[2]).not.to.include('501')
    expect(snapshotText(model.snapshot())).to.match(/LAG +FIRST +DISK +FAULTS\n0 .* 501 +23\.1 MB/)
  })

  it('lays out again on resize, and never throws on a tiny screen', () => {
    screen = fakeScreen(160, 48)
    const view = new TopView(screen)
    const model = threeNodes()
    for (let i = 0; i < 5; i++) model.tick(Date.now() + i * 1000)
    view.render(model.snapshot(), 0)
    expect(lineText(screen, 47).trimEnd()).to.equal(HINT_LONG)
    for (const [w, h] of [[20, 5], [10, 2], [1, 1], [80, 24]]) {
      ;(screen.program as unknown as {cols: number; rows: number}).cols = w
      ;(screen.program as unknown as {cols: number; rows: number}).rows = h
      screen.alloc()
      expect(() => view.render(model.snapshot(), 0)).not.to.throw()
    }
    expect(lineText(screen, 23).trimEnd()).to.equal(HINT_SHORT)
    view.setHelp(true)
    view.render(model.snapshot(), 0)
    const help = screenText(screen).join('\n')
    expect(help).to.include('kill the selected node (SIGKILL)')
    expect(help).to.include('q, Ctrl-C   quit')
  })

  it('prints the same data once as text (pad-cli top --once)', () => {
    const text = snapshotText(threeNodes().snapshot())
    expect(text.split('\n')[0]).to.match(/^pad-cli top {2}cluster default {2}leader node 0/)
    expect(text).to.match(/\n0 +node-0 +VOTER +running +LEADER/)
    expect(text).to.include('node 0 won the election for term 2')
  })
})

describe('pad-cli top keys', () => {
  it('plans each key with its pad-cli command, and ignores unknown keys', () => {
    const snapshot = threeNodes().snapshot()
    expect(planAction('x', 1, snapshot)).to.deep.include({kind: 'node-op', op: 'kill', node: 1, command: 'pad-cli kill 1'})
    expect(planAction('s', 2, snapshot)).to.deep.include({op: 'stop', command: 'pad-cli stop 2'})
    expect(planAction('r', 2, snapshot)).to.deep.include({op: 'restart'})
    expect(planAction('p', 2, snapshot)).to.deep.include({op: 'pause', command: 'pad-cli pause 2'})
    expect(planAction('i', 0, snapshot)).to.deep.include({kind: 'partition', command: 'pad-cli partition 0'})
    expect(planAction('h', 0, snapshot)).to.deep.include({kind: 'heal', command: 'pad-cli heal'})
    expect(planAction('w', 2, snapshot)).to.deep.include({kind: 'power-cut', node: 2, command: 'pad-cli power-cut 2'})
    expect(planAction('t', 0, snapshot)).to.deep.include({kind: 'transfer', from: 0, to: 1, command: 'pad-cli transfer 1'})
    expect(planAction('t', 1, snapshot)?.kind).to.equal('refuse')
    for (const key of ['z', 'X', 'enter', '1', 'q']) expect(planAction(key, 0, snapshot)).to.equal(null)
    const other = {...snapshot, cluster: 'test', nodes: snapshot.nodes.map((n) => (n.index === 1 ? {...n, process: 'exited', role: 'DOWN' as const} : n))}
    expect(planAction('r', 1, other)).to.deep.include({op: 'start', command: 'pad-cli start 1 --cluster test'})
    expect(planAction('p', 1, other)?.kind).to.equal('refuse')
  })

  it("echoes for b what the key does: JSON POSTed to the leader's /publish at the publisher's rate", () => {
    const snapshot = threeNodes().snapshot()
    const plan = planAction('b', 1, snapshot)
    expect(plan).to.deep.include({kind: 'publisher', on: true})
    expect((plan as {command: string}).command).to.equal(
      `while sleep 0.05; do curl -s -X POST http://127.0.0.1:7000/publish -H 'content-type: application/json' -d '{"topic":"top-demo","body":{"n":1}}' >/dev/null; done   (until b; to the leader of the moment)`,
    )
    expect((plan as {command: string}).command).to.not.include('bench')
  })

  it('runs an action through the supervisor and prints its command in the timeline', async () => {
    const model = threeNodes()
    const requests: unknown[] = []
    const cluster = {request: async (request: unknown) => requests.push(request)} as unknown as ClusterHandle
    const controller = new TopController(model, cluster, new BackgroundPublisher(model, 20, 'top-test'))
    controller.move(1)
    await controller.press('x')
    await controller.press('z')
    controller.move(5)
    await controller.press('h')
    expect(requests).to.deep.equal([{op: 'kill', node: 1}, {op: 'heal'}])
    const texts = model.snapshot().timeline.map((e) => e.text)
    expect(texts.slice(0, 2)).to.deep.equal(['pad-cli heal', 'pad-cli kill 1'])
    expect(controller.selected).to.equal(2)
  })

  it('has keys for add and remove, each with its pad-cli command, listed in the help', () => {
    const snapshot = threeNodes().snapshot()
    expect(planAction('a', 1, snapshot)).to.deep.equal({kind: 'add', command: 'pad-cli add'})
    expect(planAction('d', 2, snapshot)).to.deep.equal({kind: 'remove', node: 2, command: 'pad-cli remove 2'})
    expect(planAction('a', 0, {...snapshot, cluster: 'test'})).to.deep.include({command: 'pad-cli add --cluster test'})
    const removed = {...snapshot, nodes: snapshot.nodes.map((n) => (n.index === 2 ? {...n, membership: 'removed' as const, process: 'stopped', role: 'DOWN' as const} : n))}
    for (const key of ['d', 'x', 's', 'r', 'p', 'i']) {
      expect(planAction(key, 2, removed)).to.deep.equal({kind: 'refuse', message: 'node 2 was removed from the cluster (pad-cli remove): nothing to do with it'})
    }
    const screen = fakeScreen(80, 24)
    try {
      const view = new TopView(screen)
      view.setHelp(true)
      view.render(threeNodes().snapshot(), 0)
      const help = screenText(screen).join('\n')
      expect(help).to.include('add a node (it joins as a learner, then votes)')
      expect(help).to.include('remove the selected node from the cluster')
    } finally {
      screen.destroy()
    }
  })

  it('sends add and remove to the supervisor, and shows a learner and a removed node in the ROLE column', async () => {
    const model = new TopModel('default')
    model.setStatus(status([node(0, {role: 'LEADER'}), node(1, {membership: 'removed', process: 'stopped', pid: null}), node(2), node(3, {membership: 'learner'})]))
    const requests: unknown[] = []
    const cluster = {request: async (request: unknown) => requests.push(request)} as unknown as ClusterHandle
    const controller = new TopController(model, cluster, new BackgroundPublisher(model, 20, 'top-test'))
    await controller.press('a')
    controller.move(3)
    await controller.press('d')
    expect(requests).to.deep.equal([{op: 'add', wait: false}, {op: 'remove', node: 3}])
    expect(model.snapshot().timeline.map((e) => e.text).slice(0, 2)).to.deep.equal(['pad-cli remove 3', 'pad-cli add'])
    const screen = fakeScreen(80, 24)
    try {
      new TopView(screen).render(model.snapshot(), 0)
      const lines = screenText(screen)
      expect(lines[3]).to.match(/^ {2}1 node-1 +stopped +REMOVED/)
      expect(lines[5]).to.match(/^ {2}3 node-3 +running +LEARNER +2/)
      expect(cellFg(screen, lines[5].indexOf('LEARNER'), 5)).to.equal(4) // blue
    } finally {
      screen.destroy()
    }
    expect(snapshotText(model.snapshot())).to.match(/\n1 +node-1 +REMOVED +stopped +DOWN[^\n]*\n2 +node-2 +VOTER +running +FOLLOWER[^\n]*\n3 +node-3 +LEARNER +running +FOLLOWER/)
  })
})
