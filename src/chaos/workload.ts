/**
 * The chaos workload: publishers that record every publish (invoked, then acknowledged,
 * failed or unknown), and subscribers that record every message they receive.
 *
 * The nodes are the cluster's members at the time (`nodes()`), which membership changes alter:
 * every choice of a node is made from the members of the moment.
 *
 * Publishers. Each has `window` publishes in flight, spread over all members (message k of
 * publisher p goes first to member (p + k) mod n). Every message has a unique dedup id and a
 * unique value (body `{"v": value}`). A publish that is not acknowledged is retried with the
 * same id on the next member, after a growing pause, until `maxAttempts` or `retryBudgetMs`.
 * An attempt that gets no answer within `attemptTimeoutMs` closes its connection (the node
 * may be paused), which makes the other publishes in flight on it "disconnected".
 *
 * Subscribers. One or more per node, alternately from the beginning and from latest, each
 * subscribed to every topic of the run. When its connection drops (the node was killed or
 * stopped) it connects again and resumes each topic after the last offset it received, so
 * its stream per topic must stay contiguous across reconnections. When its node was removed
 * from the cluster it moves to another member and resumes there (the log is the same on every
 * member, offsets included). A node added during the run gets subscribers of its own, as the
 * first nodes did (addNode), so a new member's catch-up is checked by what it delivers.
 */
import {BrokerClient, ClientError, type BrokerMessage} from '../client/broker-client.js'
import type {ClusterMember} from '../cluster/supervised-cluster.js'
import {poll, sleep} from '../util/time.js'
import type {AttemptResult, PublishAttempt, PublishRecord, SubscribeStart, SubscriberRecord} from './history.js'
import {derive, type Random} from './random.js'

/** The members now, in index order. */
export type Members = () => readonly ClusterMember[]

export interface WorkloadOptions {
  nodes: Members
  topics: string[]
  /** Prefix of every id and value: makes them unique across runs on the same cluster. */
  tag: string
  seed: number
  publishers: number
  /** Publishes in flight per publisher. */
  window: number
  /** Total publishes per second over all publishers; 0 for as fast as acks allow. */
  rate: number
  maxAttempts: number
  attemptTimeoutMs: number
  /** No new attempt of a publish starts later than this after its first. */
  retryBudgetMs: number
  /** Milliseconds since the start of the run. */
  clock: () => number
}

const CONNECT_TIMEOUT_MS = 1000
const RECONNECT_PAUSE_MS = 200

/** The broker's errors that say the message was not stored, so the attempt definitely failed. */
export function isDefiniteError(code: string, message: string): boolean {
  if (code === 'BAD_REQUEST' || code === 'TOO_LARGE' || code === 'UNKNOWN_OP') return true
  return code === 'NO_LEADER' && /\bnot stored\b/.test(message)
}

/** The member after `index` in index order (the first after the last), or the first if none is. */
export function nextMember(members: readonly ClusterMember[], index: number): ClusterMember {
  return members.find((m) => m.index > index) ?? members[0]
}

/** Connections of one publisher, one per node, made on demand. */
class Connections {
  private readonly clients = new Map<number, Promise<BrokerClient>>()

  get(node: ClusterMember): Promise<BrokerClient> {
    const index = node.index
    let client = this.clients.get(index)
    if (!client) {
      client = BrokerClient.connect(node.host, node.tcp_port, CONNECT_TIMEOUT_MS)
      this.clients.set(index, client)
      client.then(
        (c) => void c.closed().then(() => this.forget(index, client!)),
        () => this.forget(index, client!),
      )
    }
    return client
  }

  /** Closes the connection to a node (its publishes in flight fail as disconnected). */
  drop(index: number): void {
    const client = this.clients.get(index)
    if (!client) return
    this.clients.delete(index)
    client.then((c) => c.close(), () => {})
  }

  closeAll(): void {
    for (const index of [...this.clients.keys()]) this.drop(index)
  }

  private forget(index: number, client: Promise<BrokerClient>): void {
    if (this.clients.get(index) === client) this.clients.delete(index)
  }
}

class RateLimiter {
  private next = 0

  constructor(
    private readonly perSecond: number,
    private readonly clock: () => number,
  ) {}

  /** Resolves when the next publish may start. */
  async take(): Promise<void> {
    if (this.perSecond <= 0) return
    const now = this.clock()
    // Never let a backlog turn into a burst of more than a quarter of a second's worth.
    this.next = Math.max(this.next, now - 250) + 1000 / this.perSecond
    const wait = this.next - now
    if (wait > 0) await sleep(wait)
  }
}

export class Publishers {
  readonly records: PublishRecord[] = []
  private stopping = false
  private readonly loops: Promise<void>[] = []
  private readonly connections: Connections[] = []
  private readonly limiter: RateLimiter
  private inFlight = 0

  constructor(private readonly options: WorkloadOptions) {
    this.limiter = new RateLimiter(options.rate, options.clock)
  }

