/**
 * The cluster's event timeline: events.jsonl in the cluster folder, one JSON object per
 * line, appended by the supervisor. Every event has `time` (ISO 8601), `seq` (counts up
 * over the life of the cluster folder, from 1) and `type`; the other fields depend on the type:
 *
 *   up          nodes, supervisor_pid         the supervisor started the cluster
 *   down        -                             the supervisor stopped every node and exits
 *   recovered   supervisor_pid, killed        `up` found a dead supervisor and cleaned up
 *   start       node, pid                     a node process was started
 *   exit        node, pid, code, signal, expected, crashed, log
 *                                             a node process ended (expected: we asked for it;
 *                                             crashed: it ended by itself, see exit-state.ts;
 *                                             log: the last lines of its node.log, if crashed)
 *   kill stop pause resume restart
 *               node, pid                     what the user asked for, before it happens; a
 *                                             restart after a crash also has reason "crashed",
 *                                             attempt (crashes in a row) and delay_ms
 *   partition   groups, shape, bridge, cuts, for_ms
 *   delay       node, ms, jitter_ms, for_ms
 *   loss        node, percent, for_ms
 *   heal        reason ("command" or "expired"), what
 *   transfer    from, to                      `transfer` asked node `from` to hand its
 *                                             leadership to node `to` (the leader events
 *                                             that follow say whether it did)
 *   role        node, role, term              a node's Raft role changed
 *   election    term, winner, node_id         a node won an election
 *   leader      leader, previous, term        the cluster's leader changed (null: none)
 *   snapshot-send
 *               node, to, index, bytes, ms    node (a leader) streamed a snapshot at log index
 *                                             `index` to node `to`: `bytes` of rows in `ms`
 *   snapshot-install
 *               node, index, rows, ms         node installed a snapshot of `rows` rows at `index`
 *   member-add  node, pid, leader, via        `add` started node (with --join through `via`, the
 *                                             leader's HTTP address) and it serves as a learner
 *   member-promote
 *               node, index, leader, ms       the leader made the learner a voter (configuration
 *                                             entry `index`), `ms` after it joined
 *   member-remove
 *               node, index, leader, was_leader
 *                                             the node left the configuration (entry `index`,
 *                                             committed); its process is stopped next
 *   power-cut   nodes, dropped                `power-cut` killed these nodes (their kill and exit
 *                                             events come first) and dropped, per node, what
 *                                             they had not fsynced: [{node, files, bytes,
 *                                             entries}]; the nodes that ran start next
 *   corrupt     node, file, how, bits, cut, range
 *                                             `corrupt` damaged a stopped node's file (bitflip or
 *                                             truncate; what exactly, in the other fields)
 *   corrupt-found
 *               node, file, reason            a node started and reports its data corrupt: it
 *                                             takes no part in Raft until repaired
 *   repair      node, replacement, kept, reason
 *                                             `repair` replaced the node by a new member caught
 *                                             up from the leader; its data dir was set aside as `kept`
 *   scenario    scenario, step, kind, text    a line of a scenario's narration (pad-cli scenario
 *                                             run): kind say (what step `step` will do), check, pass
 *                                             or fail; text cleaned and capped by the control codec
 *   warning     message                       something the supervisor could not do
 */
import fs from 'node:fs'
import {formatBytes, formatSeconds} from '../util/size-text.js'
import {readLines} from './tail.js'

export interface ClusterEvent {
  time: string
  seq: number
  type: string
  [field: string]: unknown
}

export const EVENT_TYPES = [
  'up', 'down', 'recovered', 'start', 'exit', 'kill', 'stop', 'pause', 'resume', 'restart',
  'partition', 'delay', 'loss', 'heal', 'transfer', 'role', 'election', 'leader',
  'snapshot-send', 'snapshot-install', 'member-add', 'member-promote', 'member-remove', 'power-cut', 'corrupt', 'corrupt-found',
  'repair', 'scenario', 'warning',
] as const

export class EventLog {
  private seq = 0
  private readonly listeners = new Set<(event: ClusterEvent) => void>()

  constructor(private readonly file: string) {
    this.seq = lastSeq(file)
  }

  record(type: string, fields: Record<string, unknown> = {}): ClusterEvent {
    const event: ClusterEvent = {time: new Date().toISOString(), seq: ++this.seq, type, ...fields}
    try {
      fs.appendFileSync(this.file, JSON.stringify(event) + '\n', {mode: 0o600})
    } catch {
      // The timeline is a record, not a reason to stop supervising.
    }
    for (const listener of this.listeners) listener(event)
    return event
  }

