/**
 * One chaos run: start a temporary cluster (or take the one named), run the workload while
 * the nemesis plays its schedule, heal everything, wait for convergence, read every voter,
 * check, and write the history. With membership faults the nodes change during the run: the
 * workload follows the members, and what is read and compared at the end is the voters then
 * (a removed node's data is stale by design). Every phase is bounded in time, and every process it started
 * is stopped before it returns, whatever happened.
 */
import crypto from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {performance} from 'node:perf_hooks'
import {checkHistory, type CheckReport} from './checker.js'
import {HISTORY_VERSION, writeHistory, type History, type NodeMessages} from './history.js'
import {waitConverged, waitForLeader} from '../client/raft-state.js'
import type {CliEntry} from '../cluster/cli-entry.js'
import {openCluster, startTemporaryCluster, type ClusterLayout, type ClusterMember, type SupervisedCluster} from '../cluster/supervised-cluster.js'
import {sleep} from '../util/time.js'
import {ElectionWatcher, readNodeMessages} from './monitor.js'
import {DEFAULT_FAMILIES, Nemesis, planSchedule, type FaultFamily} from './nemesis.js'
import {Publishers, Subscribers} from './workload.js'

export interface ChaosRunOptions extends ClusterLayout {
  seed: number
  nodes: number
  durationMs: number
  publishers: number
  window: number
  rate: number
  topics: number
  subscribersPerNode: number
  intervalMs: number
  minHoldMs: number
  maxHoldMs: number
  families: FaultFamily[]
  maxAttempts: number
  attemptTimeoutMs: number
  retryBudgetMs: number
  convergeTimeoutMs: number
  catchUpTimeoutMs: number
  /** Run on this cluster (brought up with `pad-cli up`) instead of a temporary one. */
  cluster?: string
  /** The temporary cluster's PAD_HOME; default a new temp dir. */
  dir?: string
  /** Where to write the history; default in the cluster's folder. */
  historyFile?: string
  /** Keep the nodes' data and logs even when the run passes. */
  keep: boolean
  /** The temporary cluster's --snapshot-entries and --trailing-entries (low: snapshots happen under faults). */
  snapshotEntries?: number
  trailingEntries?: number
  /** The temporary cluster's nodes run with --unsafe-no-fsync (test only: power cuts then lose acknowledged messages). */
  unsafeNoFsync?: boolean
  /** The temporary cluster's nodes each in its own network namespace, partitions cut in the kernel (`up --netns`; root only). */
  netns?: boolean
  /** How the supervisor runs `pad-cli node` (default: the pad-cli running now). */
  cli?: CliEntry
  /** The command line that replays this run, recorded in the history. */
  replay: string
  log: (line: string) => void
  /** Aborting ends the fault phase early; the run still heals, converges and checks. */
  signal?: AbortSignal
  /** Told the cluster once it has started, and null once it is closed (for an exit handler). */
  onCluster?: (cluster: SupervisedCluster | null) => void
}

export const DEFAULT_RUN: Omit<ChaosRunOptions, 'seed' | 'cli' | 'replay' | 'log' | 'signal' | 'onCluster' | 'dir' | 'historyFile' | 'cluster'> = {
  nodes: 3,
  durationMs: 60_000,
  publishers: 4,
  window: 8,
  rate: 200,
  topics: 3,
  subscribersPerNode: 1,
  intervalMs: 1500,
  minHoldMs: 1000,
  maxHoldMs: 4000,
  families: [...DEFAULT_FAMILIES],
  maxAttempts: 20,
  attemptTimeoutMs: 5000,
  retryBudgetMs: 30_000,
  convergeTimeoutMs: 60_000,
  catchUpTimeoutMs: 30_000,
  host: '127.0.0.1',
  tcpPort: 15000,
  httpPort: 18080,
  raftPort: 16000,
  electionTimeoutMs: 150,
  heartbeatMs: 50,
  keep: false,
}

export interface ChaosRunResult {
  history: History
  report: CheckReport
  historyFile: string
  /** The temporary cluster's folder, if it was kept (the run failed, or --keep). */
  keptDir: string | null
  /** Wall-clock time of each phase, in ms. */
  phases: Record<string, number>
}

