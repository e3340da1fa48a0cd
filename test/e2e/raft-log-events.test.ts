/**
 * What a web console and `pad-cli top` draw, on three real node processes: GET /raft/log (the
 * log's tail as runs of terms) on the leader and a follower, and the sampled `rpc` events of
 * /events, before and after the leader is killed. Every wait is bounded; nothing is timed.
 */
import {expect} from 'chai'
import type {RpcEvent} from '../../src/api/node-events.js'
import {MAX_LOG_TAIL, type ErrorBody, type RaftLogAnswer} from '../../src/api/node-http.js'
import {followEvents} from '../../src/client/node-events.js'
import type {NodeAddress} from '../../src/client/node-http-client.js'
import {getRaftLog} from '../../src/client/raft-state.js'
import {http} from './helpers/clients.js'
import {admin, TestCluster} from './helpers/cluster.js'
import {HOST, eventually, nodeFixture} from './helpers/node-process.js'

/** Publishes `count` messages through node `index`; returns each entry's log index and term, as the node acknowledged them. */
async function publish(cluster: TestCluster, index: number, count: number, topic: string): Promise<Map<number, number>> {
  const terms = new Map<number, number>()
  for (let i = 0; i < count; i++) {
    const result = await http(cluster.node(index), 'POST', '/publish', {topic, body: {i}})
    expect(result.status, result.text).to.equal(200)
    terms.set(result.json.index as number, result.json.term as number)
  }
  return terms
}

/** The term the runs give entry `index`, or undefined when no run covers it. */
function termIn(answer: RaftLogAnswer, index: number): number | undefined {
  return answer.runs.find((run) => run.from <= index && index <= run.to)?.term
}

describe('GET /raft/log and rpc events (three node processes)', function () {
  this.timeout(120_000)
  const fixture = nodeFixture('each')
  const closers: (() => void)[] = []
  afterEach(() => {
    for (const close of closers.splice(0)) close()
  })

  it("draws the log as runs of the committed entries' terms, the same on the leader and a follower", async () => {
    const cluster = await TestCluster.start(fixture)
    const address = (i: number): NodeAddress => ({host: HOST, http_port: cluster.ports[i].http})
    const leader = await cluster.leader()
    const follower = (leader + 1) % 3
    const published = await publish(cluster, leader, 30, 'log')
    await cluster.converged()
    const lastPublished = Math.max(...published.keys())

    const views = [await getRaftLog(address(leader), MAX_LOG_TAIL), await getRaftLog(address(follower), MAX_LOG_TAIL)]
    for (const [i, view] of views.entries()) {
      expect(view.node_index).to.equal(i === 0 ? leader : follower)
      expect(view.snapshot_index).to.equal(0)
      expect(view.last_index).to.equal(lastPublished)
      expect(view.commit_index).to.equal(lastPublished)
      expect(view.runs[0].from, 'the whole log, from its first entry').to.equal(1)
      for (const [index, term] of published) expect(termIn(view, index), `entry ${index} on node ${view.node_index}`).to.equal(term)
    }
    expect(views[1].runs).to.deep.equal(views[0].runs)

    const one = await getRaftLog(address(follower), 1)
    expect(one.runs).to.deep.equal([{from: lastPublished, to: lastPublished, term: published.get(lastPublished)}])
    // No `last`: the last 50, here the whole log (31 entries with the leader's first).
    const byDefault = await getRaftLog(address(follower))
    expect(byDefault.runs).to.deep.equal(views[0].runs)
    const ten = await getRaftLog(address(leader), 10)
    expect(ten.runs[0].from).to.equal(lastPublished - 9)

    for (const query of ['?last=0', '?last=-1', `?last=${MAX_LOG_TAIL + 1}`, '?last=1.5', '?last=1e2', '?last=abc', '?last=', '?last=%00', '?last=99999999999999999999', '?last=1&last=2', '?last=5&x=1', '?lats=5', '?%zz']) {
      const answer = await http(cluster.node(follower), 'GET', `/raft/log${query}`)
      expect(answer.status, `${query}: ${answer.text}`).to.equal(400)
      const body = answer.json as unknown as ErrorBody
      expect(body.ok).to.equal(false)
      expect(body.error.code).to.equal('BAD_REQUEST')
      expect(body.error.message).to.be.a('string').and.not.equal('')
    }

    // After a compaction the runs start just after the compaction point, however many were asked for.
    await admin(cluster.node(follower), 'POST', '/admin/snapshot?trailing=5')
    const compacted = await getRaftLog(address(follower), MAX_LOG_TAIL)
    expect(compacted.snapshot_index).to.equal(lastPublished - 5)
    expect(compacted.snapshot_term).to.equal(published.get(lastPublished - 5))
    expect(compacted.runs).to.deep.equal([{from: lastPublished - 4, to: lastPublished, term: published.get(lastPublished)}])
    expect(cluster.node(follower).running).to.equal(true)
  })

  it("streams the leader's appends or heartbeats as rpc events, then votes once the leader is killed, and the log shows both terms", async () => {
    const cluster = await TestCluster.start(fixture)
    const address = (i: number): NodeAddress => ({host: HOST, http_port: cluster.ports[i].http})
    const leader = await cluster.leader()
    const rpcs: RpcEvent[][] = [[], [], []]
    const skipped: string[] = []
    for (const i of [0, 1, 2]) {
      closers.push(
        followEvents(address(i), {
          event: (item) => {
            if (item.type === 'rpc') rpcs[i].push(item)
          },
          skipped: (reason) => skipped.push(reason),
          end: () => {},
        }),
      )
    }
    const before = await publish(cluster, leader, 10, 'rpc')
    await eventually('an append or heartbeat the leader sent', () =>
      rpcs[leader].some((e) => (e.kind === 'append' || e.kind === 'heartbeat') && e.from === leader && e.to !== leader) ? true : undefined,
    )
    const followers = [0, 1, 2].filter((i) => i !== leader)
    await eventually('a follower answering the leader', () =>
      followers.some((i) => rpcs[i].some((e) => (e.kind === 'append-reply' || e.kind === 'heartbeat-reply') && e.from === i && e.to === leader)) ? true : undefined,
    )
    for (const [i, events] of rpcs.entries()) for (const event of events) expect(event.from, 'every rpc event is one the node sent').to.equal(i)

    await cluster.kill(leader)
    await eventually(
      'a survivor asking for (pre)votes',
      () => (followers.some((i) => rpcs[i].some((e) => (e.kind === 'prevote' || e.kind === 'vote') && e.from === i)) ? true : undefined),
      20_000,
    )
    const next = await cluster.leader(followers, 20_000)
    const won = rpcs[next].filter((e) => e.kind === 'vote')
    expect(won.length, 'the new leader asked for votes').to.be.greaterThan(0)
    expect(skipped).to.deep.equal([])

    // The log now holds the old leader's term, then the new one's.
    const after = await publish(cluster, next, 5, 'rpc')
    await cluster.converged()
    const view = await getRaftLog(address(next), MAX_LOG_TAIL)
    const oldTerm = before.values().next().value as number
    const newTerm = after.values().next().value as number
    expect(newTerm).to.be.greaterThan(oldTerm)
    expect(view.runs.at(-1)?.term).to.equal(newTerm)
    for (const [index, term] of [...before, ...after]) expect(termIn(view, index), `entry ${index}`).to.equal(term)
    const survivor = followers.find((i) => i !== next)!
    expect((await getRaftLog(address(survivor), MAX_LOG_TAIL)).runs).to.deep.equal(view.runs)
  })
})