  start(): void {
    for (let p = 0; p < this.options.publishers; p++) {
      const connections = new Connections()
      this.connections.push(connections)
      const random = derive(this.options.seed, `publisher-${p}`)
      let sequence = 0
      const next = (): number => sequence++
      for (let w = 0; w < this.options.window; w++) this.loops.push(this.loop(p, connections, random, next))
    }
  }

  /** Publishes in flight now (started, outcome not known yet). */
  get pending(): number {
    return this.inFlight
  }

  /** Starts no new message; the ones in flight go on until they are acknowledged or give up. */
  stop(): void {
    this.stopping = true
  }

  /** Waits (bounded) for the publishes in flight to end; true if they all did. */
  async drain(timeoutMs: number): Promise<boolean> {
    this.stop()
    const done = Promise.all(this.loops).then(() => true)
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)))
    const result = await Promise.race([done, timeout])
    clearTimeout(timer)
    return result
  }

  close(): void {
    this.stopping = true
    for (const connections of this.connections) connections.closeAll()
  }

  private async loop(publisher: number, connections: Connections, random: Random, next: () => number): Promise<void> {
    const {topics, nodes} = this.options
    while (!this.stopping) {
      await this.limiter.take()
      if (this.stopping) return
      const n = next()
      const topic = topics[Math.floor(random() * topics.length)]
      const id = `${this.options.tag}-p${publisher}-${n}`
      const record: PublishRecord = {
        id,
        value: `${this.options.tag}.${publisher}.${n}`,
        topic,
        publisher,
        invoked_at: this.options.clock(),
        completed_at: 0,
        outcome: 'unknown',
        attempts: [],
      }
      this.records.push(record)
      this.inFlight++
      try {
        const members = nodes()
        await this.publish(record, members[(publisher + n) % members.length], connections, random)
      } finally {
        this.inFlight--
      }
    }
  }

  private async publish(record: PublishRecord, firstNode: ClusterMember, connections: Connections, random: Random): Promise<void> {
    const {maxAttempts, retryBudgetMs, clock, nodes} = this.options
    const body = JSON.stringify({v: record.value})
    let node = firstNode
    for (let attempt = 0; attempt < maxAttempts; attempt++) {
      const result = await this.attempt(record, node, body, connections)
      record.attempts.push(result)
      if (result.result === 'ok') {
        record.outcome = 'ok'
        record.offset = result.offset
        record.completed_at = result.done_at
        return
      }
      if (clock() - record.invoked_at >= retryBudgetMs) break
      // A growing pause, with jitter so that retries after a failover do not all arrive at once.
      await sleep(Math.min(1000, 50 * 2 ** attempt) * (0.5 + random()))
      node = nextMember(nodes(), node.index)
    }
    const definite = record.attempts.every((a) => a.result === 'unreachable' || (a.result === 'error' && a.definite))
    record.outcome = definite ? 'fail' : 'unknown'
    record.completed_at = clock()
  }

  private async attempt(record: PublishRecord, node: ClusterMember, body: string, connections: Connections): Promise<PublishAttempt> {
    const {clock, attemptTimeoutMs} = this.options
    const at = clock()
    const end = (result: AttemptResult, extra: Partial<PublishAttempt> = {}): PublishAttempt => ({node: node.index, at, done_at: clock(), result, ...extra})
    let client: BrokerClient
    try {
      client = await connections.get(node)
    } catch (error) {
      return end('unreachable', {message: (error as Error).message})
    }
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), attemptTimeoutMs)))
    try {
      const answer = await Promise.race([client.publish({topic: record.topic, format: 'JSON', body, id: record.id}), timeout])
      if (answer === 'timeout') {
        // The node may be paused or cut off: start afresh on this node next time.
        connections.drop(node.index)
        return end('timeout')
      }
      return end('ok', {offset: answer.offset, ...(answer.duplicate ? {duplicate: true} : {})})
    } catch (error) {
      if (error instanceof ClientError && error.code !== 'CONNECTION' && error.code !== 'PROTOCOL') {
        return end('error', {code: error.code, message: error.message, definite: isDefiniteError(error.code, error.message)})
      }
      return end('disconnected', {message: (error as Error).message})
    } finally {
      clearTimeout(timer)
    }
  }
}

export interface SubscriberOptions {
  nodes: Members
  topics: string[]
  perNode: number
}

/** One subscriber: one node, every topic, reconnecting and resuming until closed. */
class Subscriber {
  readonly record: SubscriberRecord
  private client: BrokerClient | null = null
  private closed = false
  private readonly next = new Map<string, number>()
  private loop: Promise<void> | null = null
  private wake: (() => void) | null = null
  private subscribedOnce: () => void = () => {}
  readonly ready: Promise<void>

  constructor(
    index: number,
    private node: ClusterMember,
    from: SubscribeStart,
    private readonly topics: string[],
    private readonly members: Members,
  ) {
    this.record = {
      subscriber: index,
      node: node.index,
      from,
      reconnects: 0,
      final: false,
      topics: Object.fromEntries(topics.map((topic) => [topic, {offsets: [], values: []}])),
    }
    this.ready = new Promise((resolve) => (this.subscribedOnce = resolve))
  }

