/**
 * A cluster's network namespaces, made real with iproute2's `ip` (netns-plan.ts has the names
 * and addresses). Root only. Every call is synchronous and short (a few `ip` commands of a
 * few milliseconds each): the supervisor spawns a node synchronously, and a partition must be
 * in the kernel before the request that asked for it answers.
 *
 * Partitions are cut here, not in the nodes: each cut link a-b becomes an `unreachable` route
 * to b's address in a's namespace and one to a's in b's. This kernel has no nftables and no
 * netem, and a route is the narrowest cut the stock kernel has: only that peer, only from that
 * namespace, the supervisor and clients (on the bridge's address) still reach every node, as
 * with the transport filter. Of the route types, `unreachable` is the closest to a link that
 * stopped carrying packets: nothing reaches the wire either way (a locally sent packet on any
 * of them is dropped before it leaves, no ICMP is sent), an established TCP connection just
 * stalls and retransmits, and a new connect fails with EHOSTUNREACH, what a host on the same
 * LAN that stopped answering ARP gives (only sooner). `blackhole` fails it with EINVAL, which
 * reads like a bug in the caller; `prohibit` with EACCES, a firewall's answer, not a cut.
 */
import type {RouteChange} from '../api/control.js'
import {execFileSync} from 'node:child_process'
import fs from 'node:fs'
import {ClusterError} from './errors.js'
import {
  bridgeName,
  cutRoutes,
  hostAddress,
  keepsSubnet,
  namespaceName,
  netnsRecord,
  nodeAddress,
  overlaps,
  parseCidr,
  pickOctet,
  routeChanges,
  subnetOf,
  vethName,
  type Cidr,
  type NetnsRecord,
} from './netns-plan.js'

const IP_TIMEOUT_MS = 10_000
/** How often `claimSubnet` picks again after losing a /24 to a concurrent `up`. */
const CLAIM_ATTEMPTS = 8

/** Why --netns cannot run here (not root, no `ip` with namespaces), or null when it can. */
export function netnsUnavailable(): string | null {
  if (process.platform !== 'linux') return '--netns needs Linux network namespaces'
  if (process.getuid?.() !== 0) return '--netns needs root: it makes network namespaces, veth pairs and a bridge (ip netns, ip link); run it as root, or without --netns'
  try {
    ip(['netns', 'list'])
  } catch (error) {
    return `--netns needs iproute2's ip with network namespaces, and \`ip netns list\` failed: ${(error as Error).message}`
  }
  return null
}

/** Throws the reason --netns cannot run here, if there is one. */
export function requireNetns(): void {
  const reason = netnsUnavailable()
  if (reason) throw new ClusterError('NETNS', reason)
}

/**
 * Makes this cluster's bridge and gives it a /24 no address or route of the host overlaps:
 * the one it had (`previous`) when still free. Two `up`s that picked the same /24 at once see
 * each other's bridge holding it afterwards; the one whose bridge sorts first keeps it.
 */
export function claimSubnet(id: string, previous: number | null): NetnsRecord {
  const bridge = bridgeName({id})
  const lost: Cidr[] = []
  for (let attempt = 0; attempt < CLAIM_ATTEMPTS; attempt++) {
    const octet = pickOctet(id, [...hostNetworks(bridge), ...lost], attempt === 0 ? previous : null)
    if (octet === null) throw new ClusterError('NETNS', `no free /24 in 10.88.0.0/16 for the bridge: every one overlaps an address or route of this host`)
    const record = netnsRecord(id, octet)
    ensureBridge(record)
    const rivals = holdersOf(parseCidr(subnetOf(octet))!, bridge)
    if (keepsSubnet(bridge, rivals)) return record
    ip(['addr', 'flush', 'dev', bridge])
    lost.push(parseCidr(subnetOf(octet))!)
  }
  throw new ClusterError('NETNS', `could not claim a /24 for the bridge ${bridge}: other clusters kept taking the same one`)
}