  /** Calls `listener` with every event recorded from now on; returns how to stop. */
  onEvent(listener: (event: ClusterEvent) => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }
}

/** The `seq` of the last event in the file, 0 if none (reads only the file's end). */
function lastSeq(file: string): number {
  let fd: number
  try {
    fd = fs.openSync(file, 'r')
  } catch {
    return 0
  }
  try {
    const size = fs.fstatSync(fd).size
    const length = Math.min(size, 64 * 1024)
    const buffer = Buffer.alloc(length)
    fs.readSync(fd, buffer, 0, length, size - length)
    const lines = buffer.toString('utf8').split('\n').reverse()
    for (const line of lines) {
      const event = parseEvent(line)
      if (event && typeof event.seq === 'number') return event.seq
    }
    return 0
  } finally {
    fs.closeSync(fd)
  }
}

export function parseEvent(line: string): ClusterEvent | null {
  if (line.trim() === '') return null
  try {
    const event = JSON.parse(line) as ClusterEvent
    return typeof event === 'object' && event !== null && typeof event.type === 'string' ? event : null
  } catch {
    return null
  }
}

export function readEvents(file: string): ClusterEvent[] {
  return readLines(file)
    .map(parseEvent)
    .filter((e): e is ClusterEvent => e !== null)
}

/** The type column is as wide as the longest type, so descriptions line up. */
const TYPE_WIDTH = Math.max(...EVENT_TYPES.map((type) => type.length))

/**
 * One line for people: `12:00:01.234  election          node 1 won term 3`; a crash is followed by
 * the last lines of the node's log, indented.
 */
export function formatEvent(event: ClusterEvent): string {
  const time = event.time.slice(11, 23)
  const line = `${time}  ${event.type.padEnd(TYPE_WIDTH)}  ${describeEvent(event)}`
  return [line, ...crashLog(event).map((l) => `    | ${l}`)].join('\n')
}

/** The log lines a crash event carries (none for other events). */
export function crashLog(event: ClusterEvent): string[] {
  return event.type === 'exit' && event.crashed === true && Array.isArray(event.log) ? event.log.filter((l): l is string => typeof l === 'string') : []
}

