/**
 * What the nodes say about their Raft state (GET /raft): who leads, and whether they agree.
 * Every wait here is bounded in time and tries (util/time's poll).
 */
import {poll} from '../util/time.js'
import {getJson, NodeHttpError, type NodeAddress} from './node-http-client.js'
import {DEFAULT_LOG_TAIL, type RaftInfo, type RaftLogAnswer} from '../api/node-http.js'
import {decodeRaftLog} from '../api/raft-log-codec.js'

export type {RaftInfo, RaftLogAnswer}

/** GET /raft, as the node answers it. */
export function getRaft(node: NodeAddress, timeoutMs = 1000): Promise<RaftInfo> {
  return getJson<RaftInfo>(node, '/raft', timeoutMs)
}

/**
 * GET /raft/log?last=`last`: the terms of the node's last `last` entries as runs, checked field
 * by field and against the tail asked for (api/raft-log-codec.ts); an answer that is not one is
 * a NodeHttpError saying why.
 */
export async function getRaftLog(node: NodeAddress, last = DEFAULT_LOG_TAIL, timeoutMs = 1000): Promise<RaftLogAnswer> {
  const decoded = decodeRaftLog(await getJson<unknown>(node, `/raft/log?last=${last}`, timeoutMs), last)
  if (!decoded.ok) throw new NodeHttpError(`GET /raft/log on ${node.host}:${node.http_port}: ${decoded.message}`)
  return decoded.value
}

/** Every node's /raft, null for a node that does not answer within `timeoutMs`. */
export function raftViews(nodes: readonly NodeAddress[], timeoutMs = 1000): Promise<(RaftInfo | null)[]> {
  return Promise.all(nodes.map((node) => getRaft(node, timeoutMs).catch(() => null)))
}

/** The node (by its own index) that leads in the highest term any reachable node reports, or null. */
export async function findLeader(nodes: readonly NodeAddress[], timeoutMs = 1000): Promise<number | null> {
  let best: RaftInfo | null = null
  for (const view of await raftViews(nodes, timeoutMs)) {
    if (view && view.state === 'LEADER' && (!best || view.current_term > best.current_term)) best = view
  }
  return best ? best.node_index : null
}

/** Polls findLeader until a leader is found (bounded by `timeoutMs`); null if none was. */
export async function waitForLeader(nodes: readonly NodeAddress[], timeoutMs: number, pollMs = 100): Promise<number | null> {
  return (await poll(async () => (await findLeader(nodes)) ?? undefined, {timeoutMs, intervalMs: pollMs})) ?? null
}

/**
 * Waits (bounded) until every node answers, one leads, and all have applied everything
 * committed, at the same index twice in a row (nothing was still on its way). Returns the
 * common index, or null if that did not happen in time.
 */
export async function waitConverged(nodes: readonly NodeAddress[], timeoutMs: number): Promise<number | null> {
  let stable = 0
  let last = -1
  const agreed = await poll(
    async () => {
      const views = await raftViews(nodes)
      if (!views.every((v) => v !== null)) return undefined
      const target = Math.max(...views.map((v) => v!.commit_index))
      const leaders = views.filter((v) => v!.state === 'LEADER').length
      if (leaders !== 1 || !views.every((v) => v!.commit_index === target && v!.last_applied === target)) return undefined
      if (target === last && ++stable >= 2) return target
      if (target !== last) stable = 0
      last = target
      return undefined
    },
    {timeoutMs, intervalMs: 200},
  )
  return agreed ?? null
}
