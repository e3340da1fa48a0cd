import {PassThrough} from 'node:stream'
import blessed from 'blessed'
import type {ClusterStatus, NodeStatus} from '../../src/cluster/status.js'

/** A blessed screen of `columns` x `rows` that writes nowhere visible. */
export function fakeScreen(columns = 80, rows = 24): blessed.Widgets.Screen {
  const output = Object.assign(new PassThrough(), {columns, rows, isTTY: true})
  output.resume()
  const input = Object.assign(new PassThrough(), {isTTY: true, setRawMode: () => input})
  return blessed.screen({input, output, terminal: 'xterm', warnings: false, smartCSR: false} as unknown as blessed.Widgets.IScreenOptions)
}

/** Row `y` of the screen as text. */
export function lineText(screen: blessed.Widgets.Screen, y: number): string {
  const lines = (screen as unknown as {lines: [number, string][][]}).lines
  return (lines[y] ?? []).map((cell) => cell[1]).join('')
}

export function screenText(screen: blessed.Widgets.Screen): string[] {
  const rows = screen.height as number
  return Array.from({length: rows}, (_, y) => lineText(screen, y))
}

/** The attribute word of a cell (blessed packs flags << 18 | fg << 9 | bg). */
export function cellFg(screen: blessed.Widgets.Screen, x: number, y: number): number {
  const lines = (screen as unknown as {lines: [number, string][][]}).lines
  return (lines[y][x][0] >> 9) & 0x1ff
}

export function node(index: number, fields: Partial<NodeStatus> = {}): NodeStatus {
  return {
    index,
    node_id: `node-${index}`,
    membership: 'voter',
    pid: 1000 + index,
    process: 'running',
    exit_code: null,
    exit_signal: null,
    crash_log: [],
    restart_at: null,
    role: 'FOLLOWER',
    term: 2,
    commit_index: 10,
    last_applied: 10,
    log_length: 10,
    first_index: 1,
    snapshot_index: 0,
    disk_bytes: 65_536,
    snapshots_sent: 0,
    snapshots_installed: 0,
    corrupt: null,
    lag: 0,
    leader_index: 0,
    host: '127.0.0.1',
    tcp_port: 4000 + index,
    http_port: 7000 + index,
    raft_port: 6000 + index,
    faults: [],
    data_dir: `/tmp/x/node-${index}`,
    log_file: `/tmp/x/node-${index}/node.log`,
    ...fields,
  }
}

export function status(nodes: NodeStatus[], leader: number | null = 0): ClusterStatus {
  return {cluster: 'default', leader, term: 2, supervisor_pid: 999, membership: null, nodes}
}
