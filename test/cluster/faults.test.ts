import {expect} from 'chai'
import {
  bisect,
  dropExpired,
  emptyRules,
  groupPartition,
  nextExpiry,
  nodeFaults,
  parseOrder,
  planPartition,
  parseShape,
  putBodies,
  reachability,
  shapePartition,
} from '../../src/cluster/faults.js'
import {ClusterError} from '../../src/cluster/errors.js'

function refused(fn: () => unknown, pattern: RegExp): void {
  try {
    fn()
  } catch (error) {
    expect(error).to.be.instanceOf(ClusterError)
    expect((error as ClusterError).code).to.equal('BAD_ARGUMENT')
    expect((error as Error).message).to.match(pattern)
    expect((error as Error).message).to.not.include('\n')
    return
  }
  expect.fail('expected a refusal')
}

describe('cluster faults: partitions', () => {
  it('partition 0 cuts node 0 off from the rest', () => {
    const p = groupPartition([[0]], 3)
    expect(p.groups).to.deep.equal([[0], [1, 2]])
    expect(p.cuts).to.deep.equal([
      [0, 1],
      [0, 2],
    ])
  })

  it('partition 0,1 2 gives {0,1} | {2} | rest', () => {
    const p = groupPartition([[1, 0], [2]], 5)
    expect(p.groups).to.deep.equal([[0, 1], [2], [3, 4]])
    const reach = reachability(p, 5)
    expect(reach[0]).to.deep.equal([0, 1])
    expect(reach[2]).to.deep.equal([2])
    expect(reach[4]).to.deep.equal([3, 4])
  })

  it('groups that cover every node are all separate groups', () => {
    expect(groupPartition([[0], [1], [2]], 3).cuts).to.have.length(3)
  })

  it('refuses groups that cut nothing, overlap, or name unknown nodes', () => {
    refused(() => groupPartition([[0, 1, 2]], 3), /no one to cut off/)
    refused(() => groupPartition([[0], [0, 1]], 3), /node 0 is in two groups/)
    refused(() => groupPartition([[3]], 3), /node 3 is out of range: this cluster has 3 nodes \(0 to 2\)/)
    refused(() => groupPartition([[0]], 1), /at least 2 nodes/)
  })

  it('bisects as Jepsen does: the smaller half first', () => {
    expect(bisect([])).to.deep.equal([[], []])
    expect(bisect([1])).to.deep.equal([[], [1]])
    expect(bisect([1, 2, 3, 4])).to.deep.equal([
      [1, 2],
      [3, 4],
    ])
    expect(bisect([1, 2, 3, 4, 5])).to.deep.equal([
      [1, 2],
      [3, 4, 5],
    ])
  })

  it('halves: the first floor(n/2) nodes against the rest', () => {
    expect(shapePartition('halves', 3).groups).to.deep.equal([[0], [1, 2]])
    expect(shapePartition('halves', 5).groups).to.deep.equal([
      [0, 1],
      [2, 3, 4],
    ])
  })

  it('bridge: the first node of the second half reaches everyone, the halves do not reach each other', () => {
    const three = shapePartition('bridge', 3)
    expect(three.bridge).to.equal(1)
    expect(three.cuts).to.deep.equal([[0, 2]])
    const five = shapePartition('bridge', 5)
    expect(five.bridge).to.equal(2)
    const reach = reachability(five, 5)
    expect(reach[2]).to.deep.equal([0, 1, 2, 3, 4])
    expect(reach[0]).to.deep.equal([0, 1, 2])
    expect(reach[4]).to.deep.equal([2, 3, 4])
  })

  for (const size of [4, 5, 6, 7, 9]) {
    it(`ring of ${size}: every node sees a majority, no two the same one`, () => {
      const reach = reachability(shapePartition('ring', size), size)
      const majority = Math.floor(size / 2) + 1
      for (const seen of reach) expect(seen.length).to.be.at.least(majority).and.below(size)
      expect(new Set(reach.map((r) => r.join(','))).size).to.equal(size)
      // Links are two-way.
      for (let a = 0; a < size; a++) for (const b of reach[a]) expect(reach[b]).to.include(a)
    })
  }

  it('refuses ring below 4 nodes and bridge below 3, and unknown shapes', () => {
    refused(() => shapePartition('ring', 3), /--shape ring needs at least 4 nodes/)
    refused(() => shapePartition('bridge', 2), /--shape bridge needs at least 3 nodes/)
    refused(() => parseShape('star'), /unknown shape "star": use halves, ring, bridge/)
    expect(parseShape('ring')).to.equal('ring')
  })
})

