/**
 * The cluster manager's view of a node: its HTTP API (GET /raft, /health, /messages,
 * /topics, the /admin endpoints) and its /events stream. Every request has a timeout: a
 * paused node never answers, and must not hang whoever asked.
 */
import http from 'node:http'
import type {RaftInfo} from '../api/node-http.js'
import {ClusterError} from './errors.js'

export interface NodeAddress {
  host: string
  http_port: number
}

/** GET /raft, as the node answers it. */
export type {RaftInfo}

export interface HttpAnswer {
  status: number
  json: Record<string, unknown>
}

const MAX_ANSWER_BYTES = 16 * 1024 * 1024

export function requestJson(
  node: NodeAddress,
  method: string,
  path: string,
  options: {body?: unknown; token?: string; timeoutMs?: number} = {},
): Promise<HttpAnswer> {
  const timeoutMs = options.timeoutMs ?? 2000
  const payload = options.body === undefined ? undefined : Buffer.from(JSON.stringify(options.body))
  const headers: Record<string, string | number> = {accept: 'application/json'}
  // The node takes state-changing requests only as JSON, with or without a body.
  if (payload || method !== 'GET') headers['content-type'] = 'application/json'
  if (payload) headers['content-length'] = payload.length
  if (options.token) headers.authorization = `Bearer ${options.token}`
  const where = `${method} http://${node.host}:${node.http_port}${path}`
  return new Promise((resolve, reject) => {
    const request = http.request({host: node.host, port: node.http_port, method, path, headers, agent: false}, (response) => {
      const chunks: Buffer[] = []
      let size = 0
      response.on('data', (chunk: Buffer) => {
        size += chunk.length
        if (size > MAX_ANSWER_BYTES) request.destroy(new Error('answer too large'))
        else chunks.push(chunk)
      })
      response.on('end', () => {
        clearTimeout(timer)
        const text = Buffer.concat(chunks).toString('utf8')
        let json: Record<string, unknown>
        try {
          json = text === '' ? {} : (JSON.parse(text) as Record<string, unknown>)
        } catch {
          reject(new ClusterError('NODE_API', `${where}: the answer is not JSON (status ${response.statusCode})`))
          return
        }
        resolve({status: response.statusCode ?? 0, json})
      })
      response.on('error', (error) => {
        clearTimeout(timer)
        reject(new ClusterError('NODE_API', `${where}: ${error.message}`))
      })
    })
    const timer = setTimeout(() => request.destroy(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs)
    request.on('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer)
      const why = error.code === 'ECONNREFUSED' ? 'connection refused' : error.message
      reject(new ClusterError('NODE_API', `${where}: ${why}`))
    })
    request.end(payload)
  })
}

/** The answer's JSON when the status is 2xx; otherwise an error with the node's message. */
export async function callJson<T = Record<string, unknown>>(
  node: NodeAddress,
  method: string,
  path: string,
  options: {body?: unknown; token?: string; timeoutMs?: number} = {},
): Promise<T> {
  const answer = await requestJson(node, method, path, options)
  if (answer.status < 200 || answer.status > 299) {
    const error = answer.json.error as {code?: string; message?: string} | undefined
    throw new ClusterError('NODE_API', `${method} ${path} on ${node.host}:${node.http_port}: ${error?.message ?? `status ${answer.status}`}`)
  }
  return answer.json as T
}

export function getRaft(node: NodeAddress, timeoutMs = 1000): Promise<RaftInfo> {
  return callJson<RaftInfo>(node, 'GET', '/raft', {timeoutMs})
}

/**
 * Follows a node's /events stream (Server-Sent Events) and calls `onEvent` with each
 * event's type and data. Returns a function that closes the stream. `onEnd` is called once
 * when the stream ends or fails (not when closed by the returned function).
 */
export function followEvents(
  node: NodeAddress,
  onEvent: (type: string, data: Record<string, unknown>) => void,
  onEnd: (error: Error | null) => void,
  connectTimeoutMs = 2000,
): () => void {
  let closed = false
  let ended = false
  const end = (error: Error | null): void => {
    if (ended || closed) return
    ended = true
    onEnd(error)
  }
  const request = http.request(
    {host: node.host, port: node.http_port, method: 'GET', path: '/events', headers: {accept: 'text/event-stream'}, agent: false},
    (response) => {
      clearTimeout(timer)
      if (response.statusCode !== 200) {
        response.resume()
        end(new Error(`/events answered ${response.statusCode}`))
        return
      }
      response.setEncoding('utf8')
      let buffer = ''
      response.on('data', (chunk: string) => {
        buffer += chunk
        let split: number
        while ((split = buffer.indexOf('\n\n')) !== -1) {
          const block = buffer.slice(0, split)
          buffer = buffer.slice(split + 2)
          const parsed = parseSseBlock(block)
          if (parsed) onEvent(parsed.type, parsed.data)
        }
        if (buffer.length > 1024 * 1024) request.destroy(new Error('event too large'))
      })
      response.on('end', () => end(null))
      response.on('error', (error) => end(error))
      response.on('close', () => end(null))
    },
  )
  const timer = setTimeout(() => request.destroy(new Error('no answer')), connectTimeoutMs)
  request.on('error', (error) => {
    clearTimeout(timer)
    end(error)
  })
  request.end()
  return () => {
    closed = true
    clearTimeout(timer)
    request.destroy()
  }
}

/** One SSE block (`event:` and `data:` lines) -> its type and JSON data; null for comments. */
export function parseSseBlock(block: string): {type: string; data: Record<string, unknown>} | null {
  let type = 'message'
  const data: string[] = []
  for (const line of block.split('\n')) {
    if (line.startsWith(':') || line === '') continue
    const colon = line.indexOf(':')
    const field = colon === -1 ? line : line.slice(0, colon)
    const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '')
    if (field === 'event') type = value
    else if (field === 'data') data.push(value)
  }
  if (data.length === 0) return null
  try {
    return {type, data: JSON.parse(data.join('\n')) as Record<string, unknown>}
  } catch {
    return null
  }
}
