import {expect} from 'chai'
import {nothingRemembered, RefError, rememberLeader, resolveRef, type ClusterView} from '../../src/scenario/refs.js'
import {wrap} from '../../src/scenario/format.js'

function view(leader: number | null, processes: string[], term = 3): ClusterView {
  return {leader, term, nodes: processes.map((process, index) => ({index, process, membership: 'voter'}))}
}

describe('scenario node references', () => {
  it('resolves an index as itself and leader as who leads now', () => {
    const r = nothingRemembered()
    expect(resolveRef(2, view(0, ['running', 'running', 'running']), r)).to.equal(2)
    expect(resolveRef('leader', view(1, ['running', 'running', 'running']), r)).to.equal(1)
    expect(() => resolveRef('leader', view(null, ['running', 'running', 'running']), r)).to.throw(RefError, 'no node leads right now')
  })

  it('keeps old-leader as remembered, with its term, whoever leads later', () => {
    const r = nothingRemembered()
    expect(() => resolveRef('old-leader', view(1, ['running', 'running', 'running']), r)).to.throw(RefError, /no leader was remembered/)
    rememberLeader(view(1, ['running', 'running', 'running'], 4), r)
    expect(r.oldTerm).to.equal(4)
    expect(resolveRef('old-leader', view(2, ['running', 'exited', 'running']), r)).to.equal(1)
    // A remember when no node leads remembers none (the step using it then fails, saying why).
    rememberLeader(view(null, ['running', 'running', 'running']), r)
    expect(() => resolveRef('old-leader', view(2, ['running', 'running', 'running']), r)).to.throw(RefError)
  })

  it('picks a follower once, a running one that is neither leader nor old leader, and keeps it', () => {
    const r = nothingRemembered()
    rememberLeader(view(0, ['running', 'running', 'running']), r)
    // Node 0 led, node 1 leads now: the follower is node 2.
    expect(resolveRef('follower', view(1, ['running', 'running', 'running']), r)).to.equal(2)
    // Stopped since, it is still "the follower" (so "start the follower" names it).
    expect(resolveRef('follower', view(1, ['running', 'running', 'stopped']), r)).to.equal(2)
    const fresh = nothingRemembered()
    expect(resolveRef('follower', view(0, ['running', 'stopped', 'running']), fresh)).to.equal(2)
    expect(() => resolveRef('follower', view(0, ['running', 'stopped', 'stopped']), nothingRemembered())).to.throw(RefError, /no running follower/)
  })

  it('names the node an add started', () => {
    const r = nothingRemembered()
    expect(() => resolveRef('added', view(0, ['running']), r)).to.throw(RefError, /no node was added/)
    r.added = 3
    expect(resolveRef('added', view(0, ['running']), r)).to.equal(3)
  })

  it('wraps narration at word boundaries', () => {
    expect(wrap('one two three four', 9)).to.deep.equal(['one two', 'three', 'four'])
    expect(wrap('averyveryverylongword x', 5)).to.deep.equal(['averyveryverylongword', 'x'])
    expect(wrap('', 10)).to.deep.equal([])
  })
})
