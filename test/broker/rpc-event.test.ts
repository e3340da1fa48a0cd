/** The core's messages as /events `rpc` events: every kind named, and what decodes on the other side. */
import {expect} from 'chai'
import {decodeNodeEvent} from '../../src/api/node-event-codec.js'
import {RPC_KINDS} from '../../src/api/node-events.js'
import {RPC_KIND_OF, rpcEvent} from '../../src/broker/rpc-event.js'

describe('rpc events', () => {
  it('names every message type of the core with its own kind of the contract', () => {
    expect(RPC_KIND_OF).to.deep.equal({
      app: 'append',
      appResp: 'append-reply',
      heartbeat: 'heartbeat',
      heartbeatResp: 'heartbeat-reply',
      vote: 'vote',
      voteResp: 'vote-reply',
      preVote: 'prevote',
      preVoteResp: 'prevote-reply',
      timeoutNow: 'timeout-now',
      snap: 'snapshot',
    })
    expect(Object.values(RPC_KIND_OF)).to.have.members([...RPC_KINDS])
  })

  it('counts an append\'s entries, says a refusal, and decodes as the contract says', () => {
    const entry = {index: 5, term: 2, type: 'normal' as const, data: new Uint8Array(3)}
    const cases = [
      rpcEvent({type: 'app', from: 1, to: 2, term: 2, index: 4, logTerm: 2, commit: 4, entries: [entry, entry, entry]}),
      rpcEvent({type: 'appResp', from: 2, to: 1, term: 2, index: 4, reject: true, rejectHint: 3, hintTerm: 1}),
      rpcEvent({type: 'snap', from: 1, to: 0, term: 2, snapshot: {index: 90, term: 2, membership: {voters: [0, 1, 2], learners: []}}}),
      rpcEvent({type: 'preVote', from: 0, to: 1, term: 3, index: 4, logTerm: 2}),
    ]
    expect(cases).to.deep.equal([
      {type: 'rpc', kind: 'append', from: 1, to: 2, term: 2, entries: 3, reject: false},
      {type: 'rpc', kind: 'append-reply', from: 2, to: 1, term: 2, entries: 0, reject: true},
      {type: 'rpc', kind: 'snapshot', from: 1, to: 0, term: 2, entries: 0, reject: false},
      {type: 'rpc', kind: 'prevote', from: 0, to: 1, term: 3, entries: 0, reject: false},
    ])
    for (const event of cases) {
      const data = {time: '2026-01-01T00:00:00.000Z', ...event}
      expect(decodeNodeEvent('rpc', JSON.stringify(data))).to.deep.equal({ok: true, value: data})
    }
  })
})
