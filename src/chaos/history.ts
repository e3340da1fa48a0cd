/**
 * What a chaos run records, and what the checker reads: the history of one run, written to a
 * JSON file (`--history`) so that `pad-cli chaos --check <file>` can check it again.
 *
 * Times are milliseconds since the run started, on the runner's monotonic clock, so that
 * "acknowledged before invoked" comparisons between publishes are meaningful.
 *
 * A publish is one logical message: one dedup `id`, one unique `value` (the message body is
 * `{"v": value}`), one topic. It is attempted one or more times (the same id every time, on
 * the same or another node) until an attempt is acknowledged or the retry bound is reached.
 * Its `outcome`:
 *
 *   ok       an attempt was acknowledged at `offset` of `topic`;
 *   fail     every attempt definitely did not store it (the broker said so, or the
 *            connection could not be made, so nothing was sent);
 *   unknown  no ack, and at least one attempt may have been stored (it timed out, the
 *            connection dropped with it in flight, or the broker said the outcome is unknown).
 */
import fs from 'node:fs'

export const HISTORY_VERSION = 1

export type PublishOutcome = 'ok' | 'fail' | 'unknown'

/** How one attempt ended. */
export type AttemptResult =
  /** Acknowledged at `offset` (`duplicate`: the broker had seen the id and kept the first). */
  | 'ok'
  /** The broker answered with an error (`code`, `message`); `definite` says it was not stored. */
  | 'error'
  /** No answer within the client's bound. */
  | 'timeout'
  /** The connection closed with the publish in flight. */
  | 'disconnected'
  /** The connection could not be made: nothing was sent. */
  | 'unreachable'

export interface PublishAttempt {
  node: number
  at: number
  done_at: number
  result: AttemptResult
  offset?: number
  duplicate?: boolean
  code?: string
  message?: string
  /** For `error`: true when the broker said the message was not stored. */
  definite?: boolean
}

export interface PublishRecord {
  id: string
  value: string
  topic: string
  publisher: number
  /** When the first attempt was sent. */
  invoked_at: number
  /** When the outcome was known (the ack, or the last attempt's end). */
  completed_at: number
  outcome: PublishOutcome
  /** For `ok`: where the broker said it stored the message. */
  offset?: number
  attempts: PublishAttempt[]
}

/** One stored message as a node returned it: `id` is the publisher's dedup id (null if none). */
export interface StoredEntry {
  offset: number
  id: string | null
  /** The message's value (`v` of its JSON body), or the raw body when it has no such field. */
  value: string
}

export interface NodeMessages {
  node: number
  /** False when the node could not be read (it is then left out of the comparison). */
  read: boolean
  error?: string
  /** Per topic, the stored messages in offset order. */
  topics: Record<string, StoredEntry[]>
}

/** Where a subscriber asked to start. */
export type SubscribeStart = 'beginning' | 'latest'

export interface SubscriberTopicStream {
  /** Offsets in arrival order, across reconnections (each reconnection resumes after the last). */
  offsets: number[]
  /** Values at the same positions as `offsets`. */
  values: string[]
}

export interface SubscriberRecord {
  subscriber: number
  node: number
  from: SubscribeStart
  /** How many times it had to connect again (its node died, paused or was restarted). */
  reconnects: number
  /**
   * The nodes it left because they were removed from the cluster, in order (`node` is the one
   * it ended on): it resumed each topic on the next after the last offset it had received.
   */
  moved_from?: number[]
  /**
   * True when the runner gave it time to catch up after convergence: it must then have every
   * stored message of its topics up to the end. False when the run stopped without waiting
   * (only the order of what it received is checked).
   */
  final: boolean
  topics: Record<string, SubscriberTopicStream>
}