describe('cluster faults: shapes over a node order (the chaos nemesis)', () => {
  it('cuts a shape from the order given, and from index order when none is', () => {
    expect(shapePartition('halves', 5, [3, 0, 4, 1, 2]).groups).to.deep.equal([
      [0, 3],
      [1, 2, 4],
    ])
    expect(shapePartition('bridge', 5, [3, 0, 4, 1, 2]).bridge).to.equal(4)
    expect(shapePartition('ring', 4, [0, 2, 1, 3]).cuts).to.deep.equal([
      [0, 1],
      [2, 3],
    ])
    expect(shapePartition('ring', 4).cuts).to.deep.equal([
      [0, 2],
      [1, 3],
    ])
    expect(planPartition({shape: 'ring'}, 4)).to.deep.equal(shapePartition('ring', 4, [0, 1, 2, 3]))
    expect(planPartition({groups: [[2]]}, 3)).to.deep.equal(groupPartition([[2]], 3))
  })

  it('refuses an order that is not every node once', () => {
    expect(parseOrder(undefined, 3)).to.equal(undefined)
    expect(parseOrder([2, 0, 1], 3)).to.deep.equal([2, 0, 1])
    refused(() => parseOrder({0: 1}, 3), /^order is a list of node indexes$/)
    refused(() => parseOrder([0, 1], 3), /^order names 2 of the 3 nodes: give each once$/)
    refused(() => parseOrder([0, 1, 1], 3), /^order names node 1 twice$/)
    refused(() => parseOrder([0, 1, 3], 3), /^order names node 3: this cluster has nodes 0 to 2$/)
    refused(() => parseOrder([0, 1, 1.5], 3), /^order names node 1.5/)
    refused(() => parseOrder([0, 1, null], 3), /^order names node null/)
    refused(() => shapePartition('halves', 3, [0, 1, 2, 3]), /^order names node 3/)
  })
})

describe('cluster faults: rules to per-node faults', () => {
  it('a cut is set on both of its nodes; delay and loss on a node apply to all its peers', () => {
    const rules = emptyRules()
    rules.partition = {...groupPartition([[0]], 3), until: null}
    rules.delay.set(1, {ms: 100, jitterMs: 10, until: null})
    rules.loss.set(2, {loss: 0.2, until: null})
    const faults = nodeFaults(rules, 3, 0)
    expect([...faults[0]]).to.deep.equal([
      [1, {drop: true}],
      [2, {drop: true}],
    ])
    expect([...faults[1]]).to.deep.equal([
      [0, {drop: true, delay_ms: 100, jitter_ms: 10}],
      [2, {delay_ms: 100, jitter_ms: 10}],
    ])
    expect([...faults[2]]).to.deep.equal([
      [0, {drop: true, loss: 0.2}],
      [1, {loss: 0.2}],
    ])
  })

  it('a fault expires on the node only when every part of it does', () => {
    const rules = emptyRules()
    rules.partition = {...groupPartition([[0]], 3), until: 5000}
    rules.delay.set(0, {ms: 50, jitterMs: 0, until: 9000})
    rules.loss.set(1, {loss: 0.5, until: null})
    const faults = nodeFaults(rules, 3, 1000)
    expect(faults[0].get(1)).to.deep.equal({drop: true, delay_ms: 50, until: 9000})
    expect(faults[1].get(0)).to.deep.equal({drop: true, loss: 0.5})
    expect(faults[2].get(0)).to.deep.equal({drop: true, until: 5000})
    // After the partition's time, only the rest is left.
    const later = nodeFaults(rules, 3, 6000)
    expect(later[2].size).to.equal(0)
    expect(later[0].get(1)).to.deep.equal({delay_ms: 50, until: 9000})
  })

  it('finds and drops expired rules', () => {
    const rules = emptyRules()
    expect(nextExpiry(rules)).to.equal(null)
    rules.partition = {...groupPartition([[0]], 3), until: 5000}
    rules.delay.set(2, {ms: 50, jitterMs: 0, until: 3000})
    rules.loss.set(1, {loss: 0.5, until: null})
    expect(nextExpiry(rules)).to.equal(3000)
    expect(dropExpired(rules, 3000)).to.deep.equal(['delay on node 2'])
    expect(nextExpiry(rules)).to.equal(5000)
    expect(dropExpired(rules, 4999)).to.deep.equal([])
    expect(dropExpired(rules, 5000)).to.deep.equal(['partition'])
    expect(rules.loss.size).to.equal(1)
  })

  it('groups peers with the same fault into one PUT body, with for_ms relative to now', () => {
    const faults = new Map([
      [2, {drop: true as const, until: 11_000}],
      [1, {drop: true as const, until: 11_000}],
      [3, {delay_ms: 20}],
    ])
    expect(putBodies(faults, 1000)).to.deep.equal([
      {peers: [1, 2], drop: true, for_ms: 10_000},
      {peers: [3], delay_ms: 20},
    ])
    expect(putBodies(new Map(), 0)).to.deep.equal([])
  })
})
