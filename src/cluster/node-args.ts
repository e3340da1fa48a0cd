/**
 * Parsing what the user types for nodes, groups and percentages (durations: util/duration.ts). Every refusal is one line
 * that says what was expected.
 */
import type {NodeRef} from '../api/control.js'
import {parseRetention} from '../util/retention-spec.js'
import {badArgument} from './errors.js'

/** A node as the user names it: its index, or whichever node leads right now. */
export type {NodeRef}

export function parseNodeRef(text: string, size?: number): NodeRef {
  const value = text.trim().toLowerCase()
  if (value === 'leader') return 'leader'
  if (!/^\d+$/.test(value)) throw badArgument(`"${text}" is not a node: give an index${size ? ` from 0 to ${size - 1}` : ''} or "leader"`)
  const index = Number(value)
  if (size !== undefined) checkIndex(index, size)
  return index
}

export function checkIndex(index: number, size: number): number {
  if (!Number.isInteger(index) || index < 0 || index >= size) {
    throw badArgument(`node ${index} is out of range: this cluster has ${size} node${size === 1 ? '' : 's'} (0 to ${size - 1})`)
  }
  return index
}

/** `0,1` -> [0, 1]; members may be `leader`. Duplicates within a group are refused. */
export function parseGroup(text: string, size?: number): NodeRef[] {
  const items = text.split(',').map((s) => s.trim())
  if (items.length === 0 || items.some((s) => s === '')) throw badArgument(`"${text}" is not a group: give node indexes separated by commas, e.g. 0,1`)
  const group = items.map((item) => parseNodeRef(item, size))
  if (new Set(group).size !== group.length) throw badArgument(`group "${text}" names a node twice`)
  return group
}

/** `--retention` values as `up` takes them for every node: checked here, passed on as given. */
export function checkRetention(values: string[]): string[] {
  try {
    parseRetention(values)
  } catch (error) {
    throw badArgument((error as Error).message)
  }
  return values.filter((v) => v.trim() !== 'none')
}

/** The node command's flags for these `--retention` values. */
export function retentionNodeArgs(values: string[]): string[] {
  return values.flatMap((value) => ['--retention', value])
}

/** A percentage from 0 to 100 (`12.5` or `12.5%`), returned as a fraction of 1. */
export function parsePercent(text: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*%?\s*$/.exec(text)
  const value = match ? Number(match[1]) : NaN
  if (!match || !(value >= 0 && value <= 100)) throw badArgument(`"${text}" is not a percentage: give a number from 0 to 100, e.g. 20`)
  return value / 100
}

/**
 * `--slow` (up, scenario run): Raft ten times slower than the defaults (150 ms, 50 ms), so a
 * person can watch an election happen in top: a follower waits 1.5-3 s before it stands.
 */
export const SLOW_TIMING = {electionTimeoutMs: 1500, heartbeatMs: 500} as const
export const SLOW_FACTOR = 10

/** Refuses --slow together with the timing flags it stands for (it sets both). */
export function checkSlow(slow: boolean, electionTimeout: number | undefined, heartbeat: number | undefined): void {
  if (!slow) return
  const given = [electionTimeout === undefined ? null : '--election-timeout', heartbeat === undefined ? null : '--heartbeat'].filter((f) => f !== null)
  if (given.length > 0) {
    throw badArgument(`--slow sets the election timeout to ${SLOW_TIMING.electionTimeoutMs}ms and the heartbeat to ${SLOW_TIMING.heartbeatMs}ms: give either --slow or ${given.join(' and ')}, not both`)
  }
}

/** Bounds of --snapshot-entries and --trailing-entries: a count of log entries. */
export const MAX_COMPACTION_ENTRIES = 100_000_000

/** When a node compacts its log: after `snapshotEntries` applied entries, keeping `trailingEntries`. */
export interface CompactionFlags {
  snapshotEntries?: number
  trailingEntries?: number
}

/** Checks --snapshot-entries (at least 1) and --trailing-entries (0 or more), both at most MAX_COMPACTION_ENTRIES. */
export function checkCompaction(flags: CompactionFlags): CompactionFlags {
  const check = (name: string, value: number | undefined, min: number): void => {
    if (value === undefined) return
    if (!Number.isSafeInteger(value) || value < min || value > MAX_COMPACTION_ENTRIES) {
      throw badArgument(`--${name} must be a whole number of log entries from ${min} to ${MAX_COMPACTION_ENTRIES} (got ${value})`)
    }
  }
  check('snapshot-entries', flags.snapshotEntries, 1)
  check('trailing-entries', flags.trailingEntries, 0)
  return flags
}

/** The node command's flags for the cluster's durability options (`up --unsafe-no-fsync`). */
export function durabilityNodeArgs(options: {unsafe_no_fsync?: boolean}): string[] {
  return options.unsafe_no_fsync === true ? ['--unsafe-no-fsync'] : []
}

/**
 * Whether the cluster runs on the lazy layer: as asked (`--lazy-fs`, `--no-lazy-fs`), else as
 * it ran before. A cluster with data stays as it was: its databases are in node-<i>/disk with
 * the lazy layer and in node-<i> without, and a switch would start the nodes on empty dirs.
 */
export function settleLazyFs(asked: boolean | undefined, had: boolean, hasData: boolean, cluster: string): boolean {
  if (asked === undefined || asked === had || !hasData) return asked ?? had
  const purge = `pad-cli down --purge${cluster === 'default' ? '' : ` --cluster ${cluster}`}`
  throw badArgument(
    had
      ? `cluster "${cluster}" keeps its data on the lazy layer (it was started with --lazy-fs): start it with --lazy-fs, or delete it first with \`${purge}\``
      : `cluster "${cluster}" has data written without the lazy layer: start it without --lazy-fs, or delete it first with \`${purge}\``,
  )
}