  start(): void {
    this.loop = this.run()
  }

  /** The highest offset received per topic (-1: none). */
  highest(topic: string): number {
    return (this.next.get(topic) ?? 0) - 1
  }

  async close(): Promise<void> {
    this.closed = true
    this.client?.close()
    this.wake?.()
    await this.loop
  }

  private async run(): Promise<void> {
    let connections = 0
    while (!this.closed) {
      this.followMembers()
      try {
        const client = await BrokerClient.connect(this.node.host, this.node.tcp_port, CONNECT_TIMEOUT_MS)
        if (this.closed) {
          client.close()
          return
        }
        this.client = client
        if (connections++ > 0) this.record.reconnects++
        const onMessage = (message: BrokerMessage): void => this.receive(message)
        for (const topic of this.topics) {
          const resume = this.next.get(topic)
          await client.subscribe([topic], resume ?? this.record.from, onMessage)
        }
        this.subscribedOnce()
        await client.closed()
      } catch {
        // Refused (the node is down), or it went away while we subscribed: try again.
      } finally {
        this.client?.close()
        this.client = null
      }
      if (!this.closed) await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, RECONNECT_PAUSE_MS)
        this.wake = () => {
          clearTimeout(timer)
          resolve()
        }
      })
    }
  }

  /** Moves to another member when its node is no longer one (removed from the cluster). */
  private followMembers(): void {
    const members = this.members()
    if (members.length === 0 || members.some((m) => m.index === this.node.index)) return
    const to = members[this.record.subscriber % members.length]
    ;(this.record.moved_from ??= []).push(this.node.index)
    this.node = to
    this.record.node = to.index
  }

  private receive(message: BrokerMessage): void {
    const stream = this.record.topics[message.topic]
    if (!stream) return
    stream.offsets.push(message.offset)
    stream.values.push(valueOf(message.body))
    if (message.offset + 1 > (this.next.get(message.topic) ?? 0)) this.next.set(message.topic, message.offset + 1)
  }
}

export class Subscribers {
  private readonly subscribers: Subscriber[] = []
  private started = false

  constructor(private readonly options: SubscriberOptions) {
    for (let round = 0; round < options.perNode; round++) {
      for (const node of options.nodes()) this.subscribers.push(this.make(node, round))
    }
  }

  /** Gives a node that joined the cluster its subscribers (started at once if the others are). */
  addNode(node: ClusterMember): void {
    if (this.subscribers.some((s) => s.record.node === node.index && s.record.moved_from === undefined)) return
    for (let round = 0; round < this.options.perNode; round++) {
      const subscriber = this.make(node, round)
      this.subscribers.push(subscriber)
      if (this.started) subscriber.start()
    }
  }

  private make(node: ClusterMember, round: number): Subscriber {
    // Alternate the start position over the nodes, so both kinds run on a cluster of any size.
    const from: SubscribeStart = (node.index + round) % 2 === 0 ? 'beginning' : 'latest'
    return new Subscriber(this.subscribers.length, node, from, this.options.topics, this.options.nodes)
  }

  /** Starts every subscriber; resolves when each has subscribed once (bounded). */
  async start(timeoutMs: number): Promise<boolean> {
    this.started = true
    for (const subscriber of this.subscribers) subscriber.start()
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)))
    const ready = Promise.all(this.subscribers.map((s) => s.ready)).then(() => true)
    const result = await Promise.race([ready, timeout])
    clearTimeout(timer)
    return result
  }

  get records(): SubscriberRecord[] {
    return this.subscribers.map((s) => s.record)
  }

  /**
   * Waits (bounded) until each subscriber has received, for every topic, up to the last
   * offset its node stores (`last(node, topic)`, -1 for none); then marks them final.
   */
  async catchUp(last: (node: number, topic: string) => number, timeoutMs: number): Promise<boolean> {
    const behind = (): Subscriber[] =>
      this.subscribers.filter((s) => Object.keys(s.record.topics).some((topic) => s.highest(topic) < last(s.record.node, topic) && this.judged(s, topic)))
    const caughtUp = await poll(() => (behind().length === 0 ? true : undefined), {timeoutMs, intervalMs: 100})
    for (const subscriber of this.subscribers) subscriber.record.final = true
    return caughtUp === true
  }

  async close(): Promise<void> {
    await Promise.all(this.subscribers.map((s) => s.close()))
  }

  /** A subscriber from latest that has received nothing of a topic cannot be judged on it. */
  private judged(subscriber: Subscriber, topic: string): boolean {
    return subscriber.record.from === 'beginning' || subscriber.record.topics[topic].offsets.length > 0
  }
}

/** The `v` of a JSON body, or the body itself. */
export function valueOf(body: string): string {
  try {
    const parsed = JSON.parse(body) as unknown
    if (parsed !== null && typeof parsed === 'object' && typeof (parsed as {v?: unknown}).v === 'string') return (parsed as {v: string}).v
  } catch {
    // Not JSON: the body is the value.
  }
  return body
}
