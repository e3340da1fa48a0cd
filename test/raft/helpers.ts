// Small tools for the unit tests: a Raft over MemoryStorage, a "drain" that plays the driver
// (persist, then advance), and a synchronous in-memory cluster in the spirit of etcd's
// `network` test type.
import {MemoryStorage, Raft, type Entry, type HardState, type Message, type MessageType, type NodeId, type Ready} from '../../src/raft/index.js'
import type {RaftConfig} from '../../src/raft/config.js'

export const enc = new TextEncoder()
export const dec = new TextDecoder()

/** A small deterministic PRNG (mulberry32). */
export function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export interface TestNode {
  raft: Raft
  storage: MemoryStorage
}

export type Opts = Partial<Omit<RaftConfig, 'id' | 'peers' | 'storage'>> & {storage?: MemoryStorage}

/** A Raft whose randomized election timeout is exactly electionTick (random() = 0), unless a
 * generator is given. PreVote and CheckQuorum are off unless asked for, as in the paper. */
export function newRaft(id: NodeId, peers: NodeId[], opts: Opts = {}): TestNode {
  const storage = opts.storage ?? new MemoryStorage()
  const raft = new Raft({
    electionTick: 10,
    heartbeatTick: 1,
    preVote: false,
    checkQuorum: false,
    random: () => 0,
    ...opts,
    id,
    peers,
    storage,
  })
  return {raft, storage}
}

export function ids(n: number): NodeId[] {
  return Array.from({length: n}, (_, i) => i)
}

export function entry(index: number, term: number, data = ''): Entry {
  return {index, term, type: data === '' ? 'noop' : 'normal', data: enc.encode(data)}
}

/** A storage holding entries with these terms at indexes 1.. and the given hard state. */
export function storageWith(terms: number[], hs?: Partial<HardState>): MemoryStorage {
  const s = new MemoryStorage()
  s.append(terms.map((t, i) => entry(i + 1, t, `e${i + 1}`)))
  s.setHardState({term: Math.max(0, ...terms), vote: null, commit: 0, ...hs})
  return s
}

/** A storage as storageWith, whose state machine snapshotted at `through` (data: `data`) and
 * compacted its log up to there. */
export function compactedStorage(terms: number[], through: number, hs?: Partial<HardState>, data = 'state'): MemoryStorage {
  const s = storageWith(terms, hs)
  s.createSnapshot(through, {voters: ids(3), learners: []}, enc.encode(data))
  s.compact(through)
  return s
}

/** Persists one Ready into the node's storage (the driver's job): the snapshot first, then the
 * entries after it and the hard state. */
export function persist(node: TestNode, rd: Ready): void {
  if (rd.snapshot) node.storage.applySnapshot(rd.snapshot)
  if (rd.entries.length > 0) node.storage.append(rd.entries)
  if (rd.hardState) node.storage.setHardState(rd.hardState)
}

export interface Drained {
  /** All messages, send-now and persisted, in the order the driver would send them. */
  msgs: Message[]
  /** Only the send-now ones. */
  early: Message[]
  /** Only the ones that waited for persistence. */
  late: Message[]
  committed: Entry[]
  readies: Ready[]
}

/** Plays the driver until the node has nothing more to do: persist, send, apply, advance. */
export function drain(node: TestNode): Drained {
  const out: Drained = {msgs: [], early: [], late: [], committed: [], readies: []}
  while (node.raft.hasReady()) {
    const rd = node.raft.ready()
    out.readies.push(rd)
    out.early.push(...rd.messages)
    out.msgs.push(...rd.messages)
    persist(node, rd)
    out.late.push(...rd.persistedMessages)
    out.msgs.push(...rd.persistedMessages)
    out.committed.push(...rd.committed)
    node.raft.advance(rd)
  }
  return out
}

/** Node 0 of an n-node cluster made leader by hand: it times out, persists its vote, and gets
 * just enough votes. Its followers never answer unless the test makes them. Needs the default
 * random() = 0 and preVote off (the helpers' defaults) unless opts say otherwise. */
export function leaderOf(n: number, opts: Opts = {}): TestNode {
  const node = newRaft(0, ids(n), opts)
  while (node.raft.status().role === 'follower') node.raft.tick()
  drain(node)
  for (let p = 1; node.raft.status().role !== 'leader'; p++) {
    const st = node.raft.status()
    node.raft.step({type: st.role === 'precandidate' ? 'preVoteResp' : 'voteResp', from: p, to: 0, term: st.role === 'precandidate' ? st.term + 1 : st.term})
    drain(node)
  }
  return node
}