export function describeEvent(e: ClusterEvent): string {
  const node = `node ${e.node as number}`
  const forText = (ms: unknown): string => (typeof ms === 'number' ? ` for ${formatMs(ms)}` : '')
  switch (e.type) {
    case 'up':
      return `cluster up: ${e.nodes as number} nodes, supervisor pid ${e.supervisor_pid as number}`
    case 'down':
      return 'cluster down: every node stopped'
    case 'recovered':
      return `the previous supervisor (pid ${e.supervisor_pid as number}) was gone; ${(e.killed as number[]).length} leftover node process(es) stopped`
    case 'start':
      return `${node} started (pid ${e.pid as number})`
    case 'exit': {
      const how = e.signal ? `killed by ${e.signal as string}` : `exited with code ${e.code as number}`
      if (e.crashed !== true) return `${node} ${how}${e.expected ? '' : ' (unexpected)'}`
      const last = crashLog(e).at(-1)
      return `${node} crashed: ${how}${last === undefined ? '' : `; log: ${last}`}`
    }
    case 'kill':
      return `SIGKILL to ${node} (pid ${e.pid as number})`
    case 'stop':
      return `SIGTERM to ${node} (pid ${e.pid as number})`
    case 'pause':
      return `SIGSTOP to ${node} (pid ${e.pid as number})`
    case 'resume':
      return `SIGCONT to ${node} (pid ${e.pid as number})`
    case 'restart':
      if (e.reason === 'crashed') return `restarting ${node} after a crash (${e.attempt as number} in a row, waited ${formatMs(e.delay_ms as number)})`
      return `restarting ${node}`
    case 'partition': {
      const parts = [e.shape ? `${e.shape as string}` : '']
      if (Array.isArray(e.groups)) parts.push((e.groups as number[][]).map((g) => `{${g.join(',')}}`).join(' | '))
      if (typeof e.bridge === 'number') parts.push(`node ${e.bridge} bridges both`)
      const cuts = (e.cuts as [number, number][]).map(([a, b]) => `${a}-${b}`).join(' ')
      return `partition ${parts.filter((p) => p !== '').join(' ')} (cut ${cuts})${forText(e.for_ms)}`
    }
    case 'delay':
      return `${node}: links delayed ${e.ms as number} ms${e.jitter_ms ? ` ± ${e.jitter_ms as number} ms` : ''}${forText(e.for_ms)}`
    case 'loss':
      return `${node}: ${e.percent as number}% of messages lost${forText(e.for_ms)}`
    case 'heal':
      return e.reason === 'expired' ? `healed by itself: ${(e.what as string[]).join(', ')}` : 'every network fault removed'
    case 'transfer':
      return `node ${e.from as number} asked to hand its leadership to node ${e.to as number}`
    case 'role':
      return `${node} is ${e.role as string} (term ${e.term as number})`
    case 'election':
      return `node ${e.winner as number} won the election for term ${e.term as number}`
    case 'leader':
      return e.leader === null ? `no leader (was node ${e.previous as number})` : `leader is node ${e.leader as number} (term ${e.term as number})`
    case 'snapshot-send':
      return `${node} sent a snapshot (index ${e.index as number}, ${formatBytes(e.bytes as number)}, ${formatSeconds(e.ms as number)}) to node ${e.to as number}`
    case 'snapshot-install':
      return `${node} installed a snapshot at index ${e.index as number} (${(e.rows as number).toLocaleString('en-US')} rows, ${formatSeconds(e.ms as number)})`
    case 'member-add':
      return `${node} joined as a learner (pid ${e.pid as number}, through node ${e.leader as number})`
    case 'member-promote':
      return `${node} is a voter (configuration entry ${e.index as number}, ${formatSeconds(e.ms as number)} after it joined)`
    case 'member-remove':
      return `${node} left the configuration (entry ${e.index as number}${e.was_leader === true ? `; it led, node ${e.leader as number} leads now` : ''})`
    case 'power-cut':
      return `power cut of node ${(e.nodes as number[]).join(', ')}; lost what was not fsynced: ${describeDrops(e.dropped)}`
    case 'corrupt':
      return `${node}'s ${String(e.file)}: ${e.how === 'truncate' ? `cut ${e.cut as number} bytes off its end` : `${e.flipped as number} bits flipped`}`
    case 'corrupt-found':
      return `${node} found its data corrupt (${String(e.reason)}): it takes no part in Raft`
    case 'repair':
      return `${node} repaired: node ${e.replacement as number} took its place, its data kept in ${String(e.kept)}`
    case 'scenario': {
      const mark = e.kind === 'pass' ? '✓ ' : e.kind === 'fail' ? '✗ ' : ''
      return `${String(e.scenario)} step ${String(e.step)}: ${mark}${String(e.text)}`
    }
    case 'warning':
      return String(e.message)
    default: {
      const {time: _t, seq: _s, type: _y, ...rest} = e
      return JSON.stringify(rest)
    }
  }
}

/** `node 0: 2 files, 12.0 KB, 1 entry; node 1: nothing` (a power-cut event's `dropped`). */
export function describeDrops(dropped: unknown): string {
  if (!Array.isArray(dropped)) return '?'
  return dropped
    .map((d: {node?: unknown; files?: unknown; bytes?: unknown; entries?: unknown}) => `node ${String(d.node)}: ${describeDrop(d)}`)
    .join('; ')
}

/** `2 files, 12.0 KB, 1 entry`, or `nothing`. */
export function describeDrop(d: {files?: unknown; bytes?: unknown; entries?: unknown; torn?: unknown}): string {
  const files = Number(d.files)
  const bytes = Number(d.bytes)
  const entries = Number(d.entries)
  if (files === 0 && bytes === 0 && entries === 0) return 'nothing'
  const count = (n: number, one: string, many: string): string => `${n} ${n === 1 ? one : many}`
  return `${count(files, 'file', 'files')}, ${formatBytes(bytes)}, ${count(entries, 'namespace entry', 'namespace entries')}${describeTorn(d.torn)}`
}

/** ` (torn: raft.db-wal kept 1.5 KB)` for a torn cut's files, '' otherwise (the event is read back from disk: anything may be there). */
function describeTorn(torn: unknown): string {
  const files = (torn as {files?: unknown} | undefined)?.files
  if (!Array.isArray(files) || files.length === 0) return ''
  const kept = files.map((f: {path?: unknown; kept?: unknown}) => `${String(f?.path)} kept ${formatBytes(Number(f?.kept))}`)
  return ` (torn: ${kept.join(', ')})`
}

export function formatMs(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`
  if (ms % 60_000 === 0) return `${ms / 60_000}m`
  if (ms >= 1000 && ms % 100 === 0) return `${ms / 1000}s`
  return `${ms}ms`
}

