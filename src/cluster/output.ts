/**
 * How the cluster commands print: aligned tables, the node table of `up` and `status`,
 * colored per-node prefixes (only on a terminal, and never with NO_COLOR).
 */
import type {RouteChange} from '../api/control.js'
import {describeFaults, describeProcess, type ClusterStatus} from './status.js'

const COLORS = [36, 35, 33, 32, 34, 31, 96, 95, 93, 92, 94, 91]

export function useColor(stream: NodeJS.WriteStream = process.stdout): boolean {
  if (process.env.NO_COLOR !== undefined && process.env.NO_COLOR !== '') return false
  if (process.env.FORCE_COLOR !== undefined && process.env.FORCE_COLOR !== '0') return true
  return stream.isTTY === true
}

export function paint(text: string, code: number, color: boolean): string {
  return color ? `\u001B[${code}m${text}\u001B[0m` : text
}

/** `node1 | ` in the node's own color. */
export function nodePrefix(index: number | string, width: number, color: boolean): string {
  const label = typeof index === 'number' ? `node${index}` : index
  const code = typeof index === 'number' ? COLORS[index % COLORS.length] : 90
  return paint(`${label.padEnd(width)} |`, code, color) + ' '
}

export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd()
  return [line(header), ...rows.map(line)].join('\n')
}

export function statusTable(status: ClusterStatus): string {
  const header = ['NODE', 'ID', 'MEMBER', 'PID', 'PROCESS', 'ROLE', 'TERM', 'COMMIT', 'APPLIED', 'LOG', 'FIRST', 'LAG', 'TCP', 'HTTP', 'RAFT', 'FAULTS']
  const rows = status.nodes.map((n) => {
    return [
      String(n.index),
      n.node_id,
      n.membership.toUpperCase(),
      n.pid === null ? '-' : String(n.pid),
      describeProcess(n),
      n.corrupt ? 'corrupt' : (n.role ?? '-'),
      num(n.term),
      num(n.commit_index),
      num(n.last_applied),
      num(n.log_length),
      num(n.first_index),
      num(n.lag),
      String(n.tcp_port),
      String(n.http_port),
      String(n.raft_port),
      describeFaults(n.faults) || '-',
    ]
  })
  const leader = status.leader === null ? 'no leader' : `leader: node ${status.leader} (${status.nodes[status.leader].node_id}), term ${status.term}`
  return [`cluster "${status.cluster}": ${leader}${durabilityNote(status)}`, table(header, rows), ...status.nodes.flatMap(crashNotes), ...status.nodes.flatMap(corruptNotes)].join('\n')
}

/** After the leader: whether the data dirs are lazy layers, and the warning of a node that does not fsync. */
export function durabilityNote(status: Pick<ClusterStatus, 'lazy_fs' | 'unsafe_no_fsync'>): string {
  const parts: string[] = []
  if (status.lazy_fs === true) parts.push('data on the lazy layer (power-cut works)')
  if (status.unsafe_no_fsync === true) parts.push('UNSAFE: nodes do not fsync (--unsafe-no-fsync), a power cut loses acknowledged messages')
  return parts.map((p) => `; ${p}`).join('')
}

/** Under the table, for a node that found its data corrupt: what, and the way back. */
function corruptNotes(node: ClusterStatus['nodes'][number]): string[] {
  if (!node.corrupt) return []
  return ['', `node ${node.index} found its data corrupt: ${node.corrupt.file}: ${node.corrupt.reason}`, `  it takes no part in Raft; rebuild it from the leader with pad-cli repair ${node.index}`]
}

/** Under the table, for a crashed node: when it restarts, and the end of its log. */
function crashNotes(node: ClusterStatus['nodes'][number]): string[] {
  if (node.process !== 'crashed') return []
  const restart = node.restart_at === null ? '' : `; restarts at ${node.restart_at.slice(11, 19)}`
  const log = node.crash_log ?? []
  const head = `node ${node.index} crashed${restart}; ${log.length > 0 ? `the end of ${node.log_file}:` : `nothing in ${node.log_file}`}`
  return ['', head, ...log.map((line) => `  | ${line}`)]
}

function num(value: number | null): string {
  return value === null ? '-' : String(value)
}

/**
 * What a partition or heal did in the kernel of a cluster in network namespaces, one line per
 * node whose routes changed: `node 0: unreachable 10.88.7.3, 10.88.7.4 (removed 10.88.7.5)`.
 */
export function routeLines(routes: RouteChange[]): string[] {
  const bare = (list: string[]): string => list.map((r) => r.replace(/\/32$/, '')).join(', ')
  return routes.map((r) => {
    const parts = [r.added.length > 0 ? `unreachable ${bare(r.added)}` : '', r.removed.length > 0 ? `removed ${bare(r.removed)}` : ''].filter((p) => p !== '')
    return `  node ${r.node}: ${parts.join('; ')}`
  })
}
