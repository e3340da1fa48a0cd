/**
 * Watching and reading the cluster during and after a run: the elections every node reports
 * on GET /events, and every node's stored messages.
 */
import {followEvents, type NodeStreamItem} from '../client/node-events.js'
import {readTopic} from '../client/stored-messages.js'
import type {ClusterMember} from '../cluster/supervised-cluster.js'
import {sleep} from '../util/time.js'
import type {ElectionRecord, NodeMessages, StoredEntry} from './history.js'
import {valueOf} from './workload.js'

const RECONNECT_MS = 300

/**
 * Follows every member's /events stream (again after each restart) and records each node
 * becoming leader, once per (term, leader). A node added later is followed from watch(); a
 * removed one is let go (its process is stopped for good).
 */
export class ElectionWatcher {
  readonly elections: ElectionRecord[] = []
  private readonly seen = new Set<string>()
  /** Closes each open stream (and ends its wait). */
  private readonly closers = new Set<() => void>()
  private stopped = false
  private loops: Promise<void>[] = []

  private readonly followed = new Set<number>()

  constructor(
    private readonly nodes: () => readonly ClusterMember[],
    private readonly clock: () => number,
    /** Says an event that was skipped: an election it held would be missing from the history. */
    private readonly warn: (line: string) => void,
  ) {}

  start(): void {
    for (const node of this.nodes()) this.watch(node)
  }

  /** Follows a node too (one that joined the cluster), unless it is followed already. */
  watch(node: ClusterMember): void {
    if (this.stopped || this.followed.has(node.index)) return
    this.followed.add(node.index)
    this.loops.push(this.follow(node))
  }

  private isMember(node: ClusterMember): boolean {
    return this.nodes().some((n) => n.index === node.index)
  }

  async stop(): Promise<void> {
    this.stopped = true
    for (const close of [...this.closers]) close()
    await Promise.all(this.loops)
  }

  private note(term: number, leader: number): void {
    const key = `${term}:${leader}`
    if (this.seen.has(key)) return
    this.seen.add(key)
    this.elections.push({at: this.clock(), term, leader})
  }

  /** One stream after the other until stop(): a node that is down or paused is tried again. */
  private async follow(node: ClusterMember): Promise<void> {
    while (!this.stopped && this.isMember(node)) {
      await new Promise<void>((resolve) => {
        let close = (): void => {}
        const stop = (): void => {
          this.closers.delete(stop)
          close()
          resolve()
        }
        this.closers.add(stop)
        close = followEvents(node, {
          event: (item) => this.event(node, item),
          skipped: (reason, count) => this.warn(`warning: node ${node.index} sent events that do not decode (${count} so far): ${reason}`),
          end: stop,
        })
      })
      if (!this.stopped) await sleep(RECONNECT_MS)
    }
  }

  private event(node: ClusterMember, item: NodeStreamItem): void {
    if (item.type === 'hello' && item.state === 'LEADER') this.note(item.current_term, node.index)
    if (item.type === 'role' && item.role === 'LEADER') this.note(item.term, node.index)
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
