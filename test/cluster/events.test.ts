import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {expect} from 'chai'
import {EventLog, EVENT_TYPES, describeEvent, formatEvent, readEvents, type ClusterEvent} from '../../src/cluster/events.js'
import {parseSseBlock} from '../../src/client/node-events.js'
import Events from '../../src/commands/events.js'

describe('cluster event timeline', () => {
  let dir: string
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pad-events-'))))
  afterEach(() => fs.rmSync(dir, {recursive: true, force: true}))

  it('appends one JSON object per line with time, seq and type, and tells listeners', () => {
    const file = path.join(dir, 'events.jsonl')
    const log = new EventLog(file)
    const heard: ClusterEvent[] = []
    log.onEvent((e) => heard.push(e))
    log.record('start', {node: 0, pid: 42})
    log.record('election', {term: 3, winner: 1, node_id: '127.0.0.1:5001'})
    const lines = fs.readFileSync(file, 'utf8').trim().split('\n')
    expect(lines).to.have.length(2)
    const events = readEvents(file)
    expect(events.map((e) => [e.seq, e.type])).to.deep.equal([
      [1, 'start'],
      [2, 'election'],
    ])
    expect(events[1]).to.include({term: 3, winner: 1, node_id: '127.0.0.1:5001'})
    expect(Date.parse(events[0].time)).to.be.closeTo(Date.now(), 5000)
    expect(heard.map((e) => e.type)).to.deep.equal(['start', 'election'])
    expect((fs.statSync(file).mode & 0o777).toString(8)).to.equal('600')
  })

  it('continues the seq of an existing timeline and skips lines that are not events', () => {
    const file = path.join(dir, 'events.jsonl')
    new EventLog(file).record('up', {nodes: 3, supervisor_pid: 1})
    fs.appendFileSync(file, 'garbage\n')
    const again = new EventLog(file)
    again.record('down')
    expect(readEvents(file).map((e) => e.seq)).to.deep.equal([1, 2])
  })

  it('describes every event type in words', () => {
    const samples: Record<string, Record<string, unknown>> = {
      up: {nodes: 3, supervisor_pid: 9},
      down: {},
      recovered: {supervisor_pid: 9, killed: [10, 11]},
      start: {node: 1, pid: 10},
      exit: {node: 1, pid: 10, code: null, signal: 'SIGKILL', expected: true},
      kill: {node: 1, pid: 10},
      stop: {node: 1, pid: 10},
      pause: {node: 1, pid: 10},
      resume: {node: 1, pid: 10},
      restart: {node: 1, pid: 10},
      partition: {groups: [[0], [1, 2]], shape: null, bridge: null, cuts: [[0, 1], [0, 2]], for_ms: 10_000},
      delay: {node: 2, ms: 100, jitter_ms: 20, for_ms: null},
      loss: {node: 2, percent: 20, for_ms: null},
      heal: {reason: 'expired', what: ['partition']},
      transfer: {from: 0, to: 2},
      role: {node: 0, role: 'LEADER', term: 2},
      election: {term: 2, winner: 0, node_id: 'x'},
      leader: {leader: null, previous: 0, term: null},
      'snapshot-send': {node: 0, to: 2, index: 120_431, bytes: 24_222_105, ms: 2400},
      'snapshot-install': {node: 2, index: 120_431, rows: 1_000_000, ms: 3100},
      'member-add': {node: 3, pid: 12, leader: 0, via: '127.0.0.1:8080'},
      'member-promote': {node: 3, index: 1502, leader: 0, ms: 2300},
      'member-remove': {node: 0, index: 1510, leader: 1, was_leader: true},
      'power-cut': {nodes: [0, 2], dropped: [{node: 0, files: 2, bytes: 8192, entries: 1}, {node: 2, files: 0, bytes: 0, entries: 0}]},
      corrupt: {node: 1, file: '/d/node-1/node.db', how: 'bitflip', flipped: 64, range: [0, 65536]},
      'corrupt-found': {node: 1, file: '/d/node-1/node.db', reason: 'raft_log entry 7 fails its checksum'},
      repair: {node: 1, replacement: 3, kept: '/d/node-1.corrupt-x', reason: 'bad'},
      scenario: {scenario: 'leader-failure', step: 3, kind: 'pass', text: 'node 2 leads (term 3)'},
      warning: {message: 'something'},
    }
    expect(Object.keys(samples).sort()).to.deep.equal([...EVENT_TYPES].sort())
    const texts = Object.entries(samples).map(([type, fields]) => describeEvent({time: '2026-01-01T00:00:00.000Z', seq: 1, type, ...fields}))
    for (const text of texts) expect(text).to.be.a('string').and.not.include('undefined')
    expect(describeEvent({time: '', seq: 1, type: 'partition', ...samples.partition})).to.equal('partition {0} | {1,2} (cut 0-1 0-2) for 10s')
    expect(describeEvent({time: '', seq: 1, type: 'exit', ...samples.exit})).to.equal('node 1 killed by SIGKILL')
    expect(describeEvent({time: '', seq: 1, type: 'scenario', ...samples.scenario})).to.equal('leader-failure step 3: ✓ node 2 leads (term 3)')
    expect(describeEvent({time: '', seq: 1, type: 'transfer', ...samples.transfer})).to.equal('node 0 asked to hand its leadership to node 2')
    expect(describeEvent({time: '', seq: 1, type: 'partition', groups: null, shape: 'ring', bridge: null, cuts: [[0, 2]], for_ms: null})).to.equal('partition ring (cut 0-2)')
    expect(describeEvent({time: '', seq: 1, type: 'partition', groups: [[0], [1, 2]], shape: 'bridge', bridge: 1, cuts: [[0, 2]], for_ms: null})).to.equal(
      'partition bridge {0} | {1,2} node 1 bridges both (cut 0-2)',
    )
    expect(describeEvent({time: '', seq: 1, type: 'snapshot-send', ...samples['snapshot-send']})).to.equal('node 0 sent a snapshot (index 120431, 23.1 MB, 2.4 s) to node 2')
    expect(describeEvent({time: '', seq: 1, type: 'snapshot-install', ...samples['snapshot-install']})).to.equal(
      'node 2 installed a snapshot at index 120431 (1,000,000 rows, 3.1 s)',
    )
    expect(describeEvent({time: '', seq: 1, type: 'member-add', ...samples['member-add']})).to.equal('node 3 joined as a learner (pid 12, through node 0)')
    expect(describeEvent({time: '', seq: 1, type: 'member-promote', ...samples['member-promote']})).to.equal('node 3 is a voter (configuration entry 1502, 2.3 s after it joined)')
    expect(describeEvent({time: '', seq: 1, type: 'member-remove', ...samples['member-remove']})).to.equal('node 0 left the configuration (entry 1510; it led, node 1 leads now)')
    expect(describeEvent({time: '', seq: 1, type: 'member-remove', node: 2, index: 9, leader: 0, was_leader: false})).to.equal('node 2 left the configuration (entry 9)')
    expect(describeEvent({time: '', seq: 1, type: 'corrupt', ...samples.corrupt})).to.equal("node 1's /d/node-1/node.db: 64 bits flipped")
    expect(describeEvent({time: '', seq: 1, type: 'corrupt', node: 2, file: 'w', how: 'truncate', cut: 4096})).to.equal("node 2's w: cut 4096 bytes off its end")
    expect(describeEvent({time: '', seq: 1, type: 'repair', ...samples.repair})).to.equal('node 1 repaired: node 3 took its place, its data kept in /d/node-1.corrupt-x')
    expect(formatEvent({time: '2026-01-01T12:34:56.789Z', seq: 1, type: 'election', ...samples.election})).to.equal(
      `12:34:56.789  ${'election'.padEnd(Math.max(...EVENT_TYPES.map((t) => t.length)))}  node 0 won the election for term 2`,
    )
  })

  it('parses Server-Sent Events blocks into typed events', () => {
    expect(parseSseBlock('event: role\ndata: {"type":"role","role":"LEADER","term":2,"leader":1,"time":"t"}')).to.deep.equal({
      ok: true,
      value: {type: 'role', role: 'LEADER', term: 2, leader: 1, time: 't'},
    })
    expect(parseSseBlock(': keepalive')).to.equal(null)
    expect(parseSseBlock('retry: 1000')).to.equal(null)
    expect(parseSseBlock('retry: 1000\nevent: term\ndata: {"type":"term",\ndata: "term":4,"time":"t"}')).to.deep.equal({ok: true, value: {type: 'term', term: 4, time: 't'}})
    expect(parseSseBlock('event: term\ndata: not json')).to.deep.equal({ok: false, message: 'event "term": data is not JSON'})
  })

  it('pad-cli events --help gives the fields of every event type', () => {
    const help = Events.description ?? ''
    for (const type of EVENT_TYPES) expect(help, type).to.match(new RegExp(`\\b${type}\\b[^;]*(\\{|;)`))
  })
})
