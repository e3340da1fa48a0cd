/**
 * The log tails behind the log-cells rows: GET /raft/log of every running node, twice a second
 * at most, and only while the rows are on screen (the view says how many entries fit). One
 * request per node at a time, each with a timeout, so a paused node costs one waiting request.
 * A node that cannot say (an older build answers 404, a node going down, an answer that does
 * not check) has no picture: null, which the row shows as n/a.
 */
import {MAX_LOG_TAIL, type RaftLogAnswer} from '../api/node-http.js'
import {getRaftLog} from '../client/raft-state.js'
import type {TopModel} from './model.js'

export const LOG_POLL_MS = 500

export class LogTails {
  private readonly answers = new Map<number, RaftLogAnswer | null>()
  private readonly inFlight = new Set<number>()
  private entries: number | null = null
  private timer: NodeJS.Timeout | null = null

  constructor(
    private readonly model: TopModel,
    private readonly everyMs = LOG_POLL_MS,
    private readonly timeoutMs = 1000,
  ) {}

  /** How many entries the rows show, or null while they are hidden (polling stops). */
  want(entries: number | null): void {
    this.entries = entries === null ? null : Math.max(1, Math.min(MAX_LOG_TAIL, Math.floor(entries)))
    if (this.entries === null && this.timer) {
      clearInterval(this.timer)
      this.timer = null
    } else if (this.entries !== null && !this.timer) {
      this.timer = setInterval(() => this.poll(), this.everyMs)
      this.poll()
    }
  }

  /** The last answer of node `index`; null: it could not say; undefined: not asked yet. */
  readonly get = (index: number): RaftLogAnswer | null | undefined => this.answers.get(index)

  stop(): void {
    this.want(null)
  }

  private poll(): void {
    const entries = this.entries
    if (entries === null) return
    for (const node of this.model.snapshot().nodes) {
      const index = node.index
      if (node.process !== 'running') {
        this.answers.delete(index)
        continue
      }
      if (this.inFlight.has(index)) continue
      this.inFlight.add(index)
      getRaftLog({host: node.host, http_port: node.http_port}, entries, this.timeoutMs)
        .then((answer) => this.answers.set(index, answer))
        .catch(() => this.answers.set(index, null))
        .finally(() => this.inFlight.delete(index))
    }
  }
}
