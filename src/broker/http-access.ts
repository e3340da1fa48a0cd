/**
 * Who may talk to the HTTP API, judged from the request's own headers.
 *
 * Host: a page on another site can point its own domain name at this node's address (DNS
 * rebinding) and then read or write as if it were local; its requests still carry that
 * domain in Host, so only the node's own names are answered.
 *
 * Origin: state-changing requests (every method but GET) from a browser page are accepted
 * only from the cluster's own pages (any member's http://<host>:<http port>) and the origins
 * given with --cors-origin. Reads stay open to every origin: the dashboards of other members
 * read them.
 */
import net from 'node:net'
import os from 'node:os'

/** A member's HTTP address as this node knows it. */
export interface HttpAddress {
  host: string
  httpPort: number
}

export interface HttpAccessOptions {
  /** The address the node listens on (--host). */
  host: string
  httpPort: number
  /** Origins besides the cluster's own whose pages may send state-changing requests. */
  corsOrigins: string[]
}

const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '::1']

export function isLoopbackHost(host: string): boolean {
  const name = bare(host)
  return name === 'localhost' || name === '::1' || (net.isIPv4(name) && name.startsWith('127.'))
}

export function isWildcardHost(host: string): boolean {
  const name = bare(host)
  return name === '0.0.0.0' || name === '::'
}

/** The host name of a Host header value (`name`, `name:port`, `[v6]`, `[v6]:port`), lower case; null if malformed. */
export function hostOfHeader(value: string): string | null {
  const text = value.trim().toLowerCase()
  const match = /^(\[[0-9a-f:.]+\]|[a-z0-9._-]+)(?::(\d{1,5}))?$/.exec(text)
  if (!match) return null
  return bare(match[1])
}

/** Whether `name` (a host name without port or brackets) is one of the names of a node listening on `listenHost`. */
export function isNameOf(name: string, listenHost: string): boolean {
  const host = bare(listenHost).toLowerCase()
  if (name === host) return true
  if (isLoopbackHost(host)) return LOOPBACK_NAMES.includes(name) || (net.isIPv4(name) && name.startsWith('127.'))
  if (isWildcardHost(host)) return net.isIP(name) !== 0 || name === 'localhost' || name === os.hostname().toLowerCase()
  return false
}

/** One line of warning for a node listening on an address other hosts can reach; null for loopback. */
export function exposureWarning(host: string): string | null {
  if (isLoopbackHost(host)) return null
  return `--host ${host} is not loopback: the client TCP port, the HTTP API and the Raft port are all reachable there; peers authenticate with the cluster secret, but clients and the HTTP API's reads do not`
}

/** The normalized form of an origin given on the command line; throws if it is not one. */
export function normalizeOrigin(origin: string): string {
  let url: URL
  try {
    url = new URL(origin)
  } catch {
    throw new Error(`--cors-origin ${JSON.stringify(origin)} is not an origin: give scheme, host and port, e.g. http://localhost:3000`)
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.origin !== origin.replace(/\/$/, '').toLowerCase()) {
    throw new Error(`--cors-origin ${JSON.stringify(origin)} is not an origin: give scheme, host and port only, e.g. http://localhost:3000`)
  }
  return url.origin
}

export class HttpAccess {
  private readonly corsOrigins: Set<string>

  constructor(
    private readonly options: HttpAccessOptions,
    /** The other members' HTTP addresses as far as they are known (they are learned on connect). */
    private readonly members: () => HttpAddress[],
  ) {
    this.corsOrigins = new Set(options.corsOrigins.map(normalizeOrigin))
  }

  /** Whether a request with this Host header is meant for this node; no header (HTTP/1.0) passes. */
  hostAllowed(header: string | undefined): boolean {
    if (header === undefined) return true
    const name = hostOfHeader(header)
    return name !== null && isNameOf(name, this.options.host)
  }

  /** Whether a page of this origin may send state-changing requests. */
  originAllowed(origin: string): boolean {
    if (this.corsOrigins.has(origin)) return true
    let url: URL
    try {
      url = new URL(origin)
    } catch {
      return false
    }
    if (url.protocol !== 'http:' || url.origin !== origin || url.port === '') return false
    const port = Number(url.port)
    const name = bare(url.hostname)
    const addresses = [{host: this.options.host, httpPort: this.options.httpPort}, ...this.members()]
    return addresses.some((a) => a.httpPort === port && isNameOf(name, a.host))
  }
}

function bare(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host
}
