// Leadership transfer (Raft thesis §3.10): the leader brings the target up to date, then sends
// it TimeoutNow; the target campaigns at once, skipping PreVote and the voters' leases.
import {expect} from 'chai'
import {Cluster, logTerms, ofType, prng, type Opts} from './helpers.js'

const ET = 10
const SAFE: Opts = {preVote: true, checkQuorum: true}

function cluster(): Cluster {
  return new Cluster(3, (id) => ({...SAFE, random: prng(id + 7)}))
}

describe('leadership transfer', () => {
  it('an up-to-date transferee gets TimeoutNow, campaigns at once without PreVote, and wins despite the voters’ leases', () => {
    const c = cluster()
    c.elect(0)
    c.propose(0, 'a')
    c.raft(0).transferLeadership(1)
    c.send()
    expect(c.leader()).to.equal(1)
    expect(c.raft(1).status().term).to.equal(2)
    expect(c.raft(0).status()).to.include({role: 'follower', leaderId: 1})
    expect(c.delivered.some((m) => m.type === 'timeoutNow' && m.to === 1)).to.equal(true)
    expect(c.delivered.some((m) => m.type === 'preVote' && m.from === 1)).to.equal(false)
  })

  it('a lagging transferee is first brought up to date, then gets TimeoutNow', () => {
    const c = cluster()
    c.elect(0)
    c.isolate(2)
    c.propose(0, 'x', 'y')
    c.heal()
    c.raft(0).transferLeadership(2)
    c.send()
    c.tick(0, 1)
    expect(c.leader()).to.equal(2)
    expect(logTerms(c.node(2)).slice(0, 3)).to.deep.equal(logTerms(c.node(0)).slice(0, 3))
    const app = c.delivered.findIndex((m) => m.type === 'app' && m.to === 2 && (m.entries?.length ?? 0) > 0)
    const now = c.delivered.findIndex((m) => m.type === 'timeoutNow')
    expect(app).to.be.lessThan(now)
  })

  it('the leader refuses proposals while a transfer is in progress', () => {
    const c = cluster()
    c.elect(0)
    c.isolate(2)
    c.propose(0, 'x')
    c.raft(0).transferLeadership(2)
    expect(c.raft(0).status().transferee).to.equal(2)
    expect(c.propose(0, 'refused')).to.equal(null)
  })

  it('a transfer that does not complete within an election timeout is abandoned, and proposals are accepted again', () => {
    const c = new Cluster(3, {heartbeatTick: 1})
    c.elect(0)
    c.isolate(2)
    c.propose(0, 'x')
    c.raft(0).transferLeadership(2)
    c.tick(0, ET)
    expect(c.raft(0).status()).to.include({role: 'leader'})
    expect(c.raft(0).status().transferee).to.equal(undefined)
    expect(c.propose(0, 'accepted')).to.not.equal(null)
  })

  it('a transfer to itself, to a non-member, or from a non-leader does nothing', () => {
    const c = cluster()
    c.elect(0)
    c.raft(0).transferLeadership(0)
    c.raft(0).transferLeadership(9)
    c.raft(1).transferLeadership(2)
    c.send()
    expect(c.leader()).to.equal(0)
    expect(ofType(c.delivered, 'timeoutNow')).to.have.length(0)
  })
})
