/** GET /events: a stream whose unsent bytes would pass --max-pending is cut off, the others go on. */
import {EventEmitter} from 'node:events'
import type http from 'node:http'
import {expect} from 'chai'
import type {RaftInfo} from '../../src/api/node-http.js'
import {decodeNodeEvent} from '../../src/api/node-event-codec.js'
import {NodeEvents} from '../../src/broker/node-events.js'
import type {Message} from '../../src/raft/index.js'
import type {RaftDriver} from '../../src/broker/raft-driver.js'

/** The part of a ServerResponse NodeEvents uses, with a backlog that grows when the reader does not read. */
class FakeStream extends EventEmitter {
  writableLength = 0
  written = ''
  destroyed = false
  reading = true

  writeHead(): this {
    return this
  }

  write(text: string): boolean {
    this.written += text
    if (!this.reading) this.writableLength += Buffer.byteLength(text)
    return true
  }

  destroy(): void {
    this.destroyed = true
    this.emit('close')
  }

  end(): void {
    this.emit('close')
  }
}

/** What the stream opens with: a follower's /raft answer. */
const SNAPSHOT: RaftInfo = {
  node_id: '127.0.0.1:5000',
  state: 'FOLLOWER',
  current_term: 1,
  log_length: 0,
  first_index: 1,
  commit_index: 0,
  last_applied: 0,
  cluster_size: 3,
  leader_id: null,
  leader_index: null,
  node_index: 0,
  pre_candidate: false,
  elections_won: 0,
  snapshot_index: 0,
  snapshot_term: 0,
  snapshots_sent: 0,
  snapshots_installed: 0,
  disk_bytes: 4096,
}

describe('node events (SSE)', () => {
  it('cuts off a stream whose unsent bytes would pass the bound, and keeps the one that reads', () => {
    const driver = new EventEmitter()
    const events = new NodeEvents(driver as unknown as RaftDriver, 4096)
    const fast = new FakeStream()
    const slow = new FakeStream()
    slow.reading = false
    for (const stream of [fast, slow]) events.stream(new EventEmitter() as http.IncomingMessage, stream as unknown as http.ServerResponse, SNAPSHOT)
    for (let i = 0; i < 100; i++) driver.emit('event', {type: 'commit', commit_index: i, padding: 'x'.repeat(100)})
    expect(slow.destroyed).to.equal(true)
    expect(slow.writableLength).to.be.at.most(4096)
    expect(fast.destroyed).to.equal(false)
    expect(fast.written.match(/event: commit/g)).to.have.length(100)
    events.close()
  })

  it('taps the Raft messages the node sends only while a stream is open, and sends them as rpc events, sampled', () => {
    const driver = new EventEmitter() as EventEmitter & {rpcTap: ((message: Message) => void) | null}
    driver.rpcTap = null
    const events = new NodeEvents(driver as unknown as RaftDriver, 1 << 20)
    expect(driver.rpcTap, 'no reader: no tap').to.equal(null)
    const stream = new FakeStream()
    events.stream(new EventEmitter() as http.IncomingMessage, stream as unknown as http.ServerResponse, SNAPSHOT)
    const tap = driver.rpcTap as ((message: Message) => void) | null
    if (tap === null) throw new Error('a reader, but no tap')
    const entry = {index: 8, term: 3, type: 'normal' as const, data: new Uint8Array(1)}
    // A burst of appends within one instant: only the first of the link passes; every vote passes.
    for (let i = 0; i < 50; i++) tap({type: 'app', from: 0, to: 1, term: 3, index: 7, logTerm: 3, commit: 7, entries: [entry, entry]})
    tap({type: 'app', from: 0, to: 2, term: 3, entries: []})
    for (let i = 0; i < 3; i++) tap({type: 'voteResp', from: 0, to: 2, term: 4, reject: true})
    const items = [...stream.written.matchAll(/event: (\S+)\ndata: (.*)\n\n/g)].filter((m) => m[1] === 'rpc').map((m) => decodeNodeEvent(m[1], m[2]))
    const rpcs = items.map((d) => {
      if (!d.ok || d.value.type !== 'rpc') throw new Error(`not an rpc event: ${JSON.stringify(d)}`)
      const {time: _time, ...event} = d.value
      return event
    })
    expect(rpcs).to.deep.equal([
      {type: 'rpc', kind: 'append', from: 0, to: 1, term: 3, entries: 2, reject: false},
      {type: 'rpc', kind: 'append', from: 0, to: 2, term: 3, entries: 0, reject: false},
      {type: 'rpc', kind: 'vote-reply', from: 0, to: 2, term: 4, entries: 0, reject: true},
      {type: 'rpc', kind: 'vote-reply', from: 0, to: 2, term: 4, entries: 0, reject: true},
      {type: 'rpc', kind: 'vote-reply', from: 0, to: 2, term: 4, entries: 0, reject: true},
    ])
    stream.end()
    expect(driver.rpcTap, 'the last reader left: no tap').to.equal(null)
    events.close()
  })
})
