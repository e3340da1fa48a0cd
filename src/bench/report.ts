/**
 * What `pad-cli bench` prints: the JSON rows (the peers' fields, plus the run's) and the
 * text a person reads (a table of the load phases; one line per failover and a summary).
 */
import type {CatchupKind, CatchupResult, CatchupRun} from './catchup.js'
import type {FailoverResult} from './failover.js'
import type {LoadResult} from './publish-load.js'
import type {RunInfo} from './run-info.js'
import {median} from './stats.js'

export type LoadPhaseName = 'pub-sync' | 'pub-window'

/** One load phase as `bench --json` prints it. */
export type LoadRow = {system: 'pad-cli'; phase: LoadPhaseName; replicas: number} & LoadResult & {warmup: number; elections: number} & RunInfo

/** `bench --mode catchup --json`: one row for the whole run. */
export type CatchupRow = {system: 'pad-cli'} & CatchupResult & RunInfo

/**
 * One failover as `bench --mode failover --json` prints it: the leader SIGKILLed, or with
 * --power-cut powered off (what it had not fsynced dropped, then restarted by the supervisor);
 * back_s is from the cut until the cut node serves again and every node has applied all that
 * is committed (null for a kill, whose restart is not part of the measure).
 */
export type FailoverRow = {system: 'pad-cli'; replicas: number; fault: 'kill' | 'power-cut'} & FailoverResult & {back_s: number | null} & RunInfo

export interface FailoverSummary {
  system: 'pad-cli'
  phase: 'failover-summary'
  replicas: number
  kills: number
  gap_s_min: number | null
  gap_s_median: number | null
  gap_s_max: number | null
  /** Power cuts only: from the cut until the node is back and caught up. */
  back_s_min: number | null
  back_s_median: number | null
  back_s_max: number | null
  acked_all_stored: boolean
}

export function failoverSummary(rows: readonly FailoverRow[], replicas: number, info: RunInfo): FailoverSummary & RunInfo {
  const gaps = rows.map((r) => r.gap_s).filter((g): g is number => g !== null)
  const backs = rows.map((r) => r.back_s).filter((b): b is number => b !== null)
  return {
    system: 'pad-cli',
    phase: 'failover-summary',
    replicas,
    kills: rows.length,
    gap_s_min: gaps.length > 0 ? Math.min(...gaps) : null,
    gap_s_median: median(gaps),
    gap_s_max: gaps.length > 0 ? Math.max(...gaps) : null,
    back_s_min: backs.length > 0 ? Math.min(...backs) : null,
    back_s_median: median(backs),
    back_s_max: backs.length > 0 ? Math.max(...backs) : null,
    acked_all_stored: rows.every((r) => r.acked_all_stored),
    ...info,
  }
}

export function failoverLine(run: number, of: number, r: FailoverRow): string {
  const back = r.fault === 'power-cut' ? ` · back ${r.back_s ?? '-'} s` : ''
  return `${r.fault} ${run}/${of}: ${r.killed} · gap ${r.gap_s ?? '-'} s${back} · acked ${r.acked}/${r.sent} · errors ${r.errors} · all acked stored: ${r.acked_all_stored}`
}

export function failoverSummaryLine(s: FailoverSummary): string {
  const back = s.back_s_median === null ? '' : ` · back after the cut: min ${s.back_s_min} s · median ${s.back_s_median} s · max ${s.back_s_max} s`
  return `failover gap over ${s.kills} kill(s): min ${s.gap_s_min} s · median ${s.gap_s_median} s · max ${s.gap_s_max} s${back} · every acked message stored: ${s.acked_all_stored}`
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

const MB = 1024 * 1024

export function fillLine(fill: LoadResult): string {
  const capped = fill.capped ? ' (capped by --duration)' : ''
  return `fill: ${fill.acked.toLocaleString('en-US')} messages of ${fill.size} B in ${fill.elapsed_s} s: ${fill.msgs_per_s.toLocaleString('en-US')} msgs/s, ${fill.errors} errors${capped}`
}

/** One catch-up as the text output gives it. */
export function catchupLine(what: CatchupKind, r: CatchupRun): string {
  const time = r.catchup_ms === null ? 'did NOT catch up within the bound' : `caught up in ${(r.catchup_ms / 1000).toFixed(2)} s (${r.entries_per_s?.toLocaleString('en-US')} entries/s; serving after ${(r.start_ms / 1000).toFixed(2)} s)`
  const bytes = r.bytes_sent === null ? 'bytes sent unknown' : `${(r.bytes_sent / MB).toFixed(1)} MB sent by the leader`
  const peak = Math.max(0, ...r.peak_rss_bytes.map((v) => v ?? 0))
  const snapshots = r.snapshots_installed === null ? '' : ` · ${r.snapshots_installed} snapshot(s) installed`
  return `${what} (node ${r.node}, ${r.behind_entries.toLocaleString('en-US')} entries behind): ${time} · ${bytes} · publish p99 ${r.publish_p99_ms} ms (${r.published} acked, ${r.publish_errors} errors) · ${r.elections} election(s) · peak RSS ${(peak / MB).toFixed(0)} MB${snapshots}`
}

/** The disk and memory figures as the text output gives them. */
export function catchupDiskLine(r: CatchupResult): string {
  const perNode = r.disk_bytes.map((b, i) => `node ${i} ${(b / MB).toFixed(1)} MB`).join(', ')
  const ratio = r.disk_bytes_per_message === null ? 'no messages stored' : `${r.disk_bytes_per_message} B per stored message, ${r.disk_ratio_to_payload}x the payload of ${r.payload_bytes_per_message} B`
  const rss = r.max_rss_bytes === null ? '' : ` · peak RSS ${(r.max_rss_bytes / MB).toFixed(0)} MB`
  return `disk: ${ratio} (${perNode}; ${r.messages_stored.join('/')} messages stored)${rss}`
}
