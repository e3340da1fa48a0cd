import {expect} from 'chai'
import {ClusterError} from '../../src/cluster/errors.js'
import {checkIndex, parseDurationArg, parseGroup, parseMs, parseNodeRef, parsePercent} from '../../src/cluster/node-args.js'

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

  it('delays are milliseconds, durations are parsed with their flag named', () => {
    expect(parseMs('100', 'delay')).to.equal(100)
    expect(parseMs('1.5s', 'delay')).to.equal(1500)
    expect(refusal(() => parseMs('fast', 'delay'))).to.equal('delay: "fast" is not a duration: use e.g. 100, 100ms, 1.5s')
    expect(refusal(() => parseMs('2m', '--jitter'))).to.match(/--jitter: 120000 ms is too long/)
    expect(parseDurationArg('10s', '--for', 's')).to.equal(10_000)
    expect(parseDurationArg('10', '--for', 's')).to.equal(10_000)
    expect(parseDurationArg('150ms', '--election-timeout')).to.equal(150)
    expect(refusal(() => parseDurationArg('1x', '--for', 's'))).to.equal('--for: "1x" is not a duration: use e.g. 150ms, 10s, 1m')
    expect(refusal(() => parseDurationArg('0', '--wait', 's', 100))).to.equal('--wait must be at least 100 ms')
  })
})
