/**
 * Three (or N) broker nodes in the test's own process: real BrokerNodes with their TCP and HTTP
 * front ends on ports chosen per test, on an InMemoryNetwork instead of the Raft port and an
 * InProcessWriter instead of the writer thread (src/broker/node-seams.ts). Replication,
 * forwarding, fan-out and leader failure run here in a fraction of a second, without spawning
 * processes; what needs a process (a SIGKILL across an fsync, signals, the CLI) stays in
 * test/e2e.
 *
 * "Stopping" a member is BrokerNode.stop: it flushes what it applied, as a clean shutdown does.
 */
import type {CorruptInfo} from '../../../src/api/node-http.js'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {DEFAULT_LIMITS} from '../../../src/broker/limits.js'
import {DEFAULT_COMPACTION, type CompactionOptions} from '../../../src/broker/log-compactor.js'
import {Logger} from '../../../src/broker/logger.js'
import {BrokerNode, DEFAULT_NODE_OPTIONS, type NodeOptions} from '../../../src/broker/node.js'
import type {NodeSeams} from '../../../src/broker/node-seams.js'
import {InProcessWriter} from '../../../src/storage/in-process-writer.js'
import {InMemoryNetwork} from '../../../src/transport/in-memory-transport.js'
import {NO_RETENTION, type RetentionPolicy} from '../../../src/util/retention-spec.js'
import {ClusterView, TOKEN, type HttpMember} from '../../e2e/helpers/cluster.js'
import {HOST, freePort, type Ports} from '../../e2e/helpers/node-process.js'

export interface InProcessOptions {
  size?: number
  commitTimeoutMs?: number
  /** Shorter than a real node's default, so that elections in tests take tens of milliseconds. */
  electionTimeoutMs?: number
  heartbeatMs?: number
  /** When the nodes compact their logs (the node's --snapshot-entries and --trailing-entries). */
  compaction?: CompactionOptions
  /** The retention policy every member proposes when it leads (the node's --retention). */
  retention?: RetentionPolicy
}

export class InProcessMember implements HttpMember {
  constructor(
    readonly broker: BrokerNode,
    readonly ports: Ports,
    /** Everything the node logged, one JSON line each. */
    readonly lines: string[],
  ) {}

  url(pathAndQuery: string): string {
    return `http://${HOST}:${this.ports.http}${pathAndQuery}`
  }
}

export class InProcessCluster extends ClusterView {
  readonly nodes: (InProcessMember | null)[]
  readonly network = new InMemoryNetwork()
  /**
   * Members that found their data corrupt and stopped (a real node process would exit, or serve
   * its corrupt state): recorded, since the test runner is the process here.
   */
  readonly corruptions: {index: number; info: CorruptInfo}[] = []

  private constructor(
    readonly ports: Ports[],
    private readonly dir: string,
    private readonly options: Required<InProcessOptions>,
  ) {
    super()
    this.nodes = ports.map(() => null)
  }

  static async start(options: InProcessOptions = {}): Promise<InProcessCluster> {
    const full: Required<InProcessOptions> = {size: 3, commitTimeoutMs: DEFAULT_NODE_OPTIONS.commitTimeoutMs, electionTimeoutMs: 100, heartbeatMs: 20, compaction: DEFAULT_COMPACTION, retention: NO_RETENTION, ...options}
    const ports: Ports[] = []
    for (let i = 0; i < full.size; i++) ports.push({tcp: await freePort(), http: await freePort(), raft: await freePort()})
    const cluster = new InProcessCluster(ports, fs.mkdtempSync(path.join(os.tmpdir(), 'pad-inproc-')), full)
    try {
      await Promise.all(ports.map((_, i) => cluster.restart(i)))
    } catch (error) {
      await cluster.close()
      throw error
    }
    return cluster
  }

  node(index: number): InProcessMember {
    const node = this.nodes[index]
    if (!node) throw new Error(`node ${index} is not running`)
    return node
  }

  running(): number[] {
    return this.nodes.flatMap((n, i) => (n ? [i] : []))
  }

  /** Member `index`'s data directory. */
  dataDir(index: number): string {
    return path.join(this.dir, `node-${index}`)
  }

  /** Starts member `index` on its data dir (again, after `stop`). */
  async restart(index: number): Promise<InProcessMember> {
    const lines: string[] = []
    const seams: NodeSeams = {transport: (options) => this.network.transport(options), openWriter: (options) => InProcessWriter.open(options)}
    const p = this.ports[index]
    const options: NodeOptions = {
      host: HOST,
      tcpPort: p.tcp,
      httpPort: p.http,
      raftPort: p.raft,
      dataDir: this.dataDir(index),
      logFormat: 'json',
      limits: DEFAULT_LIMITS,
      commitTimeoutMs: this.options.commitTimeoutMs,
      dedupWindow: DEFAULT_NODE_OPTIONS.dedupWindow,
      peers: this.ports.map((q) => ({host: HOST, port: q.raft})),
      cluster: 'in-process',
      timing: {tickMs: DEFAULT_NODE_OPTIONS.tickMs, electionTimeoutMs: this.options.electionTimeoutMs, heartbeatMs: this.options.heartbeatMs},
      adminToken: TOKEN,
      corsOrigins: [],
      seams,
      compaction: this.options.compaction,
      retention: this.options.retention,
      onCorrupt: (info) => void this.corruptions.push({index, info}),
    }
    const broker = await BrokerNode.start(options, new Logger('json', {node: index}, (line) => void lines.push(line)))
    const member = new InProcessMember(broker, p, lines)
    this.nodes[index] = member
    return member
  }

  /** Stops member `index`: the others lose their connection to it at once. */
  async stop(index: number): Promise<void> {
    const member = this.node(index)
    this.nodes[index] = null
    await member.broker.stop()
  }

  /** Stops every member and removes the data dirs. */
  async close(): Promise<void> {
    await Promise.all(this.running().map((i) => this.stop(i)))
    fs.rmSync(this.dir, {recursive: true, force: true})
  }
}
