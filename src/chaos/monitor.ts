/**
 * Watching and reading the cluster during and after a run: the elections every node reports
 * on GET /events, convergence, and every node's stored messages.
 */
import {baseUrl, getJson, raftView, type ChaosNode} from './cluster.js'
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
  private readonly controllers = new Set<AbortController>()
  private stopped = false
  private loops: Promise<void>[] = []

  constructor(
    private readonly nodes: readonly ChaosNode[],
    private readonly clock: () => number,
  ) {}

  start(): void {
    this.loops = this.nodes.map((node) => this.follow(node))
  }

  async stop(): Promise<void> {
    this.stopped = true
    for (const controller of this.controllers) controller.abort()
    await Promise.all(this.loops)
  }

  private note(term: unknown, leader: unknown): void {
    if (typeof term !== 'number' || typeof leader !== 'number') return
    const key = `${term}:${leader}`
    if (this.seen.has(key)) return
    this.seen.add(key)
    this.elections.push({at: this.clock(), term, leader})
  }

  private async follow(node: ChaosNode): Promise<void> {
    while (!this.stopped) {
      const controller = new AbortController()
      this.controllers.add(controller)
      try {
        const response = await fetch(`${baseUrl(node)}/events`, {signal: controller.signal, headers: {accept: 'text/event-stream'}})
        if (!response.body) throw new Error('no body')
        const decoder = new TextDecoder()
        let buffer = ''
        for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
          buffer += decoder.decode(chunk, {stream: true})
          let end: number
          while ((end = buffer.indexOf('\n\n')) !== -1) {
            this.block(node, buffer.slice(0, end))
            buffer = buffer.slice(end + 2)
          }
        }
      } catch {
        // The node is down, paused past our patience, or we are stopping.
      } finally {
        this.controllers.delete(controller)
      }
      if (!this.stopped) await sleep(RECONNECT_MS)
    }
  }

  private block(node: ChaosNode, block: string): void {
    let type = 'message'
    let data = ''
    for (const line of block.split('\n')) {
      if (line.startsWith('event:')) type = line.slice(6).trim()
      else if (line.startsWith('data:')) data += line.slice(5).trim()
    }
    if (data === '') return
    let event: Record<string, unknown>
    try {
      event = JSON.parse(data) as Record<string, unknown>
    } catch {
      return
    }
    if (type === 'hello' && event.state === 'LEADER') this.note(event.current_term, node.index)
    if (type === 'role' && event.role === 'LEADER') this.note(event.term, node.index)
  }
}

/**
 * Waits (bounded) until every node answers and has applied everything committed, all at the
 * same index. Returns the common index, or null if that did not happen in time.
 */
export async function waitConverged(nodes: readonly ChaosNode[], timeoutMs: number): Promise<number | null> {
  const deadline = Date.now() + timeoutMs
  let stable = 0
  let last = -1
  while (Date.now() < deadline) {
    const views = await Promise.all(nodes.map((n) => raftView(n, 1000).catch(() => null)))
    if (views.every((v) => v !== null)) {
      const target = Math.max(...views.map((v) => v!.commit_index))
      const leaders = views.filter((v) => v!.state === 'LEADER').length
      if (leaders === 1 && views.every((v) => v!.commit_index === target && v!.last_applied === target)) {
        // Twice in a row at the same index: nothing was still on its way.
        if (target === last && ++stable >= 2) return target
        if (target !== last) stable = 0
        last = target
      }
    }
    await sleep(200)
  }
  return null
}

export interface TopicMessage {
  topic: string
  offset: number
  body: string
  id?: string
}

/** Every message of one topic a node stores, in offset order, paging by offset. */
export async function readTopic(node: ChaosNode, topic: string): Promise<TopicMessage[]> {
  const out: TopicMessage[] = []
  let from = 0
  for (let page = 0; page < 1_000_000; page++) {
    const body = await getJson<{messages: TopicMessage[]}>(node, `/messages?topic=${encodeURIComponent(topic)}&order=oldest&limit=1000&from=${from}`, 10_000)
    out.push(...body.messages)
    if (body.messages.length < 1000) break
    // Page after the last offset returned, not after a count, so a hole is not papered over.
    from = body.messages[body.messages.length - 1].offset + 1
  }
  return out
}

/** Every message of `topics` a node stores, in offset order. */
export async function readNodeMessages(node: ChaosNode, topics: string[]): Promise<NodeMessages> {
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

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