export type FaultKind =
  | 'kill'
  | 'crash'
  | 'stop'
  | 'pause'
  | 'partition-one'
  | 'partition-leader'
  | 'partition-halves'
  | 'partition-ring'
  | 'partition-bridge'
  | 'delay'
  | 'loss'
  /** A power cut: SIGKILL, the writes not fsynced dropped, restart; `nodes` is one node, or every node for power-all. */
  | 'power'
  | 'power-all'
  /**
   * Jepsen's combined schedules: `nodes` is every member, detail.first / crasher / second the
   * groups, detail.power whether the crasher was cut by a power cut, detail.flipped_at when the
   * other side was paused or cut off instead.
   */
  | 'pause-kill'
  | 'part-kill'
  /** Disk corruption: `nodes` is [corrupted] or [corrupted, its replacement]; detail.outcome repaired, undetected or skipped. */
  | 'corrupt'
  /** Membership steps: `nodes` is the node added, removed, or [replaced, added]; detail.outcome done or skipped. */
  | 'member-add'
  | 'member-remove'
  | 'member-replace'

/**
 * One fault. Faults may overlap (the overlap family plays several at once; each has its own
 * record, with detail.overlap the number of its window): the faults in force at a time t are
 * those with at <= t and healed_at null or > t.
 */
export interface FaultRecord {
  kind: FaultKind
  /** Nodes acted on (for a partition: the cut links are in `detail`). */
  nodes: number[]
  at: number
  /** When it was undone (restart, resume, heal); null if it was only undone by the final heal. */
  healed_at: number | null
  detail?: Record<string, unknown>
  /** Set when the nemesis could not do it (e.g. the node was not reachable). */
  error?: string
}

export interface ElectionRecord {
  at: number
  term: number
  /** Index of the node that became leader. */
  leader: number
}

export interface HistoryMeta {
  seed: number
  nodes: number
  duration_ms: number
  started_at: string
  finished_at: string
  /** The command line that replays this run (same seed and options). */
  replay: string
  /** Whether the cluster converged (every node applied the same log) before it was read. */
  converged: boolean
  /**
   * Why the cluster could not be brought back after the faults (every node running, no network
   * fault), when it could not: the run then reads what the nodes that answer hold. Absent: it was.
   */
  restore_error?: string
  /** The voters at the end, the nodes read and compared (absent: every node of `nodes`). */
  voters?: number[]
  topics: string[]
  options: Record<string, unknown>
}

export interface History {
  version: typeof HISTORY_VERSION
  meta: HistoryMeta
  publishes: PublishRecord[]
  stored: NodeMessages[]
  subscribers: SubscriberRecord[]
  faults: FaultRecord[]
  elections: ElectionRecord[]
}

export class HistoryError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'HistoryError'
  }
}

