/**
 * What a benchmark runs against: one node given by address, the cluster the user brought up,
 * or a temporary cluster started for the run and removed after it.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type {NodeFolder} from './node-files.js'
import {raftViews, waitConverged, waitForLeader} from '../client/raft-state.js'
import {readTopic} from '../client/stored-messages.js'
import {clusterPaths} from '../cluster/layout.js'
import {openCluster, startTemporaryCluster, type ClusterMember, type SupervisedCluster, type TemporaryClusterOptions} from '../cluster/supervised-cluster.js'

export interface BenchTarget {
  nodes: ClusterMember[]
  /** Null for a single node given by address: it cannot be killed or restarted. */
  cluster: SupervisedCluster | null
  /** A temporary cluster's node data dirs, which the run may measure and wipe; null for a cluster the user owns. */
  folderOf: ((index: number) => NodeFolder) | null
  close(): Promise<void>
}

const TEMPORARY_NAME = 'bench'

export type TemporaryTargetOptions = Omit<TemporaryClusterOptions, 'home' | 'name' | 'cli' | 'waitMs'>

export async function temporaryTarget(options: TemporaryTargetOptions): Promise<BenchTarget> {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'pad-bench-'))
  try {
    const cluster = await startTemporaryCluster({...options, home, name: TEMPORARY_NAME, waitMs: 30_000})
    const paths = clusterPaths(TEMPORARY_NAME, home)
    return {
      nodes: [...cluster.nodes],
      cluster,
      folderOf: (index) => ({dir: paths.nodeDir(index), log: paths.nodeLog(index)}),
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
  return {nodes: [...cluster.nodes], cluster, folderOf: null, close: async () => {}}
}

export function nodeTarget(host: string, tcpPort: number, httpPort: number): BenchTarget {
  return {nodes: [{index: 0, host, tcp_port: tcpPort, http_port: httpPort, raft_port: 0}], cluster: null, folderOf: null, close: async () => {}}
}

/** The leader's index, waiting (bounded) for one. */
export async function leaderOf(nodes: ClusterMember[], timeoutMs = 10_000): Promise<number> {
  const leader = await waitForLeader(nodes, timeoutMs, 50)
  if (leader === null) throw new Error(`no leader within ${timeoutMs} ms`)
  return leader
}

/** Elections won so far, summed over the nodes that answer (each counts its own wins). */
export async function electionsWon(nodes: ClusterMember[]): Promise<number> {
  return (await raftViews(nodes)).reduce((sum, v) => sum + (v?.elections_won ?? 0), 0)
}

/** Waits until the nodes agree on a leader and have applied all that is committed. */
export async function converged(nodes: ClusterMember[], timeoutMs = 20_000): Promise<void> {
  if ((await waitConverged(nodes, timeoutMs)) === null) throw new Error(`nodes did not converge within ${timeoutMs} ms`)
}

/** Every stored message of a topic on one node, by offset. */
export async function storedMessages(node: ClusterMember, topic: string): Promise<Map<number, string>> {
  return new Map((await readTopic(node, topic)).map((m) => [m.offset, m.body]))
}
