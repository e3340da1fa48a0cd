/**
 * How a chaos run's result reads in a terminal: a short table of what happened and what the
 * checker found, then the anomalies, the history file and the replay command.
 */
import {describeAnomalies, injected, type CheckReport} from './checker.js'
import {describeFault} from './describe-fault.js'
import type {FaultRecord, History} from './history.js'

const number = (n: number): string => n.toLocaleString('en-US')

/** Faults injected (not those that failed or were refused) per family: every partition shape counts as `partition`. */
function faultCounts(history: History): Map<string, number> {
  const counts = new Map<string, number>()
  for (const fault of history.faults) {
    if (!injected(fault)) continue
    const family = fault.kind.startsWith('partition-') ? 'partition' : fault.kind
    counts.set(family, (counts.get(family) ?? 0) + 1)
  }
  return counts
}

export function faultBreakdown(history: History): string {
  return [...faultCounts(history)].map(([kind, n]) => `${kind} ${n}`).join(', ')
}

/** "3 changes (add 1, replace 2), 1 skipped; voters at the end 1,2,5,6", or null without membership steps. */
export function membershipLine(history: History): string | null {
  const steps = history.faults.filter((f) => f.kind.startsWith('member-'))
  if (steps.length === 0) return null
  const done = steps.filter(injected)
  const byKind = new Map<string, number>()
  for (const step of done) {
    const kind = step.kind.slice('member-'.length)
    byKind.set(kind, (byKind.get(kind) ?? 0) + 1)
  }
  const skipped = steps.filter((f) => f.detail?.outcome === 'skipped').length
  const failed = steps.filter((f) => f.error).length
  const kinds = [...byKind].map(([kind, n]) => `${kind} ${n}`).join(', ')
  const voters = history.meta.voters ? `; voters at the end ${history.meta.voters.join(',')}` : ''
  return `${number(done.length)} change${done.length === 1 ? '' : 's'}${kinds ? ` (${kinds})` : ''}, ${skipped} skipped (refused), ${failed} failed${voters}`
}

/** The faults injected and not yet undone at `at` (ms into the run): several when they overlap. */
export function faultsInForce(faults: readonly FaultRecord[], at: number): FaultRecord[] {
  return faults.filter((f) => injected(f) && f.at <= at && (f.healed_at === null || f.healed_at > at))
}

/** "3 windows, 14 faults, up to 4 at once", or null without overlap windows. */
export function overlapLine(history: History): string | null {
  const faults = history.faults.filter((f) => injected(f) && typeof f.detail?.overlap === 'number')
  if (faults.length === 0) return null
  const windows = new Set(faults.map((f) => f.detail!.overlap)).size
  // The count is highest at some fault's start.
  const most = Math.max(...faults.map((f) => faultsInForce(faults, f.at).length))
  const skipped = history.faults.filter((f) => typeof f.detail?.overlap === 'number' && f.detail.outcome === 'skipped').length
  return `${windows} window${windows === 1 ? '' : 's'}, ${number(faults.length)} faults, up to ${most} at once${skipped > 0 ? `, ${skipped} skipped (a minority was down already)` : ''}`
}

/** For the first lost messages: the faults in force when the broker acknowledged them. */
function lostContext(history: History, report: CheckReport, limit = 5): string[] {
  if (report.lost.length === 0) return []
  const ids = new Set(report.lost.slice(0, limit).map((a) => a.id))
  const acked = new Map(history.publishes.filter((p) => ids.has(p.id)).map((p) => [p.id, p.completed_at]))
  return [...ids].map((id) => {
    const at = acked.get(id)
    if (at === undefined) return `${id}: not in the publishes`
    const faults = faultsInForce(history.faults, at).map(describeFault)
    return `${id} acked at ${Math.round(at)} ms, in force: ${faults.join('; ') || 'no fault'}`
  })
}

export interface SummaryInput {
  history: History
  report: CheckReport
  historyFile: string
  keptDir: string | null
}

