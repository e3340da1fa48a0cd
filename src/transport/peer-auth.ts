/**
 * Who may speak on the Raft port: members that prove they know the cluster's secret.
 *
 * The handshake is challenge-response, so nothing a listener records can be replayed:
 *
 *   accepting side -> challenge: u8 version, 32-byte nonce (its own, fresh per connection)
 *   dialer         -> hello: JSON {v, card, nonce, mac}: the dialer's own fresh nonce and
 *                     HMAC(key, "hello", version, cluster, both indexes, card, both nonces)
 *   accepting side -> welcome: HMAC(key, "welcome", version, cluster, both indexes, both nonces)
 *
 * Each side checks the other's MAC in constant time before any other frame counts. The key
 * is derived from the secret, so a MAC here never doubles as anything the admin API accepts,
 * and each MAC names its direction so a hello can never be reflected back as a welcome.
 */
import crypto from 'node:crypto'
import net from 'node:net'

/** 2: the card names the dialer's Raft address (host, raft_port), so a member that joined can dial back. */
export const PROTOCOL_VERSION = 2
export const NONCE_BYTES = 32
const MAC_BYTES = 32
const MAX_NODE_ID_CHARS = 128
/** Printable characters only (no control, format or line-separator characters): safe in logs and dashboards. */
const NODE_ID = /^[^\p{C}\p{Zl}\p{Zp}]+$/u
/** A host name or an IP literal (IPv6 possibly bracketed, with a zone). */
const HOST = /^[A-Za-z0-9._:%[\]-]{1,253}$/
/** Node ids travel as u16 in Raft messages (message-codec.ts). */
export const MAX_PEER_ID = 0xffff

/** What a node tells its peers about itself when it connects. */
export interface NodeCard {
  index: number
  node_id: string
  /** Where it listens for Raft connections: a member that joined dials back there before it knows the directory. */
  host: string
  raft_port: number
  tcp_port: number
  http_port: number
  cluster: string
}

/** A key for the handshake MACs, derived once from the cluster's secret. */
export type PeerKey = Buffer & {readonly __peerKey: unique symbol}

export function peerKey(secret: string): PeerKey {
  return crypto.createHmac('sha256', secret).update('pad-cli raft peer authentication key').digest() as PeerKey
}

export function newNonce(): Buffer {
  return crypto.randomBytes(NONCE_BYTES)
}

/** The two ends of one connection, each with its fresh nonce. */
export interface HandshakeParties {
  cluster: string
  /** The dialer's member index and nonce. */
  dialer: number
  dialerNonce: Buffer
  /** The accepting member's index and nonce (sent in its challenge). */
  acceptor: number
  acceptorNonce: Buffer
}

function mac(key: PeerKey, direction: 'hello' | 'welcome', parties: HandshakeParties, card?: NodeCard): Buffer {
  const hmac = crypto.createHmac('sha256', key)
  // Every variable part is either fixed-length or free of newlines (the cluster name is hashed
  // to a fixed length), so no two different inputs make the same string.
  const cluster = crypto.createHash('sha256').update(parties.cluster).digest('hex')
  hmac.update(`pad-cli raft ${direction} v${PROTOCOL_VERSION}\n${cluster}\n${parties.dialer}\n${parties.acceptor}\n`)
  hmac.update(parties.acceptorNonce)
  hmac.update(parties.dialerNonce)
  if (card) hmac.update(`\n${card.node_id}\n${card.tcp_port}\n${card.http_port}\n${card.host}\n${card.raft_port}`)
  return hmac.digest()
}

function sameMac(expected: Buffer, given: Buffer): boolean {
  return given.length === expected.length && crypto.timingSafeEqual(expected, given)
}

export function encodeChallenge(nonce: Buffer): Buffer {
  return Buffer.concat([Buffer.from([PROTOCOL_VERSION]), nonce])
}

/** The acceptor's nonce, or a reason to refuse the connection. */
export function decodeChallenge(payload: Buffer): Buffer | string {
  if (payload.length !== 1 + NONCE_BYTES) return `challenge of ${payload.length} bytes`
  if (payload[0] !== PROTOCOL_VERSION) return `challenge for protocol version ${payload[0]}, this node speaks ${PROTOCOL_VERSION}`
  return Buffer.from(payload.subarray(1))
}

/** The dialer's hello: its card, its nonce, and its proof. */
export function encodeHello(key: PeerKey, card: NodeCard, acceptor: number, acceptorNonce: Buffer, dialerNonce: Buffer): Buffer {
  const parties: HandshakeParties = {cluster: card.cluster, dialer: card.index, dialerNonce, acceptor, acceptorNonce}
  const hello = {v: PROTOCOL_VERSION, card, nonce: dialerNonce.toString('hex'), mac: mac(key, 'hello', parties, card).toString('hex')}
  return Buffer.from(JSON.stringify(hello))
}

export interface AcceptorView {
  key: PeerKey
  self: NodeCard
  /**
   * The host the member directory lists for a node id (undefined for an id it does not hold:
   * a node joining, whose member entry this node has not applied yet, or any peer of a node that
   * has just joined). Such an id is accepted on its MAC alone, from the host its card names.
   */
  hostOf: (id: number) => string | undefined
  acceptorNonce: Buffer
  /** The address the connection comes from, as the socket reports it. */
  remoteAddress: string | undefined
}

