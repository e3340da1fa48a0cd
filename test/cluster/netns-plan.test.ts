import {expect} from 'chai'
import {emptyRules, groupPartition, nodeFaults, partitionCuts, shapePartition, withMember, withoutDrops} from '../../src/cluster/faults.js'
import {
  bridgeName,
  checkNetnsRecord,
  cutRoutes,
  hostAddress,
  keepsSubnet,
  MAX_NETNS_NODES,
  namespaceName,
  netnsId,
  netnsRecord,
  nodeAddress,
  overlaps,
  parseCidr,
  pickOctet,
  routeChanges,
  vethName,
} from '../../src/cluster/netns-plan.js'
import {clusterPaths} from '../../src/cluster/layout.js'
import {DEFAULT_OPTIONS, nodeRecords} from '../../src/cluster/state.js'

const cidr = (text: string) => parseCidr(text)!

describe('network namespaces: the plan of names and addresses', () => {
  it('names are short enough for the kernel, and differ between clusters of the same name in two homes', () => {
    const a = netnsId('/home/a/.pad/default')
    const b = netnsId('/home/b/.pad/default')
    expect(a).to.match(/^[0-9a-f]{6}$/)
    expect(a).to.not.equal(b)
    expect(netnsId('/home/a/.pad/default')).to.equal(a)
    const record = netnsRecord(a, 7)
    // IFNAMSIZ is 16 with the NUL: interface names have at most 15 characters.
    expect(bridgeName(record).length).to.be.at.most(15)
    expect(vethName(record, MAX_NETNS_NODES - 1).length).to.be.at.most(15)
    expect(namespaceName(record, 2)).to.equal(`pad-${a}-2`)
    expect(record.subnet).to.equal('10.88.7.0/24')
  })

  it('the host is .1 on the bridge, node i is .i+2, and there is no address past .254', () => {
    const record = netnsRecord('abcdef', 42)
    expect(hostAddress(record)).to.equal('10.88.42.1')
    expect(nodeAddress(record, 0)).to.equal('10.88.42.2')
    expect(nodeAddress(record, 252)).to.equal('10.88.42.254')
    expect(() => nodeAddress(record, 253)).to.throw(/holds nodes 0 to 252/)
    expect(() => nodeAddress(record, -1)).to.throw()
  })

  it("node records take their hosts from the plan, and keep the cluster's ports per index", () => {
    const paths = clusterPaths('n', '/tmp/pad-home-for-test')
    const records = nodeRecords(paths, {...DEFAULT_OPTIONS, nodes: 3, netns: netnsRecord('abcdef', 9)})
    expect(records.map((r) => r.host)).to.deep.equal(['10.88.9.2', '10.88.9.3', '10.88.9.4'])
    expect(records.map((r) => r.tcp_port)).to.deep.equal([5000, 5001, 5002])
    expect(records[1].node_id).to.equal('10.88.9.3:5001')
    expect(nodeRecords(paths, {...DEFAULT_OPTIONS, nodes: 2}).map((r) => r.host)).to.deep.equal(['127.0.0.1', '127.0.0.1'])
  })

  it('a record from cluster.json is used only when every field is what we write (its fields become ip arguments)', () => {
    expect(checkNetnsRecord({id: 'abcdef', octet: 3, subnet: 'whatever'})).to.deep.equal(netnsRecord('abcdef', 3))
    for (const bad of [null, 'x', {id: 'abc', octet: 3}, {id: 'abcdef; rm', octet: 3}, {id: 'ABCDEF', octet: 3}, {id: 'abcdef', octet: 256}, {id: 'abcdef', octet: 1.5}, {id: 'abcdef', octet: '3'}]) {
      expect(checkNetnsRecord(bad), JSON.stringify(bad)).to.equal(null)
    }
  })

  it('networks overlap when one holds the other', () => {
    expect(overlaps(cidr('10.88.0.0/16'), cidr('10.88.5.0/24'))).to.equal(true)
    expect(overlaps(cidr('10.88.5.7/32'), cidr('10.88.5.0/24'))).to.equal(true)
    expect(overlaps(cidr('10.88.5.0/24'), cidr('10.88.6.0/24'))).to.equal(false)
    expect(overlaps(cidr('192.0.2.0/24'), cidr('10.88.6.0/24'))).to.equal(false)
    expect(cidr('10.88.5.9/24').base).to.equal(cidr('10.88.5.0/24').base)
    for (const bad of ['10.88.5/24', '10.88.5.0/33', 'default', '::1/128', '300.1.1.1']) expect(parseCidr(bad), bad).to.equal(null)
  })

  it('picks a /24 no address or route of the host overlaps: the one it had if free, else the first free from a start of its own', () => {
    const id = '00000a' // starts at 10
    expect(pickOctet(id, [], null)).to.equal(10)
    expect(pickOctet(id, [cidr('10.88.10.0/24'), cidr('10.88.11.1/24')], null)).to.equal(12)
    expect(pickOctet(id, [], 200)).to.equal(200)
    expect(pickOctet(id, [cidr('10.88.200.0/24')], 200)).to.equal(10)
    // A default route overlaps everything and is left out; podman's 10.88.0.0/16 takes them all.
    expect(pickOctet(id, [cidr('0.0.0.0/0')], null)).to.equal(10)
    expect(pickOctet(id, [cidr('10.88.0.0/16')], null)).to.equal(null)
    // Wraps around past 255.
    expect(pickOctet('0000ff', [cidr('10.88.255.0/24')], null)).to.equal(0)
  })

  it('two clusters that claimed the same /24 at once: exactly one keeps it', () => {
    expect(keepsSubnet('pad111111', ['pad222222'])).to.equal(true)
    expect(keepsSubnet('pad222222', ['pad111111'])).to.equal(false)
    expect(keepsSubnet('pad222222', [])).to.equal(true)
  })

  it("a cut becomes a /32 unreachable route to each cut peer's address, and a change only what differs", () => {
    const record = netnsRecord('abcdef', 4)
    expect(cutRoutes(record, [2, 1, 2])).to.deep.equal(['10.88.4.3/32', '10.88.4.4/32'])
    // `ip -j route` prints a /32 as a bare address.
    expect(routeChanges(['10.88.4.3', '10.88.4.5'], ['10.88.4.3/32', '10.88.4.4/32'])).to.deep.equal({add: ['10.88.4.4/32'], remove: ['10.88.4.5/32']})
    expect(routeChanges(['10.88.4.3'], [])).to.deep.equal({add: [], remove: ['10.88.4.3/32']})
    expect(routeChanges([], [])).to.deep.equal({add: [], remove: []})
  })

  it("a partition's cuts per node go to the kernel, and only delay and loss to the nodes' filters", () => {
    const rules = emptyRules()
    rules.partition = {...groupPartition([[0]], 3), until: null}
    rules.delay.set(1, {ms: 100, jitterMs: 0, until: null})
    const faults = nodeFaults(rules, 3, 0)
    expect([...partitionCuts(faults)]).to.deep.equal([
      [0, [1, 2]],
      [1, [0]],
      [2, [0]],
    ])
    // Node 0 is only cut: nothing for its filter. Node 1 is cut from 0 and slow to all: the delay stays.
    expect([...withoutDrops(faults[0])]).to.deep.equal([])
    expect([...withoutDrops(faults[1])]).to.deep.equal([
      [0, {delay_ms: 100}],
      [2, {delay_ms: 100}],
    ])
  })

  it('a node added during a partition joins the side of the leader it joined through: its routes, and the routes to it', () => {
    const record = netnsRecord('abc123', 7)
    /** Each namespace's unreachable routes under a partition of `size` nodes. */
    const routes = (partition: ReturnType<typeof groupPartition>, size: number): string[][] => {
      const cuts = partitionCuts(nodeFaults({...emptyRules(), partition: {...partition, until: null}}, size, 0))
      return Array.from({length: size}, (_, i) => cutRoutes(record, cuts.get(i) ?? []))
    }
    // `partition 0` on 3 nodes; node 3 is added through the leader, node 1.
    const isolated = groupPartition([[0]], 3)
    const joined = withMember(isolated, 3, 1)
    expect(joined.groups).to.deep.equal([[0], [1, 2, 3]])
    expect(routes(joined, 4)).to.deep.equal([['10.88.7.3/32', '10.88.7.4/32', '10.88.7.5/32'], ['10.88.7.2/32'], ['10.88.7.2/32'], ['10.88.7.2/32']])
    // Through a leader in the first group, on that side; twice is once.
    const halves = groupPartition([[0, 1], [2, 3]], 4)
    expect(withMember(withMember(halves, 4, 0), 4, 0).cuts).to.deep.equal([[0, 2], [0, 3], [1, 2], [1, 3], [2, 4], [3, 4]])
    // A bridge stays linked to everyone, the new node too.
    const bridge = shapePartition('bridge', 5)
    const withBridge = withMember(bridge, 5, 0)
    expect(withBridge.cuts.filter(([a, b]) => a === bridge.bridge || b === bridge.bridge)).to.deep.equal([])
    expect(withBridge.cuts.filter(([a, b]) => a === 5 || b === 5)).to.deep.equal([[3, 5], [4, 5]])
    // A ring has no sides: the new node is cut from nobody.
    const ring = shapePartition('ring', 5)
    expect(withMember(ring, 5, 0)).to.deep.equal(ring)
    expect(routes(withMember(ring, 5, 0), 6)[5]).to.deep.equal([])
  })
})
