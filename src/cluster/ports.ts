/**
 * The ports a cluster needs: node i listens on TCP base+i, HTTP base+i and Raft base+i.
 * Checked before anything starts, so `up` can say which port is taken instead of leaving
 * a half-started cluster behind.
 */
import net from 'node:net'
import {badArgument, ClusterError} from './errors.js'
import type {ClusterOptions} from './state.js'

export interface PortUse {
  port: number
  node: number
  kind: 'TCP' | 'HTTP' | 'Raft'
  flag: '--tcp-port' | '--http-port' | '--raft-port'
}

export function plannedPorts(options: ClusterOptions): PortUse[] {
  const kinds = [
    {kind: 'TCP', flag: '--tcp-port', base: options.tcp_port},
    {kind: 'HTTP', flag: '--http-port', base: options.http_port},
    {kind: 'Raft', flag: '--raft-port', base: options.raft_port},
  ] as const
  const uses: PortUse[] = []
  for (const {kind, flag, base} of kinds) {
    if (base < 1 || base + options.nodes - 1 > 65535) throw badArgument(`${flag} ${base}: ${options.nodes} nodes need ports ${base} to ${base + options.nodes - 1}, beyond 65535`)
    for (let node = 0; node < options.nodes; node++) uses.push({port: base + node, node, kind, flag})
  }
  const seen = new Map<number, PortUse>()
  for (const use of uses) {
    const other = seen.get(use.port)
    if (other) {
      throw badArgument(`port ${use.port} would serve both ${other.kind} of node ${other.node} and ${use.kind} of node ${use.node}: choose bases at least ${options.nodes} apart`)
    }
    seen.set(use.port, use)
  }
  return uses
}

/** True if nothing listens on host:port (we could bind it). */
export function portFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer()
    server.unref()
    server.once('error', () => resolve(false))
    server.listen({host, port, exclusive: true}, () => server.close(() => resolve(true)))
  })
}

/** Throws PORT_IN_USE naming every port that is taken. */
export async function checkPortsFree(options: ClusterOptions): Promise<void> {
  const uses = plannedPorts(options)
  const free = await Promise.all(uses.map((use) => portFree(options.host, use.port)))
  const taken = uses.filter((_, i) => !free[i])
  if (taken.length === 0) return
  const list = taken.map((t) => `${t.port} (${t.kind} of node ${t.node})`).join(', ')
  const flags = [...new Set(taken.map((t) => t.flag))].join(' / ')
  throw new ClusterError('PORT_IN_USE', `port${taken.length > 1 ? 's' : ''} ${list} on ${options.host} ${taken.length > 1 ? 'are' : 'is'} in use: choose other bases with ${flags}`)
}

/** The ports of one node (TCP, HTTP, Raft) that something else listens on. */
export async function nodePortsTaken(
  node: {host: string; tcp_port: number; http_port: number; raft_port: number},
  free: (host: string, port: number) => Promise<boolean> = portFree,
): Promise<{port: number; kind: PortUse['kind']}[]> {
  const uses = [
    {port: node.tcp_port, kind: 'TCP'},
    {port: node.http_port, kind: 'HTTP'},
    {port: node.raft_port, kind: 'Raft'},
  ] as const
  const taken = []
  for (const use of uses) if (!(await free(node.host, use.port))) taken.push(use)
  return taken
}