/** Why a hello was refused, in a few fixed kinds: log lines are rate-limited per kind, whatever a stranger puts in its hello. */
export type HelloRefusal = 'malformed' | 'card' | 'address' | 'secret'

export type HelloVerdict = {ok: true; card: NodeCard; parties: HandshakeParties} | {ok: false; kind: HelloRefusal; reason: string}

/** Checks a hello on an accepted connection: well-formed, from a member, from its address, with a right MAC. */
export function verifyHello(view: AcceptorView, payload: Buffer): HelloVerdict {
  let raw: unknown
  try {
    raw = JSON.parse(payload.toString('utf8'))
  } catch {
    return {ok: false, kind: 'malformed', reason: 'malformed hello'}
  }
  if (!isRecord(raw) || raw.v !== PROTOCOL_VERSION) return {ok: false, kind: 'malformed', reason: 'hello of an unknown protocol version'}
  const card = parseCard(raw.card, view.self)
  if (typeof card === 'string') return {ok: false, kind: 'card', reason: card}
  const dialerNonce = hexBytes(raw.nonce, NONCE_BYTES)
  const given = hexBytes(raw.mac, MAC_BYTES)
  if (!dialerNonce || !given) return {ok: false, kind: 'malformed', reason: 'hello without a well-formed nonce and MAC'}
  if (dialerNonce.equals(view.acceptorNonce)) return {ok: false, kind: 'secret', reason: 'hello echoes our own nonce'}
  const host = view.hostOf(card.index) ?? card.host
  if (!addressMatches(host, view.remoteAddress)) {
    return {ok: false, kind: 'address', reason: `member ${card.index} must connect from ${host}, not ${String(view.remoteAddress)}`}
  }
  const parties: HandshakeParties = {cluster: view.self.cluster, dialer: card.index, dialerNonce, acceptor: view.self.index, acceptorNonce: view.acceptorNonce}
  if (!sameMac(mac(view.key, 'hello', parties, card), given)) return {ok: false, kind: 'secret', reason: 'wrong secret (hello MAC does not match)'}
  return {ok: true, card, parties}
}

export function encodeWelcome(key: PeerKey, parties: HandshakeParties): Buffer {
  return mac(key, 'welcome', parties)
}

export function verifyWelcome(key: PeerKey, parties: HandshakeParties, payload: Buffer): boolean {
  return sameMac(mac(key, 'welcome', parties), payload)
}

/**
 * A card as a peer sent it, checked field by field so that what /cluster shows of a member is
 * always an index, a short printable id and two ports; returns a reason when it is not that.
 */
export function parseCard(raw: unknown, self: NodeCard): NodeCard | string {
  if (!isRecord(raw)) return 'hello without a card'
  const {index, node_id: nodeId, tcp_port: tcpPort, http_port: httpPort, raft_port: raftPort, host, cluster} = raw
  if (cluster !== self.cluster) return `hello from another cluster (${JSON.stringify(String(cluster).slice(0, 64))})`
  if (!Number.isInteger(index) || (index as number) < 0 || (index as number) > MAX_PEER_ID || index === self.index) {
    return `hello from an unknown member index ${JSON.stringify(index)?.slice(0, 32)}`
  }
  if (typeof nodeId !== 'string' || nodeId.length > MAX_NODE_ID_CHARS || !NODE_ID.test(nodeId)) return 'hello with a node id that is not a short printable string'
  if (typeof host !== 'string' || !HOST.test(host)) return 'hello with a host that is not a host name or IP address'
  if (!isPort(tcpPort) || !isPort(httpPort) || !isPort(raftPort)) return 'hello with ports that are not integers in 1..65535'
  return {index: index as number, node_id: nodeId, host, raft_port: raftPort, tcp_port: tcpPort, http_port: httpPort, cluster: self.cluster}
}

function isPort(value: unknown): value is number {
  return Number.isInteger(value) && (value as number) >= 1 && (value as number) <= 65535
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function hexBytes(value: unknown, bytes: number): Buffer | null {
  if (typeof value !== 'string' || value.length !== bytes * 2 || !/^[0-9a-f]+$/.test(value)) return null
  return Buffer.from(value, 'hex')
}

/**
 * Whether a connection from `remote` may be the member listed at `host`: the same address for
 * an IP literal, any loopback address for a loopback host. A host name, or a wildcard address,
 * says nothing checkable about where the member dials from, so only its MAC counts.
 */
export function addressMatches(host: string, remote: string | undefined): boolean {
  const listed = host.replace(/^\[|\]$/g, '')
  if (isLoopback(listed)) return remote !== undefined && isLoopback(unmapped(remote))
  if (net.isIP(listed) === 0 || listed === '0.0.0.0' || listed === '::') return true
  if (remote === undefined) return false
  return canonicalIp(unmapped(listed)) === canonicalIp(unmapped(remote))
}

function isLoopback(address: string): boolean {
  return address === 'localhost' || address === '::1' || (net.isIPv4(address) && address.startsWith('127.'))
}

/** An IPv4 address as an IPv6 socket reports it (`::ffff:10.0.0.1`) is that IPv4 address. */
function unmapped(address: string): string {
  const match = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)
  return match ? match[1] : address
}

function canonicalIp(address: string): string {
  // One spelling per IPv6 address (lower case, zeros compressed), as the socket reports it.
  return net.isIPv6(address) ? new net.SocketAddress({address, family: 'ipv6'}).address : address
}
