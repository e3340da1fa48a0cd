/**
 * What `pad-cli bench` prints: the JSON rows (the peers' fields, plus the run's) and the
 * text a person reads (a table of the load phases; one line per failover and a summary).
 */
import type {FailoverResult} from './failover.js'
import type {LoadResult} from './publish-load.js'
import type {RunInfo} from './run-info.js'
import {median} from './stats.js'

export type LoadPhaseName = 'pub-sync' | 'pub-window'

/** One load phase as `bench --json` prints it. */
export type LoadRow = {system: 'pad-cli'; phase: LoadPhaseName; replicas: number} & LoadResult & {warmup: number; elections: number} & RunInfo

/** One failover as `bench --mode failover --json` prints it. */
export type FailoverRow = {system: 'pad-cli'; replicas: number} & FailoverResult & RunInfo

export interface FailoverSummary {
  system: 'pad-cli'
  phase: 'failover-summary'
  replicas: number
  kills: number
  gap_s_min: number | null
  gap_s_median: number | null
  gap_s_max: number | null
  acked_all_stored: boolean
}

export function failoverSummary(rows: readonly FailoverResult[], replicas: number, info: RunInfo): FailoverSummary & RunInfo {
  const gaps = rows.map((r) => r.gap_s).filter((g): g is number => g !== null)
  return {
    system: 'pad-cli',
    phase: 'failover-summary',
    replicas,
    kills: rows.length,
    gap_s_min: gaps.length > 0 ? Math.min(...gaps) : null,
    gap_s_median: median(gaps),
    gap_s_max: gaps.length > 0 ? Math.max(...gaps) : null,
    acked_all_stored: rows.every((r) => r.acked_all_stored),
    ...info,
  }
}

export function failoverLine(run: number, of: number, r: FailoverResult): string {
  return `kill ${run}/${of}: ${r.killed} · gap ${r.gap_s ?? '-'} s · acked ${r.acked}/${r.sent} · errors ${r.errors} · all acked stored: ${r.acked_all_stored}`
}

export function failoverSummaryLine(s: FailoverSummary): string {
  return `failover gap over ${s.kills} kill(s): min ${s.gap_s_min} s · median ${s.gap_s_median} s · max ${s.gap_s_max} s · every acked message stored: ${s.acked_all_stored}`
}

/** The run's machine and commit, under the text output, as every JSON row has them. */
export function runInfoLine(info: RunInfo): string {
  const commit = info.commit ? `commit ${info.commit.slice(0, 12)}` : 'not a git checkout'
  const fsync = info.fsync_ms === null ? 'fsync not measured' : `fsync ${info.fsync_ms} ms (${info.fsync_dir})`
  return `${info.server} · ${commit} · ${info.cores} cores · ${fsync}`
}

export function loadTable(rows: readonly LoadRow[]): string {
  const header = ['phase', 'replicas', 'size', 'window', 'acked', 'errors', 'msgs/s', 'p50 ms', 'p99 ms', 'max ms', 'client cpu s', 'elections']
  const lines = rows.map((r) => [
    r.phase + (r.capped ? ' (capped)' : ''),
    String(r.replicas),
    String(r.size),
    String(r.window),
    String(r.acked),
    String(r.errors),
    r.msgs_per_s.toLocaleString('en-US'),
    r.p50_ms.toFixed(3),
    r.p99_ms.toFixed(3),
    r.max_ms.toFixed(3),
    r.client_cpu_s.toFixed(2),
    String(r.elections),
  ])
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)))
  const format = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ')
  return [format(header), ...lines.map(format)].join('\n')
}