/** The bridge with exactly the host's address on it, up (made if missing). */
export function ensureBridge(record: NetnsRecord): void {
  const bridge = bridgeName(record)
  if (!linkExists(bridge)) {
    ip(['link', 'add', bridge, 'type', 'bridge'])
    // No IPv6 link-local address: nothing but the cluster's IPv4 addresses is on these links.
    ip(['link', 'set', bridge, 'addrgenmode', 'none'])
  }
  const want = `${hostAddress(record)}/24`
  const have = addressesOf(bridge)
  if (have.length !== 1 || have[0] !== want) {
    ip(['addr', 'flush', 'dev', bridge])
    ip(['addr', 'add', want, 'dev', bridge])
  }
  ip(['link', 'set', bridge, 'up'])
}

/**
 * Node `index`'s namespace, with lo up and its veth from eth0 (at its address, no default
 * route) to the bridge. Kept when it is already there (a restarted node gets the same one, cuts
 * and all); a half-made one is made again.
 */
export function ensureNodeNetwork(record: NetnsRecord, index: number): void {
  const ns = namespaceName(record, index)
  const veth = vethName(record, index)
  if (namespaceExists(ns) && linkExists(veth)) return
  if (namespaceExists(ns)) ip(['netns', 'delete', ns])
  if (linkExists(veth)) ip(['link', 'delete', veth])
  ip(['netns', 'add', ns])
  ip(['link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns])
  ip(['link', 'set', veth, 'addrgenmode', 'none'])
  ip(['link', 'set', veth, 'master', bridgeName(record), 'up'])
  ip(['-n', ns, 'link', 'set', 'eth0', 'addrgenmode', 'none'])
  ip(['-n', ns, 'addr', 'add', `${nodeAddress(record, index)}/24`, 'dev', 'eth0'])
  ip(['-n', ns, 'link', 'set', 'lo', 'up'])
  ip(['-n', ns, 'link', 'set', 'eth0', 'up'])
}

/** The command that runs `command args` in node `index`'s namespace (`ip netns exec` execs it: the pid is the node's). */
export function inNamespace(record: NetnsRecord, index: number, command: string, args: string[]): {command: string; args: string[]} {
  return {command: 'ip', args: ['netns', 'exec', namespaceName(record, index), command, ...args]}
}

/**
 * Gives each member's namespace an unreachable route to each peer it is cut from, and no
 * other: `cuts.get(i)` are node i's cut peers. Namespaces not made yet are skipped (the node
 * never ran; it gets its routes at the next change). Returns what changed.
 */
export function applyCuts(record: NetnsRecord, members: number[], cuts: Map<number, number[]>): RouteChange[] {
  const changes: RouteChange[] = []
  for (const node of members) {
    const ns = namespaceName(record, node)
    if (!namespaceExists(ns)) continue
    const current = unreachableRoutes(ns)
    const {add, remove} = routeChanges(current, cutRoutes(record, cuts.get(node) ?? []))
    if (add.length === 0 && remove.length === 0) continue
    const batch = [...remove.map((r) => `route del unreachable ${r}`), ...add.map((r) => `route add unreachable ${r}`)]
    ip(['-n', ns, '-batch', '-'], batch.join('\n') + '\n')
    changes.push({node, added: add, removed: remove})
  }
  return changes
}

/**
 * What there is of cluster `id`: its namespaces (found by name, so also those of nodes
 * cluster.json no longer lists), any veth left outside them, and its bridge.
 */
export function networkOf(id: string): {namespaces: string[]; links: string[]} {
  const mine = new RegExp(`^pad-${id}-\\d+$`)
  const bridge = bridgeName({id})
  const veth = new RegExp(`^pad${id}n\\d+$`)
  return {namespaces: namespaces().filter((n) => mine.test(n)).sort(), links: links().filter((l) => veth.test(l) || l === bridge).sort()}
}

/** Removes everything of cluster `id` (`networkOf`); returns the names removed. Deleting a namespace takes its veth pair with it. */
export function removeNetwork(id: string): string[] {
  const removed: string[] = []
  for (const ns of networkOf(id).namespaces) {
    ip(['netns', 'delete', ns])
    removed.push(ns)
  }
  for (const link of networkOf(id).links) {
    try {
      ip(['link', 'delete', link])
    } catch (error) {
      // A node's veth goes with its namespace, which the kernel tears down in the background:
      // listed a moment ago, gone now, is removed all the same.
      if (!(error instanceof ClusterError && /Cannot find device/.test(error.message))) throw error
    }
    removed.push(link)
  }
  return removed
}

/** The namespace a process runs in, by name (`ip netns identify`), or null if it is in none of the named ones. */
export function namespaceOf(pid: number): string | null {
  const name = ip(['netns', 'identify', String(pid)]).trim()
  return name === '' ? null : name
}

// -----------------------------------------------------------------------------------------

function ip(args: string[], input?: string): string {
  try {
    return execFileSync('ip', args, {encoding: 'utf8', input, timeout: IP_TIMEOUT_MS, stdio: ['pipe', 'pipe', 'pipe']})
  } catch (error) {
    const e = error as {stderr?: string; message: string}
    const why = (e.stderr ?? '').trim().split('\n')[0] || e.message
    throw new ClusterError('NETNS', `ip ${args.join(' ')}: ${why}`)
  }
}

function json<T>(args: string[]): T[] {
  const text = ip(['-j', ...args]).trim()
  if (text === '') return []
  const value = JSON.parse(text) as unknown
  return Array.isArray(value) ? (value as T[]) : []
}

function namespaceExists(ns: string): boolean {
  return fs.existsSync(`/run/netns/${ns}`)
}

function namespaces(): string[] {
  return json<{name?: unknown}>(['netns', 'list']).flatMap((n) => (typeof n.name === 'string' ? [n.name] : []))
}

function links(): string[] {
  return json<{ifname?: unknown}>(['link', 'show']).flatMap((l) => (typeof l.ifname === 'string' ? [l.ifname] : []))
}

function linkExists(name: string): boolean {
  return links().includes(name)
}

function addressesOf(link: string): string[] {
  return json<{addr_info?: {local?: string; prefixlen?: number}[]}>(['-4', 'addr', 'show', 'dev', link]).flatMap((l) => (l.addr_info ?? []).map((a) => `${a.local}/${a.prefixlen}`))
}

/** The networks of the host's IPv4 addresses and routes, except those on `except` (our own bridge). */
function hostNetworks(except: string): Cidr[] {
  const found: Cidr[] = []
  for (const l of json<{ifname?: string; addr_info?: {local?: string; prefixlen?: number}[]}>(['-4', 'addr', 'show'])) {
    if (l.ifname === except) continue
    for (const a of l.addr_info ?? []) {
      const cidr = parseCidr(`${a.local}/${a.prefixlen}`)
      if (cidr) found.push(cidr)
    }
  }
  for (const r of json<{dst?: string; dev?: string}>(['-4', 'route', 'show', 'table', 'all'])) {
    if (r.dev === except || r.dst === undefined || r.dst === 'default') continue
    const cidr = parseCidr(r.dst)
    if (cidr) found.push(cidr)
  }
  return found
}

/** Other interfaces holding an address in `net` (another cluster's bridge that picked it at the same time). */
function holdersOf(net: Cidr, except: string): string[] {
  const holders: string[] = []
  for (const l of json<{ifname?: string; addr_info?: {local?: string; prefixlen?: number}[]}>(['-4', 'addr', 'show'])) {
    if (l.ifname === except || typeof l.ifname !== 'string') continue
    const nets = (l.addr_info ?? []).flatMap((a) => parseCidr(`${a.local}/${a.prefixlen}`) ?? [])
    if (nets.some((n) => overlaps(n, net))) holders.push(l.ifname)
  }
  return holders
}

function unreachableRoutes(ns: string): string[] {
  return json<{dst?: unknown}>(['-n', ns, 'route', 'show', 'type', 'unreachable']).flatMap((r) => (typeof r.dst === 'string' ? [r.dst] : []))
}
