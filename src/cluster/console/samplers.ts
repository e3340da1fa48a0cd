/**
 * What the console asks the nodes itself, only while a browser watches (once for all of them):
 * each running node's log tail (GET /raft/log, a few times a second) and, once a second, the
 * commit rate (from the commit indexes the nodes' streams report) and the leader's write
 * latency (GET /stats). A node that answers /raft/log with 404 (a version without it) is not
 * asked again until its process changes; its log is simply not drawn.
 */
import {LOG_CELLS, type ConsoleLog, type ConsoleMetrics, type ConsoleNode} from '../../api/console.js'
import type {StatsInfo} from '../../api/node-http.js'
import {decodeRaftLog} from '../../api/raft-log-codec.js'
import {requestJson} from '../../client/node-http-client.js'

const LOG_EVERY_MS = 400
const METRICS_EVERY_MS = 1000
const ASK_TIMEOUT_MS = 800

export interface SamplerSink {
  nodes(): ConsoleNode[]
  leader(): number | null
  log(log: ConsoleLog): void
  metrics(metrics: ConsoleMetrics): void
  /** Called on every metrics tick: the node cards may have changed without an event (a /raft poll). */
  tick(): void
}

export class Samplers {
  private timers: NodeJS.Timeout[] = []
  private readonly asking = new Set<string>()
  /** Node index -> the pid whose /raft/log answered 404. */
  private readonly noLog = new Map<number, number | null>()
  private readonly sentLogs = new Map<number, string>()
  private lastCommit: {at: number; commit: number} | null = null

  constructor(private readonly sink: SamplerSink) {}

  start(): void {
    if (this.timers.length > 0) return
    this.timers = [setInterval(() => this.sampleLogs(), LOG_EVERY_MS), setInterval(() => void this.sampleMetrics(), METRICS_EVERY_MS)]
    for (const timer of this.timers) timer.unref()
    this.sentLogs.clear()
    this.lastCommit = null
    this.sampleLogs()
  }

  stop(): void {
    for (const timer of this.timers) clearInterval(timer)
    this.timers = []
  }

  private sampleLogs(): void {
    for (const node of this.sink.nodes()) {
      if (node.process !== 'running' || this.noLog.get(node.index) === node.pid) continue
      void this.once(`log-${node.index}`, async () => {
        const answer = await requestJson(node, 'GET', `/raft/log?last=${LOG_CELLS}`, {timeoutMs: ASK_TIMEOUT_MS})
        if (answer.status === 404) {
          this.noLog.set(node.index, node.pid)
          return
        }
        const log = answer.status === 200 ? consoleLog(node.index, answer.json) : null
        if (!log) return
        const text = JSON.stringify(log)
        if (this.sentLogs.get(node.index) === text) return
        this.sentLogs.set(node.index, text)
        this.sink.log(log)
      })
    }
  }

  private async sampleMetrics(): Promise<void> {
    this.sink.tick()
    const nodes = this.sink.nodes()
    const now = Date.now()
    const commit = Math.max(0, ...nodes.map((n) => n.commit ?? 0))
    const previous = this.lastCommit
    this.lastCommit = {at: now, commit}
    const rate = previous === null || now <= previous.at ? 0 : (Math.max(0, commit - previous.commit) * 1000) / (now - previous.at)
    const leader = this.sink.leader()
    let latency: number | null = null
    const target = leader === null ? undefined : nodes[leader]
    if (target && target.process === 'running') {
      await this.once('stats', async () => {
        const answer = await requestJson(target, 'GET', '/stats', {timeoutMs: ASK_TIMEOUT_MS})
        const p99 = (answer.json as Partial<StatsInfo>).write_queue?.commit_latency_ms?.p99
        if (answer.status === 200 && typeof p99 === 'number' && Number.isFinite(p99) && p99 >= 0) latency = p99
      })
    }
    this.sink.metrics({time: new Date(now).toISOString(), commits_per_s: Math.round(rate * 10) / 10, latency_p99_ms: latency, leader})
  }

  /** Runs `task` unless the same one is still running (a slow node is not asked twice); failures are quiet. */
  private async once(key: string, task: () => Promise<void>): Promise<void> {
    if (this.asking.has(key)) return
    this.asking.add(key)
    try {
      await task()
    } catch {
      // Not answering (paused, stopping): nothing to draw this time.
    } finally {
      this.asking.delete(key)
    }
  }
}

/** A node's /raft/log answer, checked field by field (it is network input, decoded as every reader of it does), as the page draws it; null if it does not check. */
export function consoleLog(node: number, json: unknown): ConsoleLog | null {
  const decoded = decodeRaftLog(json, LOG_CELLS)
  if (!decoded.ok) return null
  const {last_index, commit_index, snapshot_index, runs} = decoded.value
  return {node, last_index, commit: commit_index, snapshot_index, runs}
}
