/**
 * What a benchmark runs against: one node given by address, the cluster the user brought up,
 * or a temporary cluster started for the run and removed after it.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type {ChaosNode} from '../chaos/cluster.js'
import {raftView, waitForLeader} from '../chaos/cluster.js'
import {readTopic, waitConverged} from '../chaos/monitor.js'
import {openCluster, startTemporaryCluster, type SupervisedCluster, type TemporaryClusterOptions} from '../chaos/supervised-cluster.js'

export interface BenchTarget {
  nodes: ChaosNode[]
  /** Null for a single node given by address: it cannot be killed or restarted. */
  cluster: SupervisedCluster | null
  close(): Promise<void>
}

export type TemporaryTargetOptions = Omit<TemporaryClusterOptions, 'home' | 'name' | 'cli' | 'waitMs'>

export async function temporaryTarget(options: TemporaryTargetOptions): Promise<BenchTarget> {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'pad-bench-'))
  try {
    const cluster = await startTemporaryCluster({...options, home, name: 'bench', waitMs: 30_000})
    return {
      nodes: cluster.nodes,
      cluster,
      close: async () => {
        await cluster.close()
        fs.rmSync(home, {recursive: true, force: true})
      },
    }
  } catch (error) {
    fs.rmSync(home, {recursive: true, force: true})
    throw error
  }
}

export async function clusterTarget(name: string): Promise<BenchTarget> {
  const cluster = await openCluster(name)
  return {nodes: cluster.nodes, cluster, close: async () => {}}
}

export function nodeTarget(host: string, tcpPort: number, httpPort: number): BenchTarget {
  return {nodes: [{index: 0, host, tcpPort, httpPort, raftPort: 0}], cluster: null, close: async () => {}}
}

/** The leader's index, waiting (bounded) for one. */
export async function leaderOf(nodes: ChaosNode[], timeoutMs = 10_000): Promise<number> {
  const leader = await waitForLeader(nodes, timeoutMs, 50)
  if (leader === null) throw new Error(`no leader within ${timeoutMs} ms`)
  return leader
}

/** Elections won so far, summed over the nodes that answer (each counts its own wins). */
export async function electionsWon(nodes: ChaosNode[]): Promise<number> {
  const views = await Promise.all(nodes.map((n) => raftView(n, 1000).catch(() => null)))
  return views.reduce((sum, v) => sum + (v?.elections_won ?? 0), 0)
}

/** Waits until the nodes agree on a leader and have applied all that is committed. */
export async function converged(nodes: ChaosNode[], timeoutMs = 20_000): Promise<void> {
  if ((await waitConverged(nodes, timeoutMs)) === null) throw new Error(`nodes did not converge within ${timeoutMs} ms`)
}

/** Every stored message of a topic on one node, by offset. */
export async function storedMessages(node: ChaosNode, topic: string): Promise<Map<number, string>> {
  return new Map((await readTopic(node, topic)).map((m) => [m.offset, m.body]))
}
