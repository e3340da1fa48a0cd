import {expect} from 'chai'
import {decodeCommand, encodeExpire, encodePolicy} from '../../src/broker/control-command.js'
import type {ControlCommitted} from '../../src/broker/raft-driver.js'
import {RetentionProposer} from '../../src/broker/retention-proposer.js'
import {NO_RETENTION, parseRetention, policyText} from '../../src/util/retention-spec.js'
import {eventually} from '../e2e/helpers/node-process.js'
import {InProcessCluster} from './helpers/in-process-cluster.js'

describe('RetentionProposer: what the leader puts in the log', () => {
  const configured = parseRetention(['max-age=1m'])
  const silent = {info: () => {}, warn: () => {}}

  function setup(role: string) {
    const proposals: Uint8Array[] = []
    let settle: (() => void) | null = null
    const log = {
      role,
      proposeControl(data: Uint8Array): Promise<unknown> {
        proposals.push(data)
        return new Promise<void>((resolve) => (settle = resolve))
      },
      status: () => ({role: log.role}),
    }
    const store = {retentionPolicyText: policyText(NO_RETENTION), due: false, expiryDue: (): boolean => store.due}
    const proposer = new RetentionProposer(log, store, configured, silent, () => 1_700_000_000_000)
    const finish = async (): Promise<void> => {
      settle?.()
      await new Promise((resolve) => setImmediate(resolve))
    }
    return {log, store, proposer, proposals, finish}
  }

  it('proposes nothing on a follower', () => {
    const {proposer, proposals, store} = setup('FOLLOWER')
    store.due = true
    proposer.check()
    expect(proposals).to.deep.equal([])
  })

  it('proposes its configured policy when it differs from the applied one, one proposal at a time', async () => {
    const {proposer, proposals, store, finish} = setup('LEADER')
    proposer.check()
    proposer.check()
    expect(proposals.length).to.equal(1)
    expect(decodeCommand(proposals[0])).to.deep.equal({kind: 'policy', policy: configured})
    await finish()
    // Not applied yet (or the proposal was lost): proposed again at the next check.
    proposer.check()
    expect(proposals.length).to.equal(2)
    await finish()
    store.retentionPolicyText = policyText(configured)
    proposer.check()
    expect(proposals.length).to.equal(2)
  })

  it('proposes an expire entry with its clock only when something would expire', async () => {
    const {proposer, proposals, store, finish} = setup('LEADER')
    store.retentionPolicyText = policyText(configured)
    proposer.check()
    expect(proposals.length).to.equal(0)
    store.due = true
    proposer.check()
    expect(decodeCommand(proposals[0])).to.deep.equal({kind: 'expire', now: 1_700_000_000_000})
    await finish()
  })
})

describe('control entries through the Raft driver', function () {
  this.timeout(30_000)
  let cluster: InProcessCluster | null = null
  afterEach(async () => {
    await cluster?.close()
    cluster = null
  })

  it("resolves the leader's proposals with where they committed, and refuses them on a follower without forwarding", async () => {
    cluster = await InProcessCluster.start()
    const leader = await cluster.leader()
    const driver = cluster.node(leader).broker.driver
    const configured = parseRetention(['max-messages=10'])
    const store = cluster.node(leader).broker.store
    const outcomes: (ControlCommitted | Error)[] = []
    // The node's own proposer puts its (empty) policy back within a second: read the applied one as the proposal resolves.
    let appliedThen = ''
    const log = {
      proposeControl: (data: Uint8Array) =>
        driver.proposeControl(data).then(
          (c) => {
            appliedThen = store.retentionPolicyText
            outcomes.push(c)
          },
          (e: Error) => void outcomes.push(e),
        ),
      status: () => driver.status(),
    }
    const proposer = new RetentionProposer(log, store, configured, {info: () => {}, warn: () => {}})
    proposer.check()
    await eventually('the policy entry to commit', () => (outcomes.length > 0 ? true : undefined), 10_000)
    expect(outcomes[0]).to.not.be.instanceOf(Error)
    const committed = outcomes[0] as ControlCommitted
    expect(committed.raftIndex).to.be.above(0)
    expect(committed.term).to.equal(driver.status().term)
    expect(appliedThen).to.equal(policyText(configured))
    // An expire entry resolves alike.
    const expired = await driver.proposeControl(encodeExpire(Date.now()))
    expect(expired.raftIndex).to.be.above(committed.raftIndex)

    const follower = cluster.node((leader + 1) % 3).broker.driver
    let refused: Error | null = null
    await follower.proposeControl(encodePolicy(configured)).catch((e: Error) => (refused = e))
    expect(refused).to.include({code: 'NO_LEADER'})
  })
})