/** Parses and checks the shape of a history file's text; throws HistoryError saying what is wrong. */
export function parseHistory(text: string, source = 'history'): History {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (error) {
    throw new HistoryError(`${source} is not JSON: ${(error as Error).message}`)
  }
  const where = (path: string): string => `${source}: ${path}`
  const object = (v: unknown, path: string): Record<string, unknown> => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new HistoryError(`${where(path)} must be an object`)
    return v as Record<string, unknown>
  }
  const array = (v: unknown, path: string): unknown[] => {
    if (!Array.isArray(v)) throw new HistoryError(`${where(path)} must be an array`)
    return v
  }
  const number = (v: unknown, path: string): number => {
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new HistoryError(`${where(path)} must be a number`)
    return v
  }
  const string = (v: unknown, path: string): string => {
    if (typeof v !== 'string') throw new HistoryError(`${where(path)} must be a string`)
    return v
  }
  const root = object(value, '(top level)')
  if (root.version !== HISTORY_VERSION) throw new HistoryError(`${where('version')} must be ${HISTORY_VERSION} (got ${JSON.stringify(root.version)})`)
  const meta = object(root.meta, 'meta')
  number(meta.seed, 'meta.seed')
  number(meta.nodes, 'meta.nodes')
  array(meta.topics ?? [], 'meta.topics')
  if (meta.restore_error !== undefined) string(meta.restore_error, 'meta.restore_error')
  array(root.publishes, 'publishes').forEach((p, i) => {
    const record = object(p, `publishes[${i}]`)
    string(record.id, `publishes[${i}].id`)
    string(record.value, `publishes[${i}].value`)
    string(record.topic, `publishes[${i}].topic`)
    number(record.invoked_at, `publishes[${i}].invoked_at`)
    number(record.completed_at, `publishes[${i}].completed_at`)
    if (record.outcome !== 'ok' && record.outcome !== 'fail' && record.outcome !== 'unknown') {
      throw new HistoryError(`${where(`publishes[${i}].outcome`)} must be ok, fail or unknown`)
    }
    if (record.outcome === 'ok') number(record.offset, `publishes[${i}].offset`)
    array(record.attempts ?? [], `publishes[${i}].attempts`)
  })
  array(root.stored, 'stored').forEach((n, i) => {
    const node = object(n, `stored[${i}]`)
    number(node.node, `stored[${i}].node`)
    const topics = object(node.topics, `stored[${i}].topics`)
    for (const [topic, entries] of Object.entries(topics)) {
      array(entries, `stored[${i}].topics.${topic}`).forEach((e, j) => {
        const entry = object(e, `stored[${i}].topics.${topic}[${j}]`)
        number(entry.offset, `stored[${i}].topics.${topic}[${j}].offset`)
        string(entry.value, `stored[${i}].topics.${topic}[${j}].value`)
      })
    }
  })
  array(root.subscribers, 'subscribers').forEach((s, i) => {
    const sub = object(s, `subscribers[${i}]`)
    if (sub.from !== 'beginning' && sub.from !== 'latest') throw new HistoryError(`${where(`subscribers[${i}].from`)} must be beginning or latest`)
    const topics = object(sub.topics, `subscribers[${i}].topics`)
    for (const [topic, stream] of Object.entries(topics)) {
      const s2 = object(stream, `subscribers[${i}].topics.${topic}`)
      const offsets = array(s2.offsets, `subscribers[${i}].topics.${topic}.offsets`)
      const values = array(s2.values, `subscribers[${i}].topics.${topic}.values`)
      if (offsets.length !== values.length) throw new HistoryError(`${where(`subscribers[${i}].topics.${topic}`)}: offsets and values differ in length`)
    }
  })
  array(root.faults, 'faults')
  array(root.elections, 'elections')
  return root as unknown as History
}

/** Reads a history file written by `pad-cli chaos --history`. */
export function readHistory(file: string): History {
  let text: string
  try {
    text = fs.readFileSync(file, 'utf8')
  } catch (error) {
    throw new HistoryError(`cannot read ${file}: ${(error as Error).message}`)
  }
  return parseHistory(text, file)
}

/**
 * Writes a history file (atomically: a temp file, then a rename). It is written piece by
 * piece, one publish or stored message per line, so a long run never needs its history as
 * one string in memory, and the file can be searched with grep.
 */
export function writeHistory(file: string, history: History): void {
  const temp = `${file}.${process.pid}.tmp`
  const fd = fs.openSync(temp, 'w')
  let buffer = ''
  const write = (text: string): void => {
    buffer += text
    if (buffer.length >= 1 << 20) flush()
  }
  const flush = (): void => {
    fs.writeSync(fd, buffer)
    buffer = ''
  }
  const list = <T>(items: readonly T[], each: (item: T) => void): void => {
    write('[')
    items.forEach((item, i) => {
      write(i === 0 ? '\n' : ',\n')
      each(item)
    })
    write(']')
  }
  try {
    write(`{"version":${JSON.stringify(history.version)},"meta":${JSON.stringify(history.meta)},\n"publishes":`)
    list(history.publishes, (p) => write(JSON.stringify(p)))
    write(',\n"stored":')
    list(history.stored, (node) => {
      const {topics, ...rest} = node
      write(`${JSON.stringify(rest).slice(0, -1)},"topics":{`)
      Object.entries(topics).forEach(([topic, entries], i) => {
        write(`${i === 0 ? '' : ','}\n${JSON.stringify(topic)}:`)
        list(entries, (e) => write(JSON.stringify(e)))
      })
      write('}}')
    })
    write(',\n"subscribers":')
    list(history.subscribers, (s) => write(JSON.stringify(s)))
    write(',\n"faults":')
    list(history.faults, (f) => write(JSON.stringify(f)))
    write(',\n"elections":')
    list(history.elections, (e) => write(JSON.stringify(e)))
    write('}\n')
    flush()
  } finally {
    fs.closeSync(fd)
  }
  fs.renameSync(temp, file)
}
