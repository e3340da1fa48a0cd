/**
 * A cluster of real `pad-cli node` processes started by hand (`--peers`), for the replicated
 * broker's process-level tests. Built on NodeFixture, so every process is stopped by pid and
 * every temp dir removed after the test. What a test asks of a cluster over HTTP (leader,
 * faults, messages, convergence) is ClusterView, shared with the in-process cluster
 * (test/broker/helpers/in-process-cluster.ts).
 */
import fs from 'node:fs'
import path from 'node:path'
import type {RaftInfo} from '../../../src/client/raft-state.js'
import {HOST, eventually, freePorts, type NodeFixture, type NodeProcess, type Ports} from './node-process.js'

export type {RaftInfo} from '../../../src/client/raft-state.js'

export interface StoredMessage {
  topic: string
  offset: number
  body: string
  index: number
  id?: string
}

export const TOKEN = 'test-cluster-token'

/** A member as the tests reach it: its HTTP API. */
export interface HttpMember {
  url(pathAndQuery: string): string
}

/** What a test asks of a running cluster, over each member's HTTP API. */
export abstract class ClusterView {
  abstract node(index: number): HttpMember
  /** The indexes of the members running now. */
  abstract running(): number[]

  async raft(index: number): Promise<RaftInfo> {
    return (await getJson(this.node(index), '/raft')) as RaftInfo
  }

  /** The index of the one node among `among` that says it leads, with every other agreeing. */
  async leader(among = this.running(), timeoutMs = 10_000): Promise<number> {
    return eventually(
      'a leader that every running node agrees on',
      async () => {
        const infos = await Promise.all(among.map((i) => this.raft(i)))
        const leaders = infos.filter((r) => r.state === 'LEADER')
        if (leaders.length !== 1) return undefined
        const leader = leaders[0].node_index
        const term = leaders[0].current_term
        return infos.every((r) => r.leader_index === leader && r.current_term === term) ? leader : undefined
      },
      timeoutMs,
    )
  }

  /** Cuts `index` off from every other node, on both sides of each link. */
  async isolate(index: number): Promise<void> {
    for (const i of this.running()) {
      const peers = i === index ? this.running().filter((p) => p !== index) : [index]
      await admin(this.node(i), 'PUT', '/admin/faults', {peers, drop: true})
    }
  }

  async heal(): Promise<void> {
    for (const i of this.running()) await admin(this.node(i), 'DELETE', '/admin/faults')
  }

  /** Every stored message of a topic on one node, oldest first. */
  async messages(index: number, topic: string): Promise<StoredMessage[]> {
    const out: StoredMessage[] = []
    for (let page = 0; page < 10_000; page++) {
      const from = out.length
      const body = (await getJson(this.node(index), `/messages?topic=${topic}&order=oldest&limit=1000&from=${from}`)) as {messages: StoredMessage[]}
      out.push(...body.messages)
      if (body.messages.length < 1000) return out
    }
    throw new Error('too many pages')
  }

  /** Waits until every running node has applied everything the leader committed. */
  async converged(timeoutMs = 15_000): Promise<void> {
    await eventually(
      'all running nodes to apply the same log',
      async () => {
        const infos = await Promise.all(this.running().map((i) => this.raft(i)))
        const target = Math.max(...infos.map((r) => r.commit_index))
        return infos.every((r) => r.last_applied === target && r.commit_index === target) ? true : undefined
      },
      timeoutMs,
    )
  }
}

export class TestCluster extends ClusterView {
  readonly nodes: (NodeProcess | null)[]

  private constructor(
    private readonly fixture: NodeFixture,
    readonly ports: Ports[],
    readonly dataDirs: string[],
    private readonly args: string[],
    nodes: NodeProcess[],
  ) {
    super()
    this.nodes = nodes
  }

  /** `dataDirs[i]`, when given, is node i's data dir (a mount point, say) instead of one in a temp dir. */
  static async start(fixture: NodeFixture, size = 3, extraArgs: string[] = [], dataDirs: (string | undefined)[] = []): Promise<TestCluster> {
    const ports: Ports[] = []
    const free = await freePorts(size * 3)
    for (let i = 0; i < size; i++) ports.push({tcp: free[3 * i], http: free[3 * i + 1], raft: free[3 * i + 2]})
    const dir = fixture.tempDir()
    const tokenFile = path.join(dir, 'token')
    fs.writeFileSync(tokenFile, TOKEN, {mode: 0o600})
    const args = ['--peers', ports.map((p) => `${HOST}:${p.raft}`).join(','), '--token-file', tokenFile, ...extraArgs]
    const dirs = ports.map((_, i) => dataDirs[i] ?? path.join(dir, `node-${i}`))
    const nodes = await Promise.all(ports.map((p, i) => fixture.start({ports: p, dataDir: dirs[i], args})))
    return new TestCluster(fixture, ports, dirs, args, nodes)
  }

  node(index: number): NodeProcess {
    const node = this.nodes[index]
    if (!node) throw new Error(`node ${index} is not running`)
    return node
  }

  running(): number[] {
    return this.nodes.flatMap((n, i) => (n && n.running ? [i] : []))
  }

  /** SIGTERM: the node stops gracefully (its write queue flushed). */
  async stop(index: number): Promise<void> {
    await this.node(index).stop()
    this.nodes[index] = null
  }

  async kill(index: number): Promise<void> {
    await this.node(index).kill()
    this.nodes[index] = null
  }

  /** Starts node `index` again on its data dir; `waitHealthy: false` returns at once (for a start that must fail). */
  async restart(index: number, waitHealthy = true): Promise<NodeProcess> {
    const node = await this.fixture.start({ports: this.ports[index], dataDir: this.dataDirs[index], args: this.args, waitHealthy})
    this.nodes[index] = node
    return node
  }
}

export async function getJson(node: HttpMember, pathAndQuery: string): Promise<unknown> {
  const response = await fetch(node.url(pathAndQuery), {signal: AbortSignal.timeout(3000)})
  if (response.status !== 200) throw new Error(`GET ${pathAndQuery}: ${response.status} ${await response.text()}`)
  return response.json()
}

export async function admin(node: HttpMember, method: string, pathName: string, body?: unknown): Promise<unknown> {
  const response = await fetch(node.url(pathName), {
    method,
    headers: {authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json'},
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(3000),
  })
  const json = await response.json()
  if (response.status !== 200) throw new Error(`${method} ${pathName}: ${response.status} ${JSON.stringify(json)}`)
  return json
}