/** A successful append response from `from` to node 0. */
export function ack(from: NodeId, term: number, index: number): Message {
  return {type: 'appResp', from, to: 0, term, index}
}

/** Only the messages of the given type(s). */
export function ofType(msgs: Message[], ...types: MessageType[]): Message[] {
  return msgs.filter((m) => types.includes(m.type))
}

export function tickN(node: TestNode, n: number): void {
  for (let i = 0; i < n; i++) node.raft.tick()
}

/** Every entry of the node's log, stable and unstable, via termAt: [index, term] pairs. */
export function logTerms(node: TestNode): number[] {
  const st = node.raft.status()
  const out: number[] = []
  for (let i = st.firstIndex; i <= st.lastIndex; i++) out.push(node.raft.termAt(i) ?? -1)
  return out
}

/**
 * A synchronous cluster: messages are delivered depth-first until nothing moves. Links can be
 * cut and message types dropped. Every node persists each Ready at once (a perfect disk).
 */
export class Cluster {
  readonly nodes = new Map<NodeId, TestNode>()
  private readonly cut = new Set<string>()
  readonly dropTypes = new Set<MessageType>()
  readonly delivered: Message[] = []
  readonly applied = new Map<NodeId, Entry[]>()

  constructor(n: number, opts: Opts | ((id: NodeId) => Opts) = {}) {
    for (const id of ids(n)) {
      this.nodes.set(id, newRaft(id, ids(n), typeof opts === 'function' ? opts(id) : opts))
      this.applied.set(id, [])
    }
  }

  node(id: NodeId): TestNode {
    const n = this.nodes.get(id)
    if (!n) throw new Error(`no node ${id}`)
    return n
  }

  raft(id: NodeId): Raft {
    return this.node(id).raft
  }

  /** Cuts both directions between a and b. */
  cutLink(a: NodeId, b: NodeId): void {
    this.cut.add(`${a}-${b}`).add(`${b}-${a}`)
  }

  isolate(id: NodeId): void {
    for (const other of this.nodes.keys()) if (other !== id) this.cutLink(id, other)
  }

  heal(): void {
    this.cut.clear()
    this.dropTypes.clear()
  }

  /** Delivers messages and everything they cause until the cluster is quiet. */
  send(...msgs: Message[]): void {
    const queue = [...msgs]
    for (;;) {
      for (const [id, node] of this.nodes) {
        const d = drain(node)
        this.applied.get(id)?.push(...d.committed)
        queue.push(...d.msgs)
      }
      if (queue.length === 0) return
      while (queue.length > 0) {
        const m = queue.shift() as Message
        if (this.cut.has(`${m.from}-${m.to}`) || this.dropTypes.has(m.type)) continue
        const to = this.nodes.get(m.to)
        if (!to) continue
        this.delivered.push(m)
        to.raft.step(m)
        const d = drain(to)
        this.applied.get(m.to)?.push(...d.committed)
        queue.push(...d.msgs)
      }
    }
  }

  /** Ticks one node n times, delivering what each tick causes. */
  tick(id: NodeId, n = 1): void {
    for (let i = 0; i < n; i++) {
      this.raft(id).tick()
      this.send()
    }
  }

  /** Ticks every node once, n times. */
  tickAll(n = 1): void {
    for (let i = 0; i < n; i++) {
      for (const node of this.nodes.values()) node.raft.tick()
      this.send()
    }
  }

  /** Makes `id` campaign by running out its election timeout, and delivers the election. */
  elect(id: NodeId): void {
    const r = this.raft(id)
    for (let i = 0; i < 1000 && r.status().role !== 'leader'; i++) this.tick(id)
    if (r.status().role !== 'leader') throw new Error(`node ${id} did not become leader`)
  }

  propose(id: NodeId, ...data: string[]): {firstIndex: number; term: number} | null {
    const res = this.raft(id).propose(data.map((d) => enc.encode(d)))
    this.send()
    return res
  }

  leader(): NodeId | null {
    for (const [id, n] of this.nodes) if (n.raft.status().role === 'leader') return id
    return null
  }
}
