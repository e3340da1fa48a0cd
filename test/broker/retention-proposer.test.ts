import {expect} from 'chai'
import {decodeCommand} from '../../src/broker/control-command.js'
import {RetentionProposer} from '../../src/broker/retention-proposer.js'
import {NO_RETENTION, parseRetention, policyText} from '../../src/util/retention-spec.js'

describe('RetentionProposer: what the leader puts in the log', () => {
  const configured = parseRetention(['max-age=1m'])
  const silent = {info: () => {}, warn: () => {}}

  function setup(role: string) {
    const proposals: Uint8Array[] = []
    let settle: (() => void) | null = null
    const log = {
      role,
      propose(data: Uint8Array): Promise<unknown> {
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
