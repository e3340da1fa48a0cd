/**
 * `pad-cli bench --mode catchup`: what it costs a member to catch up with a cluster that holds
 * many messages. On a temporary cluster: fill it as fast as the leader takes publishes, then
 *
 * - stop a follower, publish a further chunk so it is behind, start it again: its log holds
 *   everything up to the stop, so it needs only what it missed;
 * - stop a follower, wipe its data dir, start it: it needs everything, as a brand-new member.
 *
 * Each catch-up is timed from the start request to the round where the follower has applied
 * what the leader had committed (catchup-watch.ts), while a background publisher keeps
 * publishing at a modest rate (its ack latency is what clients see meanwhile), and counts the
 * bytes the leader sent to its peers and the elections won meanwhile (the target is none).
 * Last, the disk: each node's data dir over the messages it stores, and over their payload.
 * Only HTTP and the cluster manager's control API are used, so any build can be measured.
 */
import {performance} from 'node:perf_hooks'
import type {StatsInfo} from '../api/node-http.js'
import {getJson} from '../client/node-http-client.js'
import {readMetric} from '../client/node-metrics.js'
import {getRaft, raftViews, waitConverged, type RaftInfo} from '../client/raft-state.js'
import type {ClusterMember, SupervisedCluster} from '../cluster/supervised-cluster.js'
import {watchCatchup} from './catchup-watch.js'
import {round3} from './latency.js'
import {dataBytes, wipeData, type NodeFolder} from './node-files.js'
import {runLoad, type LoadOptions, type LoadResult} from './publish-load.js'
import {converged, leaderOf} from './targets.js'

export const BYTES_SENT_METRIC = 'pad_raft_bytes_sent_total'

export interface CatchupOptions {
  cluster: SupervisedCluster
  nodes: ClusterMember[]
  folderOf: (index: number) => NodeFolder
  /** Messages to store before the catch-ups. */
  messages: number
  size: number
  window: number
  connections: number
  /** Messages published while the first follower is stopped. */
  behind: number
  /** Background publishes per second during each catch-up. */
  rate: number
  /** Longest the fill may take. */
  fillTimeoutMs: number
  topic: string
  /** Progress, as the phases end. */
  progress: {filled(fill: LoadResult): void; caughtUp(what: CatchupKind, run: CatchupRun): void}
}

export type CatchupKind = 'stopped follower' | 'empty member'

export interface CatchupRun {
  /** The member that caught up. */
  node: number
  /** Committed entries it had not applied when it was started. */
  behind_entries: number
  /** From the start request until the node answered /health. */
  start_ms: number
  /** From the start request until it had applied what the leader had committed; null if not within the bound. */
  catchup_ms: number | null
  entries_per_s: number | null
  /** Bytes the leader sent to its peers meanwhile; null if the leader changed or does not count them. */
  bytes_sent: number | null
  /** The background publishes, sent to the leader while the member caught up. */
  published: number
  publish_errors: number
  publish_p50_ms: number
  publish_p99_ms: number
  publish_max_ms: number
  /** Elections won on any node meanwhile. */
  elections: number
  /** Each node's peak resident memory meanwhile, by index; null for a node that never answered. */
  peak_rss_bytes: (number | null)[]
  /** The index every node had applied once the publisher stopped; null if they did not agree in time. */
  converged_index: number | null
  /** Snapshots the leader streamed, and the member installed, meanwhile; null from a build without snapshots. */
  snapshots_sent: number | null
  snapshots_installed: number | null
}

/** What builds with snapshots add to GET /raft; absent before them, so the benchmark measures both. */
type SnapshotCounters = {snapshots_sent?: number; snapshots_installed?: number}

function counter(view: RaftInfo | null, name: keyof SnapshotCounters): number | null {
  const value = (view as (RaftInfo & SnapshotCounters) | null)?.[name]
  return typeof value === 'number' ? value : null
}

