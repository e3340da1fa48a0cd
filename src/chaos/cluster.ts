/**
 * What the chaos runner needs from a cluster: where its nodes listen, and how to hurt and
 * heal them (supervised-cluster.ts does it through the cluster manager). Everything else
 * reaches the nodes only through their ports and HTTP API.
 */
import type {RaftInfo} from '../api/node-http.js'

export interface ChaosNode {
  index: number
  host: string
  tcpPort: number
  httpPort: number
  raftPort: number
}

/** A network partition: the links it cuts (both ways), and its groups when it has some. */
export interface PartitionSpec {
  name: string
  cuts: [number, number][]
  groups: number[][] | null
}

export interface ChaosCluster {
  readonly nodes: readonly ChaosNode[]
  /** Where the cluster keeps its files (node logs, data), if anywhere the user may look. */
  readonly dir: string
  /** SIGKILL; resolves once the process has exited. */
  kill(index: number): Promise<void>
  /** SIGTERM (graceful stop), SIGKILL after a bound; resolves once the process has exited. */
  stop(index: number): Promise<void>
  /** Starts a stopped node again on its data; resolves once it serves HTTP. */
  start(index: number): Promise<void>
  /** SIGSTOP. */
  pause(index: number): Promise<void>
  /** SIGCONT. */
  resume(index: number): Promise<void>
  /**
   * Cuts links both ways; `forMs` bounds it in case we die. Resolves with the partition as it
   * was applied (a cluster may cut a named shape its own way).
   */
  partition(spec: PartitionSpec, forMs: number): Promise<PartitionSpec>
  /** Slows every link of a node, both ways. */
  delay(index: number, delayMs: number, jitterMs: number, forMs: number): Promise<void>
  /** Loses a share (0..1) of the messages on every link of a node, both ways. */
  loss(index: number, share: number, forMs: number): Promise<void>
  /** Removes every network fault on every running node. */
  heal(): Promise<void>
  /** Makes every node run again: resumes the paused ones, starts the stopped ones, heals the network. */
  restoreAll(): Promise<void>
  /** Stops what the runner started and releases what it holds. */
  close(): Promise<void>
  /** SIGKILLs what the runner started, now and synchronously (for an exit handler). */
  killNow(): void
}

export function baseUrl(node: ChaosNode): string {
  return `http://${node.host}:${node.httpPort}`
}

/** GET a JSON answer, bounded in time; throws with the status and body on anything but 200. */
export async function getJson<T>(node: ChaosNode, pathAndQuery: string, timeoutMs = 2000): Promise<T> {
  const response = await fetch(baseUrl(node) + pathAndQuery, {signal: AbortSignal.timeout(timeoutMs)})
  const text = await response.text()
  if (response.status !== 200) throw new Error(`GET ${pathAndQuery} on node ${node.index}: ${response.status} ${text.slice(0, 200)}`)
  return JSON.parse(text) as T
}

export function raftView(node: ChaosNode, timeoutMs = 1000): Promise<RaftInfo> {
  return getJson<RaftInfo>(node, '/raft', timeoutMs)
}

/** The node that leads in the highest term any reachable node reports, or null. */
export async function findLeader(nodes: readonly ChaosNode[], timeoutMs = 1000): Promise<number | null> {
  const views = await Promise.all(nodes.map((n) => raftView(n, timeoutMs).catch(() => null)))
  let best: RaftInfo | null = null
  for (const view of views) if (view && view.state === 'LEADER' && (!best || view.current_term > best.current_term)) best = view
  return best ? best.node_index : null
}

/** Polls findLeader until a leader is found (bounded by `timeoutMs`); null if none was. */
export async function waitForLeader(nodes: readonly ChaosNode[], timeoutMs: number, pollMs = 100): Promise<number | null> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    const leader = await findLeader(nodes)
    if (leader !== null) return leader
    await new Promise((resolve) => setTimeout(resolve, pollMs))
  }
  return null
}

/** Per node, the peers it must drop for a partition's cuts. */
export function dropsByNode(cuts: [number, number][], size: number): number[][] {
  const drops: number[][] = Array.from({length: size}, () => [])
  for (const [a, b] of cuts) {
    drops[a].push(b)
    drops[b].push(a)
  }
  return drops.map((list) => [...new Set(list)].sort((x, y) => x - y))
}
