/**
 * `pad-cli snapshot`: asks running nodes to compact their logs now (POST /admin/snapshot with
 * the cluster's token), whatever their thresholds, and gathers where each log now starts.
 */
import type {SnapshotAnswer} from '../api/node-admin.js'
import {callJson} from '../client/node-http-client.js'
import type {ClusterHandle} from './cluster.js'
import {ClusterError} from './errors.js'
import type {NodeRef} from './node-args.js'
import {readToken} from './state.js'

/** One node's compaction: where its log starts now, or why it could not compact. */
export type NodeCompaction = {node: number} & ({ok: true; snapshot_index: number; snapshot_term: number; first_index: number; disk_bytes: number} | {ok: false; error: string})

/** How long one node may take: compaction deletes rows in one transaction. */
const COMPACTION_TIMEOUT_MS = 60_000

/**
 * Compacts the named node (an index or `leader`), or every running node when `ref` is null,
 * keeping `trailing` entries below each node's applied index (its own window when undefined).
 */
export async function compactNodes(cluster: ClusterHandle, ref: NodeRef | null, trailing?: number): Promise<NodeCompaction[]> {
  const status = await cluster.status()
  const nodes = ref === null ? status.nodes.filter((n) => n.process === 'running') : [await cluster.target(ref)]
  if (nodes.length === 0) throw new ClusterError('NODE_STATE', `no node of cluster "${cluster.name}" is running: see pad-cli status`)
  const token = readToken(cluster.paths)
  const query = trailing === undefined ? '' : `?trailing=${trailing}`
  return Promise.all(
    nodes.map(async (node): Promise<NodeCompaction> => {
      try {
        const answer = await callJson<SnapshotAnswer>(node, 'POST', `/admin/snapshot${query}`, {token, timeoutMs: COMPACTION_TIMEOUT_MS})
        return {node: node.index, ok: true, snapshot_index: answer.snapshot_index, snapshot_term: answer.snapshot_term, first_index: answer.first_index, disk_bytes: answer.disk_bytes}
      } catch (error) {
        return {node: node.index, ok: false, error: (error as Error).message}
      }
    }),
  )
}
