import {expect} from 'chai'
import {decodeControlRequest} from '../../src/api/control.js'
import {ClusterError} from '../../src/cluster/errors.js'
import {clusterPaths} from '../../src/cluster/layout.js'
import {catchUpTimeoutMs, caughtUp, checkNewPorts, CATCH_UP_LAG, newRecords, nextIndex, readyToPromote, removalRefusal, transferTarget} from '../../src/cluster/membership-plan.js'
import {DEFAULT_OPTIONS, nodeRecord, nodeRecords, type ClusterState} from '../../src/cluster/state.js'

const paths = clusterPaths('plan', '/nowhere')

function state(nodes = 3, options = DEFAULT_OPTIONS): ClusterState {
  const o = {...options, nodes}
  return {version: 1, name: 'plan', created_at: '', updated_at: '', options: o, supervisor: null, nodes: nodeRecords(paths, o)}
}

function refusedWith(fn: () => unknown, message: RegExp): void {
  try {
    fn()
  } catch (error) {
    expect(error).to.be.instanceOf(ClusterError)
    expect((error as Error).message).to.match(message)
    return
  }
  expect.fail(`not refused: ${message}`)
}

describe('membership: the control requests', () => {
  it('decodes add, remove and replace, and refuses hostile fields with one line', () => {
    expect(decodeControlRequest('{"op":"add"}')).to.deep.equal({ok: true, value: {op: 'add', wait: false}})
    expect(decodeControlRequest('{"op":"add","wait":true,"extra":[1]}')).to.deep.equal({ok: true, value: {op: 'add', wait: true}})
    expect(decodeControlRequest('{"op":"remove","node":"leader"}')).to.deep.equal({ok: true, value: {op: 'remove', node: 'leader'}})
    expect(decodeControlRequest('{"op":"replace","node":7}')).to.deep.equal({ok: true, value: {op: 'replace', node: 7}})
    // Not a membership change, but decoded by the same table: a power cut names nodes or all.
    expect(decodeControlRequest('{"op":"power-cut","nodes":[2,"leader"]}')).to.deep.equal({ok: true, value: {op: 'power-cut', nodes: [2, 'leader']}})
    expect(decodeControlRequest('{"op":"power-cut","all":true}')).to.deep.equal({ok: true, value: {op: 'power-cut', all: true}})
    const refused: [string, RegExp][] = [
      ['{"op":"add","wait":"yes"}', /^wait must be true or false$/],
      ['{"op":"add","wait":1}', /^wait must be true or false$/],
      ['{"op":"remove"}', /^node: give a node index or "leader"$/],
      ['{"op":"remove","node":-3}', /^node: give a node index or "leader"$/],
      ['{"op":"remove","node":"all"}', /^node: give a node index or "leader"$/],
      ['{"op":"replace","node":1e400}', /^node: give a node index or "leader"$/],
      ['{"op":"replace","node":[0]}', /^node: give a node index or "leader"$/],
    ]
    for (const [line, message] of refused) {
      const decoded = decodeControlRequest(line)
      expect(decoded.ok, line).to.equal(false)
      expect((decoded as {message: string}).message, line).to.match(message)
    }
  })
})

