import {expect} from 'chai'
import type {Message} from '../../src/raft/index.js'
import {MAX_TERM_LEAD, messageBoundsError} from '../../src/transport/message-bounds.js'

describe('Raft message bounds at the driver boundary', () => {
  const context = {self: 1, maxId: 2, currentTerm: 4}
  const app: Message = {
    type: 'app',
    from: 0,
    to: 1,
    term: 5,
    logTerm: 4,
    index: 10,
    commit: 9,
    entries: [
      {index: 11, term: 4, type: 'normal', data: new Uint8Array()},
      {index: 12, term: 5, type: 'noop', data: new Uint8Array()},
    ],
  }
  const error = (change: Partial<Message>): string | null => messageBoundsError({...app, ...change}, context)

  it('lets what members send through', () => {
    expect(messageBoundsError(app, context)).to.equal(null)
    expect(messageBoundsError({type: 'heartbeat', from: 2, to: 1, term: 4, commit: 3}, context)).to.equal(null)
    expect(messageBoundsError({type: 'preVote', from: 2, to: 1, term: 5, index: 12, logTerm: 4}, context)).to.equal(null)
    expect(messageBoundsError({type: 'appResp', from: 0, to: 1, term: 5, index: 3, reject: true, rejectHint: 2, hintTerm: 1}, context)).to.equal(null)
    expect(messageBoundsError({type: 'heartbeat', from: 0, to: 1, term: 4 + MAX_TERM_LEAD}, context)).to.equal(null)
  })

  it('refuses terms the wire cannot grow from, or that jump too far ahead', () => {
    expect(error({term: 0xffff_ffff})).to.match(/outside/)
    expect(messageBoundsError({type: 'heartbeat', from: 0, to: 1, term: 5 + MAX_TERM_LEAD}, context)).to.match(/too far ahead/)
    expect(error({term: 1.5})).to.match(/outside/)
    expect(error({logTerm: 0xffff_ffff})).to.match(/logTerm/)
    expect(error({logTerm: 6})).to.match(/after the message's term/)
    expect(messageBoundsError({type: 'appResp', from: 0, to: 1, term: 5, hintTerm: -1}, context)).to.match(/hintTerm/)
  })

  it('refuses indexes that are not non-negative safe integers', () => {
    for (const bad of [-1, 0.5, Number.NaN, Infinity, 2 ** 53]) {
      expect(error({index: bad}), `index ${bad}`).to.match(/index/)
      expect(error({commit: bad}), `commit ${bad}`).to.match(/commit/)
    }
    expect(messageBoundsError({type: 'appResp', from: 0, to: 1, term: 5, rejectHint: -3}, context)).to.match(/rejectHint/)
  })

  it('refuses entries that do not follow the message index one by one, or carry a later term', () => {
    const e = (index: number, term: number) => ({index, term, type: 'normal' as const, data: new Uint8Array()})
    expect(error({entries: [e(12, 5)]})).to.match(/index 12, not 11/)
    expect(error({entries: [e(11, 5), e(11, 5)]})).to.match(/index 11, not 12/)
    expect(error({entries: [e(11, 6)]})).to.match(/term 6/)
    expect(error({entries: [e(11, 5), e(12, 4)]})).to.match(/before the term/)
    expect(error({entries: [e(11, 3)]})).to.match(/before the term 4/)
    expect(messageBoundsError({type: 'heartbeat', from: 0, to: 1, term: 5, entries: []}, context)).to.match(/carries entries/)
    expect(error({index: undefined})).to.match(/without the index/)
  })

  it('refuses senders that are not another member, and messages for someone else', () => {
    expect(error({from: 1})).to.match(/sender/)
    expect(error({from: 3})).to.match(/sender/)
    expect(error({to: 2})).to.match(/addressed/)
  })
})
