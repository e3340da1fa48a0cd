/**
 * Where the dashboard's data comes from: the supervisor's status once a second (the ground
 * truth: processes, faults, lag), the cluster timeline as it grows, and every running
 * node's /events stream for role, term and commit changes in between. Nothing here polls a
 * node's endpoints; a node that is down or paused only makes its stream wait.
 */
import type {ClusterHandle} from '../cluster/cluster.js'
import {parseEvent, readEvents} from '../cluster/events.js'
import {followEvents} from '../client/node-events.js'
import {LineFollower} from '../cluster/tail.js'
import type {TopModel} from './model.js'

export interface FeedOptions {
  statusEveryMs?: number
  eventsEveryMs?: number
}

export class LiveFeed {
  private timers: NodeJS.Timeout[] = []
  private readonly streams = new Map<number, {port: number; pid: number | null; close: () => void}>()
  private readonly retryAt = new Map<number, number>()
  private follower: LineFollower | null = null
  private statusInFlight = false
  private stopped = false

  constructor(
    private readonly cluster: ClusterHandle,
    private readonly model: TopModel,
    private readonly options: FeedOptions = {},
  ) {}

  /** Loads the timeline and the first status (bounded), then keeps following both. */
  async start(): Promise<void> {
    this.model.loadHistory(readEvents(this.cluster.paths.events))
    this.follower = new LineFollower(this.cluster.paths.events, (line) => {
      const event = parseEvent(line)
      if (event) this.model.clusterEvent(event)
    })
    await this.pollStatus()
    this.timers.push(setInterval(() => void this.pollStatus(), this.options.statusEveryMs ?? 1000))
    this.timers.push(setInterval(() => this.follower?.poll(), this.options.eventsEveryMs ?? 200))
  }

  /** One status now (for --once). */
  async pollStatus(): Promise<void> {
    if (this.statusInFlight || this.stopped) return
    this.statusInFlight = true
    try {
      const status = await this.cluster.status()
      if (this.stopped) return
      this.model.setStatus(status)
      this.syncStreams()
    } catch (error) {
      this.model.statusFailed((error as Error).message)
    } finally {
      this.statusInFlight = false
    }
  }

  stop(): void {
    this.stopped = true
    for (const timer of this.timers) clearInterval(timer)
    this.timers = []
    for (const stream of this.streams.values()) stream.close()
    this.streams.clear()
  }

  /** One /events stream per running node; closed when the node is not running any more. */
  private syncStreams(): void {
    const snapshot = this.model.snapshot()
    for (const node of snapshot.nodes) {
      const open = this.streams.get(node.index)
      const wanted = node.process === 'running' || node.process === 'paused'
      if (open && (!wanted || open.port !== node.http_port || open.pid !== node.pid)) {
        open.close()
        this.streams.delete(node.index)
      }
      if (!wanted || this.streams.has(node.index) || Date.now() < (this.retryAt.get(node.index) ?? 0)) continue
      const index = node.index
      const close = followEvents(
        {host: node.host, http_port: node.http_port},
        {
          event: (item) => this.model.nodeEvent(index, item),
          skipped: (reason, count) => this.model.note('error', 'events', `node ${index} sent events that do not decode (${count} so far): ${reason}`),
          end: () => {
            // Ended or failed: the next status poll opens it again, after a pause.
            this.streams.delete(index)
            this.retryAt.set(index, Date.now() + 1000)
          },
        },
      )
      this.streams.set(index, {port: node.http_port, pid: node.pid, close})
    }
  }
}