describe('membership: the rules of add, remove and replace', () => {
  it('gives a new node the index past every one used, by the cluster or by the leader\'s directory', () => {
    const s = state(3)
    expect(nextIndex(s, null)).to.equal(3)
    expect(nextIndex(s, 2)).to.equal(3)
    // A node joined by hand took id 3 and 4: the next is 5, and 3 and 4 become placeholders.
    expect(nextIndex(s, 4)).to.equal(5)
    const records = newRecords(paths, s, 5)
    expect(records.map((r) => [r.index, r.membership, r.joined, r.tcp_port])).to.deep.equal([
      [3, 'removed', true, 5003],
      [4, 'removed', true, 5004],
      [5, 'learner', true, 5005],
    ])
    expect(records[2]).to.include({http_port: 8085, raft_port: 6005, data_dir: paths.nodeDir(5), node_id: '127.0.0.1:5005'})
    // Removed nodes keep their index: never reused.
    s.nodes[2].membership = 'removed'
    expect(nextIndex(s, null)).to.equal(3)
  })

  it('refuses ports beyond 65535 or another node\'s', () => {
    const s = state(3, {...DEFAULT_OPTIONS, tcp_port: 65533})
    refusedWith(() => checkNewPorts(s.options, nodeRecord(paths, s.options, 3, true), s.nodes), /node 3 would need TCP port 65536, beyond 65535/)
    const close = state(3, {...DEFAULT_OPTIONS, tcp_port: 5000, http_port: 5003, raft_port: 5006})
    refusedWith(() => checkNewPorts(close.options, nodeRecord(paths, close.options, 3, true), close.nodes), /node 3 would need TCP port 5003, which node 0 has: the cluster's port bases \(5000, 5003, 5006\) are too close/)
    const fine = state(3)
    expect(() => checkNewPorts(fine.options, nodeRecord(paths, fine.options, 3, true), fine.nodes)).not.to.throw()
  })

  it('refuses a removal that leaves no voter or no live quorum, or of a non-member; a dead node may leave', () => {
    const three = {voters: [0, 1, 2], learners: [3]}
    const all = new Set([0, 1, 2, 3])
    expect(removalRefusal(1, three, all)).to.equal(null)
    expect(removalRefusal(3, three, all), 'a learner').to.equal(null)
    expect(removalRefusal(2, three, new Set([0, 1])), 'the dead node itself').to.equal(null)
    expect(removalRefusal(2, three, new Set([0]))).to.equal('removing node 2 would leave 1 live voter of 2, short of a quorum of 2: start node 1 first')
    expect(removalRefusal(0, {voters: [0, 1, 2, 3, 4], learners: []}, new Set([0, 1, 2]))).to.equal('removing node 0 would leave 2 live voters of 4, short of a quorum of 3: start nodes 3, 4 first')
    expect(removalRefusal(0, {voters: [0], learners: [1]}, all)).to.equal('node 0 is the last voter: a cluster needs one (add a node first, or stop the cluster with pad-cli down)')
    expect(removalRefusal(5, three, all)).to.equal('node 5 is not a member of the cluster\'s configuration (voters 0,1,2, learners 3)')
    expect(removalRefusal(5, {voters: [0], learners: []}, all)).to.match(/learners none\)$/)
  })

  it('hands leadership to the live voter with the longest log, never to a learner', () => {
    const config = {voters: [0, 1, 2, 4], learners: [3]}
    const logs = new Map([[1, 90], [2, 100], [3, 500], [4, 100]])
    expect(transferTarget(0, config, new Set([0, 1, 2, 3, 4]), (n) => logs.get(n) ?? 0)).to.equal(2)
    expect(transferTarget(0, config, new Set([0, 1, 3]), (n) => logs.get(n) ?? 0)).to.equal(1)
    expect(transferTarget(0, config, new Set([0, 3]), (n) => logs.get(n) ?? 0)).to.equal(null)
  })

  it('lets a learner catch up for longer the longer the log, within bounds; caught up is within the lag', () => {
    expect(catchUpTimeoutMs(0)).to.equal(30_000)
    expect(catchUpTimeoutMs(1_000_000)).to.equal(230_000)
    expect(catchUpTimeoutMs(1e12)).to.equal(30 * 60_000)
    expect(caughtUp(1000 - CATCH_UP_LAG, 1000)).to.equal(true)
    expect(caughtUp(1000 - CATCH_UP_LAG - 1, 1000)).to.equal(false)
  })

  it('a learner is promoted only once its own log holds the entry that made it a learner, however short the log', () => {
    // Within the lag of a 67-entry log, but it has received nothing: not yet.
    expect(readyToPromote(3, {last_applied: 0, learners: []}, 67)).to.equal(false)
    expect(readyToPromote(3, {last_applied: 67, learners: [4]}, 67)).to.equal(false)
    expect(readyToPromote(3, {last_applied: 60, learners: [3]}, 67)).to.equal(true)
    expect(readyToPromote(3, {last_applied: 1000 - CATCH_UP_LAG - 1, learners: [3]}, 1000)).to.equal(false)
    // A node that does not report its configuration: the lag alone.
    expect(readyToPromote(3, {last_applied: 0}, 67)).to.equal(true)
  })
})