export async function runChaos(options: ChaosRunOptions): Promise<ChaosRunResult> {
  const log = options.log
  const t0 = performance.now()
  const clock = (): number => Math.round((performance.now() - t0) * 10) / 10
  const startedAt = new Date()
  const tag = `c${options.seed.toString(36)}${crypto.randomBytes(3).toString('hex')}`
  const topics = Array.from({length: options.topics}, (_, k) => `chaos.${tag}.t${k}`)
  const phases: Record<string, number> = {}
  const phase = (name: string, since: number): void => {
    phases[name] = Math.round(clock() - since)
  }

  let since = clock()
  let cluster: SupervisedCluster
  /** A temp dir this run made for its cluster (deleted when the run passes and keeps nothing there). */
  let madeHome: string | null = null
  const lazyFs = needsLazyFs(options.families)
  if (options.cluster !== undefined) {
    cluster = await openCluster(options.cluster, lazyFs)
    if (cluster.nodes.length < 3) throw new Error(`cluster "${options.cluster}" has ${cluster.nodes.length} node(s): a chaos run needs at least 3`)
    log(`running on cluster "${options.cluster}" (${cluster.nodes.length} nodes); first every node is started and healed`)
    await cluster.restoreAll()
  } else {
    const home = options.dir ?? (madeHome = fs.mkdtempSync(path.join(os.tmpdir(), `pad-chaos-${options.seed}-`)))
    const where = options.netns ? ', each in its own network namespace' : ''
    log(`starting ${options.nodes} nodes (TCP ${options.tcpPort}+, HTTP ${options.httpPort}+, Raft ${options.raftPort}+${where}); watch them with: PAD_HOME=${home} pad-cli status --cluster chaos`)
    cluster = await startTemporaryCluster({
      home,
      name: 'chaos',
      nodes: options.nodes,
      host: options.host,
      tcpPort: options.tcpPort,
      httpPort: options.httpPort,
      raftPort: options.raftPort,
      electionTimeoutMs: options.electionTimeoutMs,
      heartbeatMs: options.heartbeatMs,
      cli: options.cli,
      waitMs: 30_000,
      snapshotEntries: options.snapshotEntries,
      trailingEntries: options.trailingEntries,
      lazyFs,
      unsafeNoFsync: options.unsafeNoFsync,
      netns: options.netns,
    })
  }
  options.onCluster?.(cluster)
  const historyFile = options.historyFile ?? path.join(runFolder(cluster.dir, options, startedAt), 'history.json')
  const members = (): readonly ClusterMember[] => cluster.nodes
  const startNodes = cluster.nodes.length
  const watcher = new ElectionWatcher(members, clock, log)
  const subscribers = new Subscribers({nodes: members, topics, perNode: options.subscribersPerNode})
  const publishers = new Publishers({
    nodes: members,
    topics,
    tag,
    seed: options.seed,
    publishers: options.publishers,
    window: options.window,
    rate: options.rate,
    maxAttempts: options.maxAttempts,
    attemptTimeoutMs: options.attemptTimeoutMs,
    retryBudgetMs: options.retryBudgetMs,
    clock,
  })
  const schedule = planSchedule(options.seed, {
    nodes: startNodes,
    durationMs: options.durationMs,
    intervalMs: options.intervalMs,
    minHoldMs: options.minHoldMs,
    maxHoldMs: options.maxHoldMs,
    families: options.families,
  })
  // A node that joined gets subscribers and is watched for elections, like the first ones.
  const onMembershipChange = (): void => {
    for (const node of cluster.nodes) {
      subscribers.addNode(node)
      watcher.watch(node)
    }
  }
  const nemesisLog = (line: string): void => log(`${(clock() / 1000).toFixed(1)}s ${line}`)
  const nemesis = new Nemesis(cluster, schedule, {clock, nodes: startNodes, log: nemesisLog, onMembershipChange}, options.seed)
  let converged: number | null = null
  let restoreError: string | undefined
  let stored: NodeMessages[] = []
  let voters: ClusterMember[] = [...cluster.nodes]
  try {
    watcher.start()
    if ((await waitForLeader(cluster.nodes, 30_000)) === null) throw new Error(`no leader was elected within 30 s; see the logs in ${cluster.dir}`)
    if (!(await subscribers.start(15_000))) log('warning: not every subscriber could subscribe within 15 s')
    phase('start', since)

    since = clock()
    const faultStart = clock()
    publishers.start()
    const end = faultStart + options.durationMs
    const onAbort = (): void => nemesis.stop()
    options.signal?.addEventListener('abort', onAbort)
    if (options.signal?.aborted) nemesis.stop()
    const progress = setInterval(() => {
      const acked = publishers.records.filter((r) => r.outcome === 'ok').length
      log(`${(clock() / 1000).toFixed(1)}s published ${publishers.records.length}, acked ${acked}, in flight ${publishers.pending}, faults ${nemesis.records.length}, elections ${watcher.elections.length}`)
    }, 10_000)
    try {
      // The schedule's times are relative to the start of the fault phase.
      await nemesis.run(faultStart, end)
      while (clock() < end && !options.signal?.aborted) await sleep(Math.min(250, end - clock()))
    } finally {
      clearInterval(progress)
      options.signal?.removeEventListener('abort', onAbort)
      nemesis.stop()
    }
    phase('faults', since)

    since = clock()
    log('healing: every node running, no network fault')
    try {
      await retry(() => cluster.restoreAll(), 3, log)
    } catch (error) {
      // A cluster that lost a majority's data (the planted --unsafe-no-fsync bug under power
      // cuts) cannot come back; what its nodes still hold is the verdict, so it is read anyway.
      restoreError = (error as Error).message
      log(`warning: the cluster could not be restored (${restoreError}); reading what the nodes that answer hold`)
    }
    publishers.stop()
    if (!(await publishers.drain(options.retryBudgetMs + options.attemptTimeoutMs + 5000))) log('warning: some publishes were still in flight after the drain bound')
    phase('heal', since)

    since = clock()
    // The voters now are what is compared: a removed node is left out, a learner an add left behind too.
    const voterIndexes = await cluster.voters().catch((error: unknown) => {
      if (restoreError === undefined) throw error
      return cluster.nodes.map((n) => n.index)
    })
    voters = cluster.nodes.filter((n) => voterIndexes.includes(n.index))
    if (voters.length !== cluster.nodes.length) log(`members ${cluster.nodes.map((n) => n.index).join(',')}, of which voters ${voterIndexes.join(',')}: the voters are read`)
    converged = await waitConverged(voters, options.convergeTimeoutMs)
    if (converged === null) log(`warning: the cluster did not converge within ${options.convergeTimeoutMs} ms`)
    phase('converge', since)

    since = clock()
    stored = await Promise.all(voters.map((node) => readNodeMessages(node, topics)))
    const last = (node: number, topic: string): number => {
      const entries = stored.find((s) => s.node === node)?.topics[topic] ?? []
      return entries.length > 0 ? entries[entries.length - 1].offset : -1
    }
    if (!(await subscribers.catchUp(last, options.catchUpTimeoutMs))) log(`warning: some subscribers had not caught up within ${options.catchUpTimeoutMs} ms`)
    phase('read', since)
  } finally {
    publishers.close()
    await subscribers.close()
    await watcher.stop()
    // A temporary cluster stops here; one of the user's stays up (healed above).
    await cluster.close()
    options.onCluster?.(null)
  }

  const history: History = {
    version: HISTORY_VERSION,
    meta: {
      seed: options.seed,
      nodes: startNodes,
      duration_ms: options.durationMs,
      started_at: startedAt.toISOString(),
      finished_at: new Date().toISOString(),
      replay: options.replay,
      converged: converged !== null,
      ...(restoreError === undefined ? {} : {restore_error: restoreError}),
      voters: voters.map((n) => n.index),
      topics,
      options: {
        publishers: options.publishers,
        window: options.window,
        rate: options.rate,
        subscribers_per_node: options.subscribersPerNode,
        interval_ms: options.intervalMs,
        hold_ms: [options.minHoldMs, options.maxHoldMs],
        faults: options.families,
        max_attempts: options.maxAttempts,
        attempt_timeout_ms: options.attemptTimeoutMs,
        retry_budget_ms: options.retryBudgetMs,
        cluster: options.cluster ?? null,
        ports: cluster.nodes.map((n) => ({tcp: n.tcp_port, http: n.http_port, raft: n.raft_port})),
        election_timeout_ms: options.cluster === undefined ? options.electionTimeoutMs : null,
        unsafe_no_fsync: options.unsafeNoFsync === true,
        heartbeat_ms: options.cluster === undefined ? options.heartbeatMs : null,
        phases_ms: phases,
      },
    },
    publishes: publishers.records,
    stored,
    subscribers: subscribers.records,
    faults: nemesis.records,
    elections: watcher.elections,
  }
  const report = checkHistory(history)
  fs.mkdirSync(path.dirname(historyFile), {recursive: true})
  writeHistory(historyFile, history)
  let keptDir: string | null = null
  if (options.cluster === undefined) {
    if (report.valid && !options.keep) {
      // The history and the event timeline stay when the history was written there.
      if (madeHome !== null && !path.resolve(historyFile).startsWith(madeHome + path.sep)) fs.rmSync(madeHome, {recursive: true, force: true})
      else cluster.removeNodeData()
    } else {
      keptDir = cluster.dir
    }
  }
  return {history, report, historyFile, keptDir, phases}
}

/** Power cuts (`power`, `power-all`) need every data dir on the lazy layer. */
export function needsLazyFs(families: readonly string[]): boolean {
  return families.some((family) => family === 'power' || family === 'power-all')
}

async function retry(action: () => Promise<void>, times: number, log: (line: string) => void): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await action()
      return
    } catch (error) {
      if (attempt >= times) throw error
      log(`retrying after: ${(error as Error).message}`)
      await sleep(1000)
    }
  }
}

/**
 * Where a run keeps its history.json: a temporary cluster's folder is the run's own; on the
 * user's cluster, each run gets a folder of its own in the cluster's folder
 * (chaos-<seed>-<UTC time>), so runs on one cluster do not overwrite each other.
 */
export function runFolder(clusterDir: string, options: Pick<ChaosRunOptions, 'cluster' | 'seed'>, startedAt: Date): string {
  if (options.cluster === undefined) return clusterDir
  const stamp = startedAt.toISOString().replace(/[-:]/g, '').replace(/\..*$/, '')
  return path.join(clusterDir, `chaos-${options.seed}-${stamp}`)
}
