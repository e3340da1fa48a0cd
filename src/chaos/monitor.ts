/**
 * Watching and reading the cluster during and after a run: the elections every node reports
 * on GET /events, and every node's stored messages.
 */
import {followEvents} from '../client/node-events.js'
import {readTopic} from '../client/stored-messages.js'
import type {ClusterMember} from '../cluster/supervised-cluster.js'
import {sleep} from '../util/time.js'
import type {ElectionRecord, NodeMessages, StoredEntry} from './history.js'
import {valueOf} from './workload.js'

const RECONNECT_MS = 300

/**
 * Follows every node's /events stream (again after each restart) and records each node
 * becoming leader, once per (term, leader).
 */
export class ElectionWatcher {
  readonly elections: ElectionRecord[] = []
  private readonly seen = new Set<string>()
  /** Closes each open stream (and ends its wait). */
  private readonly closers = new Set<() => void>()
  private stopped = false
  private loops: Promise<void>[] = []

  constructor(
    private readonly nodes: readonly ClusterMember[],
    private readonly clock: () => number,
  ) {}

  start(): void {
    this.loops = this.nodes.map((node) => this.follow(node))
  }

  async stop(): Promise<void> {
    this.stopped = true
    for (const close of [...this.closers]) close()
    await Promise.all(this.loops)
  }

  private note(term: unknown, leader: unknown): void {
    if (typeof term !== 'number' || typeof leader !== 'number') return
    const key = `${term}:${leader}`
    if (this.seen.has(key)) return
    this.seen.add(key)
    this.elections.push({at: this.clock(), term, leader})
  }

  /** One stream after the other until stop(): a node that is down or paused is tried again. */
  private async follow(node: ClusterMember): Promise<void> {
    while (!this.stopped) {
      await new Promise<void>((resolve) => {
        let close = (): void => {}
        const stop = (): void => {
          this.closers.delete(stop)
          close()
          resolve()
        }
        this.closers.add(stop)
        close = followEvents(node, (type, data) => this.event(node, type, data), stop)
      })
      if (!this.stopped) await sleep(RECONNECT_MS)
    }
  }

  private event(node: ClusterMember, type: string, event: Record<string, unknown>): void {
    if (type === 'hello' && event.state === 'LEADER') this.note(event.current_term, node.index)
    if (type === 'role' && event.role === 'LEADER') this.note(event.term, node.index)
  }
}

/** Every message of `topics` a node stores, in offset order. */
export async function readNodeMessages(node: ClusterMember, topics: string[]): Promise<NodeMessages> {
  const out: NodeMessages = {node: node.index, read: true, topics: {}}
  try {
    for (const topic of topics) {
      out.topics[topic] = (await readTopic(node, topic)).map((m): StoredEntry => ({offset: m.offset, id: m.id ?? null, value: valueOf(m.body)}))
    }
  } catch (error) {
    return {node: node.index, read: false, error: (error as Error).message, topics: {}}
  }
  return out
}
