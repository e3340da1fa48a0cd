/**
 * A committed entry that is not a publish must not take a cluster down. The leader checks what
 * it proposes, so the only way such an entry commits is a member that knows the cluster's
 * secret and lies (or a future version's command). This test plays that member: it takes
 * node 2's place on the Raft port with the real secret, wins an election at nodes 0 and 1,
 * and commits three entries no publish codec can read. Every member must skip them the same
 * way, stay up, let the real node 2 catch up through them, and restart cleanly on them.
 */
import fs from 'node:fs'
import path from 'node:path'
import {expect} from 'chai'
import type {Message} from '../../src/raft/index.js'
import {RaftTransport} from '../../src/transport/raft-transport.js'
import {DEFAULT_LIMITS} from '../../src/broker/limits.js'
import {TOKEN, getJson, type RaftInfo} from './helpers/cluster.js'
import {http, storedMessages} from './helpers/clients.js'
import {HOST, eventually, freePort, nodeFixture, sleep, type NodeProcess, type Ports} from './helpers/node-process.js'


const POISON: Uint8Array[] = [Buffer.from([0x00, 0xff, 0x13]), Buffer.alloc(0), Buffer.from([99, 1, 2, 3, 4, 5, 6, 7])]

describe('a poison entry committed in a 3-node cluster', function () {
  this.timeout(120_000)
  const fixture = nodeFixture('each')
  let fake: RaftTransport | null = null

  afterEach(async () => {
    await fake?.close()
    fake = null
  })

  it('is skipped alike by every member, which stay up, catch up through it and restart cleanly', async () => {
    const ports: Ports[] = []
    for (let i = 0; i < 3; i++) ports.push({tcp: await freePort(), http: await freePort(), raft: await freePort()})
    const dir = fixture.tempDir()
    const tokenFile = path.join(dir, 'token')
    fs.writeFileSync(tokenFile, TOKEN, {mode: 0o600})
    const args = ['--peers', ports.map((p) => `${HOST}:${p.raft}`).join(','), '--token-file', tokenFile]
    const dataDirs = ports.map((_, i) => path.join(dir, `node-${i}`))
    const nodes: (NodeProcess | null)[] = [null, null, null]
    const start = async (i: number): Promise<NodeProcess> => (nodes[i] = await fixture.start({ports: ports[i], dataDir: dataDirs[i], args}))
    const raft = async (i: number): Promise<RaftInfo> => (await getJson(nodes[i]!, '/raft')) as RaftInfo
    const publish = async (i: number, n: number): Promise<void> => {
      const answer = await http(nodes[i]!, 'POST', '/publish', {topic: 'poison.test', format: 'JSON', body: JSON.stringify({n})})
      expect(answer.status, answer.text).to.equal(200)
    }
    const leaderAmong = (among: number[]): Promise<number> =>
      eventually(
        `a leader among ${among.join(',')}`,
        async () => {
          const views = await Promise.all(among.map(raft))
          const leaders = among.filter((_, k) => views[k].state === 'LEADER')
          return leaders.length === 1 && views.every((v) => v.leader_index === leaders[0]) ? leaders[0] : undefined
        },
        20_000,
      )

    // Nodes 0 and 1 are a majority of three: they elect a leader and commit a publish.
    await Promise.all([start(0), start(1)])
    await publish(await leaderAmong([0, 1]), 1)

    // The liar: member 2, with the real secret.
    const received: Message[] = []
    fake = new RaftTransport({
      self: {index: 2, node_id: 'liar', host: HOST, raft_port: ports[2].raft, tcp_port: ports[2].tcp, http_port: ports[2].http, cluster: 'default'},
      peers: new Map(ports.map((p, i) => [i, {host: HOST, port: p.raft}])),
      hostOf: () => HOST,
      listen: {host: HOST, port: ports[2].raft},
      handlers: {raft: (_, message) => received.push(message), forward: () => {}, forwardResult: () => {}, snapshot: () => {}},
      logger: {info: () => {}, warn: () => {}},
      secret: TOKEN,
      limits: DEFAULT_LIMITS,
    })
    await fake.start()
    const liar = fake
    await eventually('the liar to reach nodes 0 and 1', () => (liar.isConnected(0) && liar.isConnected(1) ? true : undefined), 10_000)
    // and they it, or their answers to its campaign would be lost.
    await eventually(
      'nodes 0 and 1 to reach the liar',
      async () => {
        const views = (await Promise.all([0, 1].map((i) => getJson(nodes[i]!, '/cluster')))) as {members: {connected: boolean}[]}[]
        return views.every((v) => v.members[2].connected) ? true : undefined
      },
      10_000,
    )

    const settle = (): Promise<RaftInfo> =>
      eventually(
        'nodes 0 and 1 to hold the same log, all of it applied, in the same term',
        async () => {
          const [a, b] = await Promise.all([raft(0), raft(1)])
          const same = a.log_length === b.log_length && a.current_term === b.current_term
          return same && [a, b].every((v) => v.commit_index === v.log_length && v.last_applied === v.log_length) ? a : undefined
        },
        20_000,
      )

    // It campaigns as a leadership transfer would (so leases do not delay the votes) with a log
    // that looks longer. Should the two elect each other meanwhile, it tries again, bounded.
    let settled: RaftInfo | null = null
    let term = 0
    for (let attempt = 0; attempt < 5 && settled === null; attempt++) {
      const view = await settle()
      term = view.current_term + 1
      for (const to of [0, 1]) liar.sendRaft({type: 'vote', from: 2, to, term, logTerm: view.current_term, index: view.log_length + 10, transfer: true})
      for (let wait = 0; wait < 100; wait++) {
        const granted = new Set(received.filter((m) => m.type === 'voteResp' && m.term === term && !m.reject).map((m) => m.from))
        if (granted.size === 2) {
          settled = view
          break
        }
        await sleep(20)
      }
    }
    if (settled === null) throw new Error('the liar won no election in 5 attempts')
    const last = settled.log_length

    // As their leader it appends the poison after their last entry and commits it.
    const entries = POISON.map((data, k) => ({index: last + 1 + k, term, type: 'normal' as const, data}))
    const poisonEnd = last + POISON.length
    for (const to of [0, 1]) liar.sendRaft({type: 'app', from: 2, to, term, logTerm: settled.current_term, index: last, entries, commit: poisonEnd})
    await eventually(
      'nodes 0 and 1 to apply the poison',
      async () => {
        const views = await Promise.all([raft(0), raft(1)])
        return views.every((v) => v.last_applied >= poisonEnd) ? true : undefined
      },
      10_000,
    )
    for (const i of [0, 1]) {
      expect(nodes[i]!.running, `node ${i} is up`).to.equal(true)
      expect(((await getJson(nodes[i]!, '/stats')) as {skipped_entries: number}).skipped_entries).to.equal(POISON.length)
    }

    // The liar leaves; nodes 0 and 1 elect one of themselves and go on.
    await liar.close()
    fake = null
    await publish(await leaderAmong([0, 1]), 2)

    // The real node 2 catches up through the poison, and skips it as they did.
    await start(2)
    const leader = await leaderAmong([0, 1, 2])
    await publish(leader, 3)
    const everyone = [0, 1, 2]
    await eventually(
      'all three to apply the same log',
      async () => {
        const views = await Promise.all(everyone.map(raft))
        const top = Math.max(...views.map((v) => v.commit_index))
        return views.every((v) => v.last_applied === top) ? true : undefined
      },
      20_000,
    )
    const stored = async (i: number): Promise<number[]> =>
      (await storedMessages(nodes[i]!, 'poison.test')).map((m) => (JSON.parse(m.body) as {n: number}).n)
    for (const i of everyone) {
      expect(await stored(i), `node ${i}`).to.deep.equal([1, 2, 3])
      expect(((await getJson(nodes[i]!, '/stats')) as {skipped_entries: number}).skipped_entries, `node ${i}`).to.equal(POISON.length)
    }

    // Every member restarts on its log, poison included, after a crash.
    for (const i of everyone) await nodes[i]!.kill()
    await Promise.all(everyone.map(start))
    await publish(await leaderAmong(everyone), 4)
    await eventually(
      'all three to store the publish after the restart',
      async () => {
        const lists = await Promise.all(everyone.map(stored))
        return lists.every((l) => l.length === 4) ? lists : undefined
      },
      20_000,
    )
    for (const i of everyone) {
      expect(await stored(i), `node ${i} after restart`).to.deep.equal([1, 2, 3, 4])
      expect(nodes[i]!.running).to.equal(true)
    }
  })
})