export interface CatchupResult {
  phase: 'catchup'
  replicas: number
  /** Messages the fill stored (n_target unless the fill was capped). */
  messages: number
  n_target: number
  size: number
  fill_capped: boolean
  fill_elapsed_s: number
  fill_msgs_per_s: number
  fill_errors: number
  behind_messages: number
  stopped_follower: CatchupRun
  empty_member: CatchupRun
  /** After everything, by node index. */
  messages_stored: number[]
  disk_bytes: number[]
  /** Topic plus body bytes of one message. */
  payload_bytes_per_message: number
  /** The largest node's data dir over the messages it stores. */
  disk_bytes_per_message: number | null
  disk_ratio_to_payload: number | null
  /** The largest peak RSS of any node during the catch-ups. */
  max_rss_bytes: number | null
}

/** A catch-up may take this long: a minute, plus a millisecond per entry (a floor of 1,000 entries/s). */
export function catchupBoundMs(entries: number): number {
  return 60_000 + Math.max(0, entries)
}

export async function runCatchup(options: CatchupOptions): Promise<CatchupResult> {
  const {nodes, cluster} = options
  if (nodes.length < 3) throw new Error('--mode catchup needs a cluster of 3 or more nodes (one is stopped while the others serve)')
  const load = (leader: ClusterMember, extra: Partial<LoadOptions>): ReturnType<typeof runLoad> =>
    runLoad({
      endpoints: [{host: leader.host, port: leader.tcp_port}],
      mode: 'window',
      size: options.size,
      window: options.window,
      connections: options.connections,
      durationMs: options.fillTimeoutMs,
      topic: options.topic,
      warmup: 0,
      ...extra,
    })

  const fill = await load(member(nodes, await leaderOf(nodes)), {messages: options.messages})
  options.progress.filled(fill)
  await converged(nodes, catchupBoundMs(fill.acked))

  // A follower stopped while the cluster goes on: it replays what it missed.
  let leader = await leaderOf(nodes)
  const stopped = nodes.find((n) => n.index !== leader)!
  const appliedAtStop = (await getRaft(stopped)).last_applied
  await cluster.stop(stopped.index)
  const behind = await load(member(nodes, leader), {messages: options.behind})
  const stoppedRun = await measureCatchup(options, stopped.index, appliedAtStop)
  options.progress.caughtUp('stopped follower', stoppedRun)

  // A follower that lost its data dir: it needs everything, as a brand-new member. A leader
  // never lowers what it knows a follower to hold (Raft's match index; etcd's too), so the
  // leader that saw this node would keep sending from where it was; a new leader knows nothing
  // of it, as no leader knows a brand-new member. So leadership moves to the other follower
  // while the wiped node is down, before its catch-up is measured.
  leader = await leaderOf(nodes)
  const followers = nodes.filter((n) => n.index !== leader)
  const emptied = followers.find((n) => n.index !== stopped.index) ?? followers[0]
  await cluster.stop(emptied.index)
  wipeData(options.folderOf(emptied.index))
  const successor = nodes.find((n) => n.index !== leader && n.index !== emptied.index)!
  await cluster.transfer(successor.index)
  await leaderOf(nodes)
  const emptyRun = await measureCatchup(options, emptied.index, 0)
  options.progress.caughtUp('empty member', emptyRun)

  await converged(nodes, catchupBoundMs(0))
  const stored = await Promise.all(nodes.map(async (n) => (await getJson<StatsInfo>(n, '/stats')).messages_stored))
  const disk = nodes.map((n) => dataBytes(options.folderOf(n.index)))
  const payload = Buffer.byteLength(options.topic) + options.size
  const perMessage = nodes.map((_, i) => (stored[i] > 0 ? disk[i] / stored[i] : null)).filter((v): v is number => v !== null)
  const worst = perMessage.length > 0 ? Math.max(...perMessage) : null
  const peaks = [...stoppedRun.peak_rss_bytes, ...emptyRun.peak_rss_bytes].filter((v): v is number => v !== null)
  return {
    phase: 'catchup',
    replicas: nodes.length,
    messages: fill.acked,
    n_target: options.messages,
    size: options.size,
    fill_capped: fill.capped,
    fill_elapsed_s: fill.elapsed_s,
    fill_msgs_per_s: fill.msgs_per_s,
    fill_errors: fill.errors,
    behind_messages: behind.acked,
    stopped_follower: stoppedRun,
    empty_member: emptyRun,
    messages_stored: stored,
    disk_bytes: disk,
    payload_bytes_per_message: payload,
    disk_bytes_per_message: worst === null ? null : Math.round(worst),
    disk_ratio_to_payload: worst === null ? null : round3(worst / payload),
    max_rss_bytes: peaks.length > 0 ? Math.max(...peaks) : null,
  }
}

