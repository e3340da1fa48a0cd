/**
 * The supervisor's control API: one JSON request per connection on a Unix socket in the
 * cluster folder, answered by one JSON line.
 *
 *   > {"op":"kill","node":"leader"}
 *   < {"ok":true,"node":1,"pid":4242,"exit":{"code":null,"signal":"SIGKILL"}}
 *   < {"ok":false,"error":{"code":"NODE_STATE","message":"node 1 is not running"}}
 *
 * The socket is created under umask 077 in a directory only its owner may enter (see
 * layout.ts), so there is no moment when anyone else could connect.
 */
import fs from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import {NodeHttpError} from '../client/node-http-client.js'
import {ClusterError, type ClusterErrorCode} from './errors.js'

export type ControlRequest = {op: string; [field: string]: unknown}
export type ControlHandler = (request: ControlRequest) => Promise<Record<string, unknown>>

const MAX_REQUEST_BYTES = 64 * 1024

export class ControlServer {
  private readonly server: net.Server

  constructor(
    private readonly socketPath: string,
    handler: ControlHandler,
  ) {
    this.server = net.createServer((socket) => {
      let buffer = ''
      socket.setEncoding('utf8')
      socket.on('error', () => {})
      socket.on('data', (chunk: string) => {
        buffer += chunk
        if (buffer.length > MAX_REQUEST_BYTES) {
          socket.destroy()
          return
        }
        const newline = buffer.indexOf('\n')
        if (newline === -1) return
        const line = buffer.slice(0, newline)
        buffer = ''
        socket.pause()
        void answer(line, handler).then((reply) => socket.end(JSON.stringify(reply) + '\n'))
      })
    })
  }

  /** Listens; a stale socket file (no one listening) is removed first. */
  async listen(): Promise<void> {
    if (fs.existsSync(this.socketPath)) {
      if (await isListening(this.socketPath)) throw new ClusterError('ALREADY_UP', `another supervisor answers on ${this.socketPath}`)
      fs.rmSync(this.socketPath, {force: true})
    }
    const parent = path.dirname(this.socketPath)
    fs.mkdirSync(parent, {recursive: true, mode: 0o700})
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject)
      // The socket file is made by bind() inside listen(), with the mode the umask leaves.
      const umask = process.umask(0o077)
      try {
        this.server.listen(this.socketPath, () => {
          this.server.off('error', reject)
          resolve()
        })
      } finally {
        process.umask(umask)
      }
    })
  }

  /** Stops accepting connections; requests already in progress still get their answer. */
  close(): Promise<void> {
    this.server.close()
    fs.rmSync(this.socketPath, {force: true})
    return Promise.resolve()
  }
}

async function answer(line: string, handler: ControlHandler): Promise<Record<string, unknown>> {
  let request: ControlRequest
  try {
    request = JSON.parse(line) as ControlRequest
    if (typeof request !== 'object' || request === null || typeof request.op !== 'string') throw new Error('no op')
  } catch {
    return {ok: false, error: {code: 'BAD_ARGUMENT', message: 'a request is one JSON object with an "op"'}}
  }
  try {
    return {ok: true, ...(await handler(request))}
  } catch (error) {
    const code = error instanceof ClusterError ? error.code : error instanceof NodeHttpError ? 'NODE_API' : 'SUPERVISOR'
    return {ok: false, error: {code, message: (error as Error).message}}
  }
}

/** True if something accepts connections on the socket. */
export function isListening(socketPath: string, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(socketPath)
    const done = (value: boolean): void => {
      clearTimeout(timer)
      socket.destroy()
      resolve(value)
    }
    const timer = setTimeout(() => done(false), timeoutMs)
    socket.once('connect', () => done(true))
    socket.once('error', () => done(false))
  })
}

/** Sends one request to the supervisor and returns its answer; throws ClusterError on `ok: false`. */
export function controlRequest<T = Record<string, unknown>>(socketPath: string, request: ControlRequest, timeoutMs = 10_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(socketPath)
    let buffer = ''
    let settled = false
    const finish = (error: Error | null, value?: T): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      socket.destroy()
      if (error) reject(error)
      else resolve(value!)
    }
    const timer = setTimeout(
      () => finish(new ClusterError('TIMEOUT', `the supervisor did not answer "${request.op}" within ${Math.round(timeoutMs / 1000)} s`)),
      timeoutMs,
    )
    socket.setEncoding('utf8')
    socket.once('connect', () => socket.write(JSON.stringify(request) + '\n'))
    socket.on('data', (chunk: string) => {
      buffer += chunk
      const newline = buffer.indexOf('\n')
      if (newline === -1) return
      let reply: {ok: boolean; error?: {code: ClusterErrorCode; message: string}}
      try {
        reply = JSON.parse(buffer.slice(0, newline)) as typeof reply
      } catch {
        finish(new ClusterError('SUPERVISOR', 'the supervisor answered something that is not JSON'))
        return
      }
      if (reply.ok) {
        const {ok: _ok, ...rest} = reply
        finish(null, rest as T)
      } else {
        finish(new ClusterError(reply.error?.code ?? 'SUPERVISOR', reply.error?.message ?? 'the supervisor refused'))
      }
    })
    socket.on('error', (error: NodeJS.ErrnoException) => {
      const why = error.code === 'ENOENT' || error.code === 'ECONNREFUSED' ? 'it is not listening' : error.message
      finish(new ClusterError('NOT_UP', `cannot reach the supervisor on ${socketPath}: ${why}`))
    })
    socket.on('close', () => finish(new ClusterError('SUPERVISOR', `the supervisor closed the connection before answering "${request.op}"`)))
  })
}
