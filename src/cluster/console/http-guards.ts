/**
 * The web console's defences at the HTTP edge: it listens on 127.0.0.1 only, but a web page
 * of any origin can make the browser send requests there, and a DNS-rebound name can make
 * them look same-origin. So: the Host header must name 127.0.0.1 or localhost at our port
 * (a rebound name does not), a write must not come from another origin (Origin and
 * Sec-Fetch-Site, when the browser sends them), and a write must carry the cluster token.
 */
import crypto from 'node:crypto'
import type http from 'node:http'

/** The Host header is ours: 127.0.0.1:<port> or localhost:<port> (the console listens on 127.0.0.1 only). */
export function hostAllowed(request: http.IncomingMessage, port: number): boolean {
  const host = request.headers.host
  return host === `127.0.0.1:${port}` || host === `localhost:${port}`
}

/** Nothing says the request comes from another origin (a browser sends Origin on every POST, and Sec-Fetch-Site). */
export function sameOrigin(request: http.IncomingMessage, port: number): boolean {
  const origin = request.headers.origin
  if (origin !== undefined && origin !== `http://127.0.0.1:${port}` && origin !== `http://localhost:${port}`) return false
  const site = request.headers['sec-fetch-site']
  return site === undefined || site === 'same-origin' || site === 'none'
}

/** `Authorization: Bearer <token>`, compared in constant time (digests of equal length). */
export function tokenMatches(request: http.IncomingMessage, token: string): boolean {
  const header = request.headers.authorization
  if (typeof header !== 'string' || !header.startsWith('Bearer ')) return false
  const digest = (text: string): Buffer => crypto.createHash('sha256').update(text).digest()
  return crypto.timingSafeEqual(digest(header.slice('Bearer '.length)), digest(token))
}

/** A request refused with an HTTP status and a code for the error body. */
export class HttpRefusal extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message)
  }
}

/** The whole body as UTF-8, at most `maxBytes` (413 past that) and within `timeoutMs` (408). */
export function readBody(request: http.IncomingMessage, maxBytes: number, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const declared = Number(request.headers['content-length'])
    if (Number.isFinite(declared) && declared > maxBytes) {
      reject(new HttpRefusal(413, 'TOO_LARGE', `a body is at most ${maxBytes} bytes`))
      return
    }
    const chunks: Buffer[] = []
    let size = 0
    let done = false
    const finish = (error: HttpRefusal | null): void => {
      if (done) return
      done = true
      clearTimeout(timer)
      request.removeAllListeners('data')
      if (error) {
        // Stop reading what is left; the answer closes the connection.
        request.pause()
        reject(error)
      } else resolve(Buffer.concat(chunks).toString('utf8'))
    }
    const timer = setTimeout(() => finish(new HttpRefusal(408, 'TIMEOUT', `no whole body within ${timeoutMs} ms`)), timeoutMs)
    request.on('data', (chunk: Buffer) => {
      size += chunk.length
      if (size > maxBytes) finish(new HttpRefusal(413, 'TOO_LARGE', `a body is at most ${maxBytes} bytes`))
      else chunks.push(chunk)
    })
    request.on('end', () => finish(null))
    request.on('error', () => finish(new HttpRefusal(400, 'BAD_REQUEST', 'the request broke off')))
  })
}

/** The body as a JSON object (400 otherwise); the content type must say JSON, which also forces a cross-origin page into a preflight we never grant. */
export function parseJsonObject(request: http.IncomingMessage, body: string): Record<string, unknown> {
  const type = request.headers['content-type'] ?? ''
  if (!/^application\/json\s*(;|$)/i.test(type)) throw new HttpRefusal(415, 'BAD_REQUEST', 'send Content-Type: application/json')
  let value: unknown
  try {
    value = JSON.parse(body)
  } catch {
    throw new HttpRefusal(400, 'BAD_REQUEST', 'the body is not JSON')
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new HttpRefusal(400, 'BAD_REQUEST', 'the body must be a JSON object')
  return value as Record<string, unknown>
}
