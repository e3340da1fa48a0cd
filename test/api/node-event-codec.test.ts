import {expect} from 'chai'
import {decodeNodeEvent} from '../../src/api/node-event-codec.js'

const HELLO = {
  time: '2026-01-01T00:00:00.000Z',
  node_id: '127.0.0.1:7000',
  state: 'FOLLOWER',
  current_term: 4,
  log_length: 10,
  first_index: 1,
  commit_index: 9,
  last_applied: 9,
  cluster_size: 3,
  leader_id: null,
  leader_index: null,
  node_index: 2,
  pre_candidate: false,
  elections_won: 0,
  snapshot_index: 0,
  snapshot_term: 0,
  snapshots_sent: 0,
  snapshots_installed: 0,
  disk_bytes: 4096,
}

function refusal(name: string, data: unknown): string {
  const decoded = decodeNodeEvent(name, typeof data === 'string' ? data : JSON.stringify(data))
  if (decoded.ok) return expect.fail(`decoded ${JSON.stringify(decoded.value)}`)
  return decoded.message
}

describe('/events decoder', () => {
  it('decodes every event type into its typed item, with the event name as type', () => {
    expect(decodeNodeEvent('hello', JSON.stringify({...HELLO, extra: 1}))).to.deep.equal({ok: true, value: {type: 'hello', ...HELLO}})
    const events = [
      {type: 'role', role: 'PRE_CANDIDATE', term: 5, leader: null, time: 't'},
      {type: 'term', term: 6, time: 't'},
      {type: 'commit', commit_index: 12, last_applied: 11, time: 't'},
      {type: 'vote', term: 6, vote: 2, time: 't'},
      {type: 'vote', term: 7, vote: null, time: 't'},
      {type: 'fault', action: 'set', peers: [0, 1], drop: true, delayMs: 20, jitterMs: 5, loss: 0.5, until: 1_700_000_000_000, time: 't'},
      {type: 'fault', action: 'heal', time: 't'},
      {type: 'snapshot-send', to: 2, index: 500, bytes: 65_536, ms: 12, time: 't'},
      {type: 'snapshot-install', index: 500, rows: 480, ms: 30, time: 't'},
      {type: 'rpc', kind: 'append', from: 1, to: 2, term: 3, entries: 4, reject: false, time: 't'},
      {type: 'rpc', kind: 'vote-reply', from: 2, to: 1, term: 3, entries: 0, reject: true, time: 't'},
    ]
    for (const event of events) expect(decodeNodeEvent(event.type, JSON.stringify(event))).to.deep.equal({ok: true, value: event})
  })

  it('passes on only the fields of the type, never the raw object', () => {
    const decoded = decodeNodeEvent('term', '{"type":"term","term":1,"time":"t","__proto__":{"polluted":true},"extra":[1]}')
    expect(decoded).to.deep.equal({ok: true, value: {type: 'term', term: 1, time: 't'}})
    expect(({} as Record<string, unknown>).polluted).to.equal(undefined)
  })

  it('refuses hostile input with a reason, never a throw', () => {
    expect(refusal('term', 'not json')).to.equal('event "term": data is not JSON')
    expect(refusal('term', '')).to.equal('event "term": data is not JSON')
    expect(refusal('term', '{"type":"term","term":1,"time":"t"')).to.equal('event "term": data is not JSON')
    for (const data of ['null', '[]', '3', '"term"', 'true']) expect(refusal('term', data)).to.equal('event "term": data is not a JSON object')
    expect(refusal('message', {type: 'term', term: 1, time: 't'})).to.equal('event "message": unknown event')
    for (const name of ['__proto__', 'constructor', 'toString', 'hasOwnProperty', '']) expect(refusal(name, {type: name, time: 't'})).to.match(/: unknown event$/)
    expect(refusal('x'.repeat(1000), {})).to.have.length.below(80)
    expect(refusal('term', {type: 'role', term: 1, time: 't'})).to.equal('event "term": type "role" is not the event\'s name')
    expect(refusal('term', {type: 'term', term: 1})).to.equal('event "term": time is not a string')
    for (const term of ['-1', '1.5', '"1"', 'null', '1e400', '9007199254740993', '{}', '[]']) {
      expect(refusal('term', `{"type":"term","term":${term},"time":"t"}`), term).to.equal('event "term": term is not a count')
    }
    expect(refusal('role', {type: 'role', role: 'leader', term: 1, leader: null, time: 't'})).to.equal('event "role": role is not a Raft role')
    expect(refusal('role', {type: 'role', role: 'LEADER', term: 1, time: 't'})).to.equal('event "role": leader is not a count')
    expect(refusal('vote', {type: 'vote', term: 1, vote: -1, time: 't'})).to.equal('event "vote": vote is not a count')
    expect(refusal('hello', {...HELLO, voted_for: 'me'})).to.equal('event "hello": voted_for is not a count')
    expect(refusal('commit', {type: 'commit', commit_index: 1, time: 't'})).to.equal('event "commit": last_applied is not a count')
    expect(refusal('hello', {...HELLO, state: 'KING'})).to.equal('event "hello": state is not a Raft role')
    expect(refusal('hello', {...HELLO, pre_candidate: 'no'})).to.equal('event "hello": pre_candidate is not a boolean')
    expect(refusal('hello', {...HELLO, leader_id: 7})).to.equal('event "hello": leader_id is not a string')
    expect(refusal('hello', {...HELLO, elections_won: undefined})).to.equal('event "hello": elections_won is not a count')
    expect(refusal('hello', {...HELLO, disk_bytes: -1})).to.equal('event "hello": disk_bytes is not a count')
    expect(refusal('snapshot-send', {type: 'snapshot-send', to: 1, index: 5, bytes: 10, time: 't'})).to.equal('event "snapshot-send": ms is not a count')
    expect(refusal('snapshot-install', {type: 'snapshot-install', index: 5, rows: 1.5, ms: 1, time: 't'})).to.equal('event "snapshot-install": rows is not a count')
    expect(refusal('rpc', {type: 'rpc', kind: 'app', from: 1, to: 2, term: 3, entries: 0, reject: false, time: 't'})).to.equal('event "rpc": kind is not a Raft message kind')
    expect(refusal('rpc', {type: 'rpc', kind: '__proto__', from: 1, to: 2, term: 3, entries: 0, reject: false, time: 't'})).to.equal('event "rpc": kind is not a Raft message kind')
    expect(refusal('rpc', {type: 'rpc', kind: 'vote', from: 1, to: 2, term: 3, entries: -1, reject: false, time: 't'})).to.equal('event "rpc": entries is not a count')
    expect(refusal('rpc', {type: 'rpc', kind: 'vote', from: 1, to: 2, term: 3, entries: 0, reject: 0, time: 't'})).to.equal('event "rpc": reject is not a boolean')
    expect(refusal('fault', {type: 'fault', action: 'explode', time: 't'})).to.equal('event "fault": action is neither "set" nor "heal"')
    expect(refusal('fault', {type: 'fault', action: 'set', time: 't'})).to.equal('event "fault": peers is not a list of member indexes')
    expect(refusal('fault', {type: 'fault', action: 'set', peers: [1, -1], time: 't'})).to.equal('event "fault": peers is not a list of member indexes')
    expect(refusal('fault', {type: 'fault', action: 'set', peers: [1], drop: 'yes', time: 't'})).to.equal('event "fault": drop is not a boolean')
    expect(refusal('fault', {type: 'fault', action: 'set', peers: [1], delayMs: -5, time: 't'})).to.equal('event "fault": delayMs is not a non-negative number')
    expect(refusal('fault', {type: 'fault', action: 'set', peers: [1], loss: 2, time: 't'})).to.equal('event "fault": loss is not a probability')
  })
})