/** Starts the stopped node `index` (which had applied `applied`) and measures its catch-up under a background publisher. */
async function measureCatchup(options: CatchupOptions, index: number, applied: number): Promise<CatchupRun> {
  const {nodes, cluster} = options
  const leaderIndex = await leaderOf(nodes)
  const leader = member(nodes, leaderIndex)
  const electionsBefore = (await raftViews(nodes)).map((v, i) => (nodes[i].index === index ? 0 : (v?.elections_won ?? 0)))
  const bytesBefore = await readMetric(leader, BYTES_SENT_METRIC)
  const leaderView = await getRaft(leader)
  const behind = leaderView.commit_index - applied
  const boundMs = catchupBoundMs(behind)
  const stop = new AbortController()
  const publisher = runLoad({
    endpoints: [{host: leader.host, port: leader.tcp_port}],
    mode: 'sync',
    size: options.size,
    window: 1,
    connections: 1,
    durationMs: boundMs,
    rate: options.rate,
    topic: options.topic,
    warmup: 0,
    stop: stop.signal,
  })
  // Awaited below; if the start fails first, its error is the one to report.
  publisher.catch(() => undefined)
  const since = performance.now()
  let startMs: number
  let caughtUpMs: number | null
  let peaks: (number | null)[]
  let bytesAfter: number | null
  try {
    const started = cluster.start(index).then(() => Math.round(performance.now() - since))
    const watched = watchCatchup({nodes, follower: nodes.findIndex((n) => n.index === index), since, timeoutMs: boundMs, intervalMs: 100})
    ;[startMs, {caught_up_ms: caughtUpMs, peak_rss_bytes: peaks}] = await Promise.all([started, watched])
    bytesAfter = await readMetric(leader, BYTES_SENT_METRIC).catch(() => null)
  } finally {
    stop.abort()
  }
  const published = await publisher
  const leaderAfter = await leaderOf(nodes)
  const viewsAfter = await raftViews(nodes)
  const electionsAfter = viewsAfter.map((v) => v?.elections_won ?? 0)
  const convergedIndex = await waitConverged(nodes, catchupBoundMs(0))
  const sentBefore = counter(leaderView, 'snapshots_sent')
  const sentAfter = counter(viewsAfter[nodes.indexOf(leader)], 'snapshots_sent')
  return {
    node: index,
    behind_entries: behind,
    start_ms: startMs,
    catchup_ms: caughtUpMs,
    entries_per_s: caughtUpMs === null || caughtUpMs === 0 ? null : Math.round((behind * 1000) / caughtUpMs),
    bytes_sent: leaderAfter === leaderIndex && bytesBefore !== null && bytesAfter !== null ? bytesAfter - bytesBefore : null,
    published: published.acked,
    publish_errors: published.errors,
    publish_p50_ms: published.p50_ms,
    publish_p99_ms: published.p99_ms,
    publish_max_ms: published.max_ms,
    elections: electionsAfter.reduce((sum, after, i) => sum + Math.max(0, after - electionsBefore[i]), 0),
    peak_rss_bytes: peaks,
    converged_index: convergedIndex,
    snapshots_sent: leaderAfter === leaderIndex && sentBefore !== null && sentAfter !== null ? sentAfter - sentBefore : null,
    // The member was started for this catch-up: its count is this catch-up's.
    snapshots_installed: counter(viewsAfter[nodes.findIndex((n) => n.index === index)], 'snapshots_installed'),
  }
}

function member(nodes: readonly ClusterMember[], index: number): ClusterMember {
  return nodes.find((n) => n.index === index)!
}