export function formatSummary({history, report, historyFile, keptDir}: SummaryInput): string {
  const c = report.counts
  const meta = history.meta
  const failedFaults = history.faults.filter((f) => f.error).length
  const reconnects = history.subscribers.reduce((n, s) => n + s.reconnects, 0)
  const lines: string[] = []
  const verdict = report.valid ? 'PASS' : 'FAIL'
  lines.push(`chaos ${verdict}: seed ${meta.seed}, ${meta.nodes} nodes, ${Math.round(meta.duration_ms / 1000)} s of faults`)
  lines.push('')
  lines.push(`  publishes   ${number(c.publishes)} (attempts ${number(c.attempts)}): acked ${number(c.acks)}, failed ${number(c.failures)}, unknown ${number(c.unknowns)}`)
  lines.push(`  faults      ${number(c.faults)}${c.faults > 0 ? ` (${faultBreakdown(history)})` : ''}${failedFaults > 0 ? `, ${failedFaults} could not be injected` : ''}`)
  const membership = membershipLine(history)
  if (membership !== null) lines.push(`  membership  ${membership}`)
  const overlap = overlapLine(history)
  if (overlap !== null) lines.push(`  overlap     ${overlap}`)
  lines.push(`  elections   ${number(c.elections)}`)
  lines.push(`  stored      ${Object.entries(c.stored).map(([node, n]) => `node ${node}: ${number(n)}`).join(', ') || '(no node read)'}`)
  lines.push(`  delivered   ${number(c.delivered)} to ${history.subscribers.length} subscribers (${reconnects} reconnects)`)
  lines.push(`  converged   ${meta.converged ? 'yes' : 'NO'}`)
  if (meta.restore_error !== undefined) lines.push(`  restored    NO: ${meta.restore_error}`)
  lines.push('')
  const rows: [string, number, string][] = [
    ['lost', c.lost, 'acked, not stored at its offset on every node'],
    ['unexpected', c.unexpected, 'stored, never published (or failed)'],
    ['duplicated', c.duplicated, 'one publish stored twice'],
    ['divergent', c.divergent, 'nodes disagree at an offset, or a node has a gap'],
    ['subscriber anomalies', c.subscriber_anomalies, 'gap, reorder, duplicate, mismatch, incomplete'],
    ['reordered', c.reordered, 'acked before another was sent, stored after it'],
    ['split brain', c.split_brain, 'two leaders in one term'],
    ['recovered', c.recovered, 'unknown outcome, stored (allowed)'],
    ['unknown, not stored', c.unknown_not_stored, '(allowed)'],
  ]
  const width = Math.max(...rows.map((r) => r[0].length))
  const countWidth = Math.max(...rows.map((r) => number(r[1]).length))
  lines.push(`  ${'check'.padEnd(width)}  ${'count'.padStart(countWidth)}`)
  for (const [name, count, what] of rows) lines.push(`  ${name.padEnd(width)}  ${number(count).padStart(countWidth)}  ${what}`)
  const details = describeAnomalies(report)
  if (details.length > 0 || report.warnings.length > 0) {
    lines.push('')
    for (const line of details) lines.push(`  ${line}`)
    for (const line of lostContext(history, report)) lines.push(`  lost ${line}`)
    for (const warning of report.warnings.slice(0, 5)) lines.push(`  warning: ${warning}`)
  }
  lines.push('')
  lines.push(`history: ${historyFile}`)
  if (keptDir) lines.push(`cluster folder kept (node logs and data): ${keptDir}`)
  if (!report.valid) {
    lines.push(`replay:  ${meta.replay}`)
    lines.push(`inspect: pad-cli chaos --check ${historyFile}`)
  }
  return lines.join('\n')
}

/** `pad-cli chaos --json`: the verdict, what the run was, then the checker's counts and capped anomaly lists. */
export type ChaosSummary = {
  valid: boolean
  seed: number
  nodes: number
  duration_ms: number
  converged: boolean
  /** The history file. */
  history: string
  /** The command line that replays the run. */
  replay: string
  /** The cluster folder, when it was kept. */
  kept_dir: string | null
  /** Faults injected per family (partition, kill, pause, ...). */
  faults_by_kind: Record<string, number>
} & Omit<CheckReport, 'valid'>

/** The --json form: the verdict, the counts and the capped anomaly lists. */
export function summaryJson({history, report, historyFile, keptDir}: SummaryInput): ChaosSummary {
  const {valid, ...rest} = report
  return {
    valid,
    seed: history.meta.seed,
    nodes: history.meta.nodes,
    duration_ms: history.meta.duration_ms,
    converged: history.meta.converged,
    history: historyFile,
    replay: history.meta.replay,
    kept_dir: keptDir,
    faults_by_kind: Object.fromEntries(faultCounts(history)),
    ...rest,
  }
}

/** The command line that replays a run: the same flags, with the seed made explicit. */
export function replayCommand(bin: string, seed: number, argv: string[]): string {
  const kept: string[] = []
  const dropped = new Set(['--seed', '--history', '--dir', '--json', '--keep', '--quiet', '-q'])
  const valued = new Set(['--seed', '--history', '--dir'])
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    const name = arg.includes('=') ? arg.slice(0, arg.indexOf('=')) : arg
    if (dropped.has(name)) {
      if (valued.has(name) && !arg.includes('=')) i++
      continue
    }
    kept.push(/^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, "'\\''")}'`)
  }
  return [bin, 'chaos', '--seed', String(seed), ...kept].join(' ')
}
