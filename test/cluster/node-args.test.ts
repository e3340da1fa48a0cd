import {expect} from 'chai'
import {ClusterError} from '../../src/cluster/errors.js'
import {checkIndex, checkRetention, durabilityNodeArgs, parseGroup, parseNodeRef, parsePercent, retentionNodeArgs, settleLazyFs} from '../../src/cluster/node-args.js'
import {clusterPaths} from '../../src/cluster/layout.js'
import {DEFAULT_OPTIONS, nodeRecord} from '../../src/cluster/state.js'

function refusal(fn: () => unknown): string {
  try {
    fn()
  } catch (error) {
    expect(error).to.be.instanceOf(ClusterError)
    expect((error as ClusterError).exitCode).to.equal(2)
    const message = (error as Error).message
    expect(message).to.not.include('\n')
    return message
  }
  return expect.fail('expected a refusal')
}

describe('cluster arguments', () => {
  it('a node is an index or "leader"', () => {
    expect(parseNodeRef('0')).to.equal(0)
    expect(parseNodeRef('12')).to.equal(12)
    expect(parseNodeRef('leader')).to.equal('leader')
    expect(parseNodeRef('LEADER')).to.equal('leader')
    expect(parseNodeRef('2', 3)).to.equal(2)
  })

  it('refuses other node names and indexes out of range, in one line', () => {
    expect(refusal(() => parseNodeRef('abc'))).to.equal('"abc" is not a node: give an index or "leader"')
    expect(refusal(() => parseNodeRef('-1', 3))).to.equal('"-1" is not a node: give an index from 0 to 2 or "leader"')
    expect(refusal(() => parseNodeRef('1.5'))).to.match(/is not a node/)
    expect(refusal(() => parseNodeRef('3', 3))).to.equal('node 3 is out of range: this cluster has 3 nodes (0 to 2)')
    expect(refusal(() => checkIndex(1, 1))).to.equal('node 1 is out of range: this cluster has 1 node (0 to 0)')
  })

  it('a group is nodes separated by commas', () => {
    expect(parseGroup('0')).to.deep.equal([0])
    expect(parseGroup('0,1')).to.deep.equal([0, 1])
    expect(parseGroup('leader, 2')).to.deep.equal(['leader', 2])
    expect(refusal(() => parseGroup('0,,1'))).to.match(/is not a group/)
    expect(refusal(() => parseGroup('1,1'))).to.equal('group "1,1" names a node twice')
    expect(refusal(() => parseGroup('0,5', 3))).to.match(/node 5 is out of range/)
  })

  it('a percentage is 0 to 100, with or without %', () => {
    expect(parsePercent('20')).to.equal(0.2)
    expect(parsePercent('12.5%')).to.equal(0.125)
    expect(parsePercent('0')).to.equal(0)
    expect(parsePercent('100')).to.equal(1)
    for (const bad of ['101', '-5', 'ten', '', '5%%']) expect(refusal(() => parsePercent(bad))).to.match(/is not a percentage: give a number from 0 to 100/)
  })

  it('--retention of up is checked once and passed to every node as given', () => {
    const values = ['max-messages=100,max-age=1h', 'topic:orders:max-bytes=1MB']
    expect(checkRetention(values)).to.deep.equal(values)
    expect(retentionNodeArgs(values)).to.deep.equal(['--retention', 'max-messages=100,max-age=1h', '--retention', 'topic:orders:max-bytes=1MB'])
    expect(checkRetention(['none'])).to.deep.equal([])
    expect(refusal(() => checkRetention(['max-bytes=lots']))).to.match(/^--retention "max-bytes=lots": max-bytes must be a size/)
    expect(refusal(() => checkRetention(['topic:x']))).to.match(/write topic:<name>:<limits>/)
  })

  it('--unsafe-no-fsync reaches every node the supervisor starts, and only when the cluster asked for it', () => {
    expect(durabilityNodeArgs({})).to.deep.equal([])
    expect(durabilityNodeArgs({unsafe_no_fsync: false})).to.deep.equal([])
    expect(durabilityNodeArgs({unsafe_no_fsync: true})).to.deep.equal(['--unsafe-no-fsync'])
  })

  it('--lazy-fs: as asked, else as before; a cluster with data keeps where its data is', () => {
    expect(settleLazyFs(undefined, false, true, 'default')).to.equal(false)
    expect(settleLazyFs(undefined, true, true, 'default')).to.equal(true)
    expect(settleLazyFs(true, false, false, 'default')).to.equal(true)
    expect(settleLazyFs(false, true, false, 'default')).to.equal(false)
    expect(settleLazyFs(true, true, true, 'default')).to.equal(true)
    expect(refusal(() => settleLazyFs(true, false, true, 'default'))).to.equal(
      'cluster "default" has data written without the lazy layer: start it without --lazy-fs, or delete it first with `pad-cli down --purge`',
    )
    expect(refusal(() => settleLazyFs(false, true, true, 'test'))).to.match(/keeps its data on the lazy layer .* --lazy-fs, or .*pad-cli down --purge --cluster test/)
  })

  it('a node of a lazy cluster runs on the mount (node-<i>/data) over its backing dir (node-<i>/disk)', () => {
    const paths = clusterPaths('c', '/home/pad')
    const plain = nodeRecord(paths, DEFAULT_OPTIONS, 1, false)
    expect(plain.data_dir).to.equal('/home/pad/c/node-1')
    expect(plain).to.not.have.property('lazy_fs')
    const lazy = nodeRecord(paths, {...DEFAULT_OPTIONS, lazy_fs: true}, 1, true)
    expect(lazy.data_dir).to.equal('/home/pad/c/node-1/data')
    expect(lazy.lazy_fs).to.deep.equal({backing: '/home/pad/c/node-1/disk', pid: null})
    expect(lazy.log_file).to.equal('/home/pad/c/node-1/node.log')
  })
})
