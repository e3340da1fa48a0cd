/**
 * The plan of a cluster in network namespaces (`up --netns`): names and addresses, worked out
 * here without I/O so they can be tested; netns.ts makes them real with `ip`.
 *
 * One cluster gets a short id (6 hex digits of a hash of its folder, so the same name under two
 * PAD_HOMEs differs) and one private /24, 10.88.<octet>.0/24, recorded in cluster.json:
 *
 *   bridge      pad<id>          in the root namespace, holding the host's address <net>.1
 *   namespace   pad-<id>-<i>     node i's own network stack: lo, and eth0 at <net>.<i + 2>
 *   veth        pad<id>n<i>      node i's cable, from its eth0 to the bridge
 *
 * Interface names must fit the kernel's 15 characters (IFNAMSIZ 16 with the NUL): the longest
 * here, pad<6>n<3 digits>, has 13. No default route anywhere: a node reaches only the addresses
 * of its /24 (its peers and the host), and nothing is forwarded or translated.
 */
import crypto from 'node:crypto'
import net from 'node:net'

/** What cluster.json keeps about a cluster's network (ClusterOptions.netns). */
export interface NetnsRecord {
  /** 6 hex digits naming the bridge, namespaces and veths. */
  id: string
  /** The third octet of 10.88.<octet>.0/24. */
  octet: number
  /** The same /24 in words, for whoever reads cluster.json. */
  subnet: string
}

const PREFIX = '10.88'
/** Node i's address ends in i + 2 (.1 is the host's); the last usable one is .254. */
export const MAX_NETNS_NODES = 253

export function netnsId(clusterDir: string): string {
  return crypto.createHash('sha256').update(clusterDir).digest('hex').slice(0, 6)
}

export function netnsRecord(id: string, octet: number): NetnsRecord {
  return {id, octet, subnet: subnetOf(octet)}
}

export function subnetOf(octet: number): string {
  return `${PREFIX}.${octet}.0/24`
}

export function bridgeName(record: Pick<NetnsRecord, 'id'>): string {
  return `pad${record.id}`
}

export function namespaceName(record: Pick<NetnsRecord, 'id'>, index: number): string {
  return `pad-${record.id}-${index}`
}

export function vethName(record: Pick<NetnsRecord, 'id'>, index: number): string {
  return `pad${record.id}n${index}`
}

/** The host's address on the bridge (the supervisor and every client reach the nodes from it). */
export function hostAddress(record: Pick<NetnsRecord, 'octet'>): string {
  return `${PREFIX}.${record.octet}.1`
}

export function nodeAddress(record: Pick<NetnsRecord, 'octet'>, index: number): string {
  if (!Number.isInteger(index) || index < 0 || index >= MAX_NETNS_NODES) throw new Error(`node ${index} has no address in ${subnetOf(record.octet)}: a cluster in namespaces holds nodes 0 to ${MAX_NETNS_NODES - 1}`)
  return `${PREFIX}.${record.octet}.${index + 2}`
}

/** A record read from cluster.json, checked: its fields end up in `ip` arguments. */
export function checkNetnsRecord(value: unknown): NetnsRecord | null {
  if (typeof value !== 'object' || value === null) return null
  const {id, octet} = value as Record<string, unknown>
  if (typeof id !== 'string' || !/^[0-9a-f]{6}$/.test(id)) return null
  if (typeof octet !== 'number' || !Number.isInteger(octet) || octet < 0 || octet > 255) return null
  return netnsRecord(id, octet)
}

/** An IPv4 network as `a.b.c.d/len`. */
export interface Cidr {
  base: number
  bits: number
}

export function parseCidr(text: string): Cidr | null {
  const [address, len = '32'] = text.split('/')
  if (!net.isIPv4(address) || !/^\d{1,2}$/.test(len) || Number(len) > 32) return null
  const bits = Number(len)
  const value = address.split('.').reduce((acc, part) => acc * 256 + Number(part), 0)
  const mask = bits === 0 ? 0 : 2 ** 32 - 2 ** (32 - bits)
  return {base: maskOf(value, mask), bits}
}

function maskOf(value: number, mask: number): number {
  // 32-bit AND without the sign trouble of `&` on numbers above 2^31.
  return Number(BigInt(value) & BigInt(mask))
}

/** Whether two networks share an address (one holds the other). */
export function overlaps(a: Cidr, b: Cidr): boolean {
  const bits = Math.min(a.bits, b.bits)
  const mask = bits === 0 ? 0 : 2 ** 32 - 2 ** (32 - bits)
  return maskOf(a.base, mask) === maskOf(b.base, mask)
}

/**
 * The octet of this cluster's /24: the one it had (`previous`) if it is still free, else the
 * first free one from a start its id picks (so two clusters rarely even try the same one).
 * `inUse` are the networks of the host's addresses and routes, the default route (0.0.0.0/0)
 * left out; `own` are those of this cluster's bridge (a leftover of its own is no conflict).
 * Null when all 256 are taken.
 */
export function pickOctet(id: string, inUse: Cidr[], previous: number | null): number | null {
  const taken = inUse.filter((c) => c.bits > 0)
  const free = (octet: number): boolean => {
    const mine = parseCidr(subnetOf(octet))!
    return !taken.some((c) => overlaps(c, mine))
  }
  if (previous !== null && free(previous)) return previous
  const start = parseInt(id, 16) % 256
  for (let k = 0; k < 256; k++) {
    const octet = (start + k) % 256
    if (free(octet)) return octet
  }
  return null
}

/**
 * After two `up`s picked the same /24 at the same time, both see the other's bridge holding it:
 * the one whose bridge name sorts first keeps it, the other picks again.
 */
export function keepsSubnet(mine: string, others: string[]): boolean {
  return others.every((other) => mine < other)
}

/**
 * The routes one node's namespace must hold for a partition: one per peer it is cut from (a
 * /32 to that peer's address). `cutPeers` are the peer indexes.
 */
export function cutRoutes(record: Pick<NetnsRecord, 'octet'>, cutPeers: Iterable<number>): string[] {
  return [...new Set(cutPeers)].sort((a, b) => a - b).map((peer) => `${nodeAddress(record, peer)}/32`)
}

/** What to add and delete to go from the routes a namespace holds to those it must. */
export function routeChanges(current: string[], wanted: string[]): {add: string[]; remove: string[]} {
  const have = new Set(current.map(normalRoute))
  const want = new Set(wanted.map(normalRoute))
  return {add: [...want].filter((r) => !have.has(r)), remove: [...have].filter((r) => !want.has(r))}
}

/** `ip -j route` prints a /32 as a bare address. */
function normalRoute(route: string): string {
  return route.includes('/') ? route : `${route}/32`
}
