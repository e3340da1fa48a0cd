/**
 * Watches a follower catch up, from the nodes' HTTP APIs only (so it measures any build, with
 * or without snapshots): every round reads GET /raft and GET /stats of every node, and the
 * follower has caught up once it has applied what the leader had committed one round earlier
 * (a live publisher keeps moving the leader's commit index, so "equal in the same instant"
 * may never be seen). Bounded in time; also keeps each node's peak RSS.
 */
import {performance} from 'node:perf_hooks'
import type {StatsInfo} from '../api/node-http.js'
import {getJson, type NodeAddress} from '../client/node-http-client.js'
import {raftViews, type RaftInfo} from '../client/raft-state.js'
import {sleep} from '../util/time.js'

export interface WatchOptions {
  nodes: readonly NodeAddress[]
  /** The position in `nodes` of the follower that catches up. */
  follower: number
  /** When the catch-up began (performance.now()). */
  since: number
  timeoutMs: number
  intervalMs: number
}

export interface WatchResult {
  /** From `since` to the round that saw the follower caught up; null when it did not within the bound. */
  caught_up_ms: number | null
  /** Peak resident memory of each node (by position in `nodes`) over the rounds; null for a node that never answered. */
  peak_rss_bytes: (number | null)[]
}

function leaderView(views: readonly (RaftInfo | null)[]): RaftInfo | null {
  let best: RaftInfo | null = null
  for (const view of views) if (view?.state === 'LEADER' && (!best || view.current_term > best.current_term)) best = view
  return best
}

export async function watchCatchup(options: WatchOptions): Promise<WatchResult> {
  const peaks: (number | null)[] = options.nodes.map(() => null)
  let previousCommit: number | null = null
  const deadline = options.since + options.timeoutMs
  const rounds = Math.ceil(options.timeoutMs / options.intervalMs) + 1
  for (let round = 0; round < rounds && performance.now() < deadline; round++) {
    const [views, stats] = await Promise.all([raftViews(options.nodes), statsViews(options.nodes)])
    stats.forEach((s, i) => {
      if (s) peaks[i] = Math.max(peaks[i] ?? 0, s.memory.rss_bytes)
    })
    const leader = leaderView(views)
    const follower = views[options.follower]
    if (leader && follower) {
      if (previousCommit !== null && follower.last_applied >= previousCommit) {
        return {caught_up_ms: Math.round(performance.now() - options.since), peak_rss_bytes: peaks}
      }
      previousCommit = leader.commit_index
    }
    await sleep(options.intervalMs)
  }
  return {caught_up_ms: null, peak_rss_bytes: peaks}
}

/** Every node's /stats, null for a node that does not answer within a second. */
function statsViews(nodes: readonly NodeAddress[]): Promise<(StatsInfo | null)[]> {
  return Promise.all(nodes.map((node) => getJson<StatsInfo>(node, '/stats', 1000).catch(() => null)))
}
